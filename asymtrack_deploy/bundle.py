"""The deployment bundle: model files plus a ``manifest.json`` that says how to run them.

A bundle is a folder. The model files stay exactly what their runtime expects (ONNX graphs,
OpenVINO IR, TensorRT engines, and the fp32 ONNX graphs a converted bundle was made from, role
``source_onnx``); everything else lives in the manifest, so a C or C++ program can run the graphs
without this package: the input sizes and crop factors, the tracker's rules outside the graphs
(crop, map back, clip: ``tracker``), the colour order and normalisation (done inside the graphs),
every input and output name with its shape and dtype, which template-state tensors pass from the
template graph to the search graph, the target, precision and batch, the arithmetic a runtime
must use, and sha256 digests of every file and of the source checkpoint. The manifest itself is
not hashed: its rules can be edited (``tracker.clip.margin``) and every runtime follows them.

Layout of ``manifest.json`` (schema version 2; every field: ``docs/manifest.md``)::

    schema_version, created_utc, toolkit_version
    model        {name, variant, template_size, search_size, template_factor, search_factor}
    preprocess   {color_order, layout, dtype, scale, mean, std, in_graph}
    postprocess  {box_format, box_normalized_by, score_range}
    tracker      {crop, map_back, clip, outputs}: the tracker's rules (``tracker_spec.TrackerRules``)
    target, precision, batch, opset
    inference    {arithmetic, openvino_precision_hint}  (``tracker_spec.InferenceSpec``)
    graphs       {"template"|"search": {files: {role: filename}, inputs: [tensor], outputs: [tensor]}}
    state        [tensor]      template-graph outputs that are search-graph inputs, in order
    files        {filename: {sha256, bytes}}   every file of the bundle
    source       {checkpoint, checkpoint_sha256, random_weights, seed}
    export       free-form facts about how the files were made (exporter, simplifier...)
    parity       the export's own parity figures against the PyTorch reference
    runtime      target-specific facts (the converter's library version, TensorRT's GPU...), {} for onnx
    calibration  the int8 calibration record, or null

where a tensor is ``{name, shape, dtype}`` with a numpy dtype name. A graph's ``files`` maps a
role ("onnx", "openvino_xml", "tensorrt_engine"...) to a file name, so later targets add roles
without a schema change. Standard library only: the runtimes read bundles with this module.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import os
import re
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .interrupted_writes import leftovers, restore_replaced
from .tracker_spec import InferenceSpec, TrackerRules

__all__ = [
    "MANIFEST_NAME",
    "SCHEMA_VERSION",
    "GRAPH_NAMES",
    "Bundle",
    "FileRecord",
    "GraphSpec",
    "Manifest",
    "ModelSpec",
    "Preprocess",
    "SourceSpec",
    "TensorSpec",
    "file_sha256",
    "load_bundle",
    "write_manifest",
]

MANIFEST_NAME = "manifest.json"
SCHEMA_VERSION = 2  # 2: the tracker and inference sections
GRAPH_NAMES = ("template", "search")
_DTYPES = ("uint8", "int8", "int32", "int64", "float16", "float32")
SIZE_RANGE = (1, 4096)  # model.template_size, model.search_size (pixels)
FACTOR_RANGE = (1e-3, 1e3)  # model.template_factor, model.search_factor
# each variant's (template, search) crop sides: the shapes that tell a variant's graphs apart (tiny
# and small differ only in depth, which no shape shows). models.asymtrack builds from this table;
# the C library (runtime-c/src/at_manifest.c) keeps a copy.
VARIANT_CROP_SIZES: dict[str, tuple[int, int]] = {"tiny": (128, 256), "small": (128, 256), "base": (192, 384)}


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks (engines and checkpoints can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------
# Typed sections. Each has ``to_dict`` and a ``from_dict`` that raises ValueError on bad input.
# --------------------------------------------------------------------------------------------


def _need(data: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    """One required field of the right JSON type, or a ValueError saying which and why."""
    if not isinstance(data, dict):
        raise ValueError(f"manifest: {where} must be an object, got {type(data).__name__}")
    if key not in data:
        raise ValueError(f"manifest: {where} lacks the field {key!r}")
    value = data[key]
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise ValueError(f"manifest: {where}.{key} must be {_kind_name(kind)}, got a boolean")
    if not isinstance(value, kind):
        raise ValueError(f"manifest: {where}.{key} must be {_kind_name(kind)}, got {type(value).__name__}")
    return value


def _kind_name(kind) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)


@dataclass(frozen=True)
class TensorSpec:
    """One graph input or output: name, static shape and numpy dtype name."""

    name: str
    shape: tuple[int, ...]
    dtype: str

    def to_dict(self) -> dict:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}

    @classmethod
    def from_dict(cls, data: Any, where: str) -> "TensorSpec":
        name = _need(data, "name", str, where)
        shape = _need(data, "shape", list, where)
        if not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape):
            raise ValueError(f"manifest: {where}.shape must be positive integers (static shapes), got {shape}")
        dtype = _need(data, "dtype", str, where)
        if dtype not in _DTYPES:
            raise ValueError(f"manifest: {where}.dtype {dtype!r} is not one of {', '.join(_DTYPES)}")
        return cls(name, tuple(shape), dtype)


@dataclass(frozen=True)
class GraphSpec:
    """One network graph: its files by role and its named inputs and outputs, in order."""

    files: dict[str, str]
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

    def input(self, name: str) -> TensorSpec:
        return _by_name(self.inputs, name, "input")

    def output(self, name: str) -> TensorSpec:
        return _by_name(self.outputs, name, "output")

    def to_dict(self) -> dict:
        return {
            "files": dict(self.files),
            "inputs": [t.to_dict() for t in self.inputs],
            "outputs": [t.to_dict() for t in self.outputs],
        }

    @classmethod
    def from_dict(cls, data: Any, where: str) -> "GraphSpec":
        files = _need(data, "files", dict, where)
        if not files or not all(isinstance(v, str) for v in files.values()):
            raise ValueError(f"manifest: {where}.files must map roles to file names, got {files!r}")
        inputs = _need(data, "inputs", list, where)
        outputs = _need(data, "outputs", list, where)
        return cls(
            dict(files),
            tuple(TensorSpec.from_dict(t, f"{where}.inputs[{i}]") for i, t in enumerate(inputs)),
            tuple(TensorSpec.from_dict(t, f"{where}.outputs[{i}]") for i, t in enumerate(outputs)),
        )


def _by_name(tensors: tuple[TensorSpec, ...], name: str, what: str) -> TensorSpec:
    for t in tensors:
        if t.name == name:
            return t
    raise KeyError(f"no {what} named {name!r}; have {', '.join(t.name for t in tensors)}")


@dataclass(frozen=True)
class ModelSpec:
    """Which network and the crop geometry the tracker must use with it."""

    variant: str
    template_size: int
    search_size: int
    template_factor: float
    search_factor: float
    name: str = "AsymTrack"

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "variant": self.variant,
            "template_size": self.template_size,
            "search_size": self.search_size,
            "template_factor": self.template_factor,
            "search_factor": self.search_factor,
        }

    @classmethod
    def from_dict(cls, data: Any) -> "ModelSpec":
        return cls(
            variant=_need(data, "variant", str, "model"),
            template_size=_in_range(data, "template_size", int, SIZE_RANGE),
            search_size=_in_range(data, "search_size", int, SIZE_RANGE),
            template_factor=float(_in_range(data, "template_factor", (int, float), FACTOR_RANGE)),
            search_factor=float(_in_range(data, "search_factor", (int, float), FACTOR_RANGE)),
            name=data.get("name", "AsymTrack"),
        )

    def check_variant(self) -> None:
        """The variant agrees with the crop sizes, which the graph's inputs are checked against
        (the manifest's here, the graph files' own at a backend's load): an edited variant would
        make ``info`` and every report name the wrong network."""
        sizes = VARIANT_CROP_SIZES.get(self.variant)
        if sizes is None:
            raise ValueError(f"manifest: model.variant {self.variant!r} is not one of {', '.join(VARIANT_CROP_SIZES)}")
        if sizes != (self.template_size, self.search_size):
            fits = [v for v, s in VARIANT_CROP_SIZES.items() if s == (self.template_size, self.search_size)]
            raise ValueError(
                f"manifest: model.variant {self.variant!r} takes {sizes[0]} / {sizes[1]} pixel crops, but the graphs "
                f"take {self.template_size} / {self.search_size} ({' or '.join(fits) or 'no known variant'}): "
                "the manifest was edited or belongs to other graphs; re-export the bundle")


def _in_range(data: Any, key: str, kind, limits: tuple[float, float]) -> Any:
    """A ``model`` number within ``limits`` (NaN never is): a crop size or factor out of range
    would track garbage or ask for gigabytes. The C library checks the same ranges."""
    value = _need(data, key, kind, "model")
    if not limits[0] <= value <= limits[1]:
        raise ValueError(f"manifest: model.{key} must be in [{limits[0]:g}, {limits[1]:g}], got {value!r}")
    return value


@dataclass(frozen=True)
class Preprocess:
    """What the graphs expect as image input. With ``in_graph`` the cast, ``* scale``,
    ``(x - mean) / std`` and NHWC -> NCHW all happen inside the graphs: feed raw crops."""

    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    color_order: str = "rgb"
    layout: str = "NHWC"
    dtype: str = "uint8"
    scale: float = 1.0 / 255.0
    in_graph: bool = True

    def to_dict(self) -> dict:
        return {
            "color_order": self.color_order,
            "layout": self.layout,
            "dtype": self.dtype,
            "scale": self.scale,
            "mean": list(self.mean),
            "std": list(self.std),
            "in_graph": self.in_graph,
        }

    @classmethod
    def from_dict(cls, data: Any) -> "Preprocess":
        w = "preprocess"
        mean, std = _need(data, "mean", list, w), _need(data, "std", list, w)
        numbers = [v for v in (*mean, *std) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]
        if len(mean) != 3 or len(std) != 3 or len(numbers) != 6:
            raise ValueError(f"manifest: preprocess.mean and .std need 3 finite numbers each, got {mean} and {std}")
        fixed = {key: _need(data, key, type(value), w) for key, value in _GRAPH_INPUT.items()}
        for key, value in fixed.items():
            if value != _GRAPH_INPUT[key]:
                raise ValueError(f"manifest: preprocess.{key} {value!r} is not supported: the graphs take "
                                 "RGB uint8 NHWC crops and normalise them inside (what the tracker feeds)")
        return cls(
            mean=tuple(float(v) for v in mean),
            std=tuple(float(v) for v in std),
            scale=float(_need(data, "scale", (int, float), w)),
            **fixed,
        )


# what every bundle's graphs take (the tracker feeds nothing else; the C library refuses the rest)
_GRAPH_INPUT = {"color_order": "rgb", "layout": "NHWC", "dtype": "uint8", "in_graph": True}


@dataclass(frozen=True)
class SourceSpec:
    """Where the weights came from: a checkpoint (name and digest) or seeded random weights."""

    checkpoint: str | None
    checkpoint_sha256: str | None
    random_weights: bool = False
    seed: int | None = None

    def to_dict(self) -> dict:
        return {
            "checkpoint": self.checkpoint,
            "checkpoint_sha256": self.checkpoint_sha256,
            "random_weights": self.random_weights,
            "seed": self.seed,
        }

    @classmethod
    def from_dict(cls, data: Any) -> "SourceSpec":
        if not isinstance(data, dict):
            raise ValueError(f"manifest: source must be an object, got {type(data).__name__}")
        return cls(
            checkpoint=data.get("checkpoint"),
            checkpoint_sha256=data.get("checkpoint_sha256"),
            random_weights=bool(data.get("random_weights", False)),
            seed=data.get("seed"),
        )


@dataclass(frozen=True)
class FileRecord:
    sha256: str
    bytes: int

    def to_dict(self) -> dict:
        return {"sha256": self.sha256, "bytes": self.bytes}


@dataclass(frozen=True)
class Manifest:
    """The whole manifest, typed. Free-form sections (``export``, ``parity``, ``runtime``,
    ``calibration``) stay dicts: later targets fill them without a schema change."""

    model: ModelSpec
    preprocess: Preprocess
    target: str
    precision: str
    batch: int
    opset: int | None
    graphs: dict[str, GraphSpec]
    state: tuple[TensorSpec, ...]
    source: SourceSpec
    toolkit_version: str
    files: dict[str, FileRecord] = field(default_factory=dict)
    export: dict = field(default_factory=dict)
    parity: dict = field(default_factory=dict)
    runtime: dict = field(default_factory=dict)
    calibration: dict | None = None
    created_utc: str = ""
    postprocess: dict = field(
        default_factory=lambda: {
            "box_format": "cx,cy,w,h",
            "box_normalized_by": "search_size",
            "score_range": [0.0, 1.0],
        }
    )
    schema_version: int = SCHEMA_VERSION
    tracker: TrackerRules = field(default_factory=TrackerRules)
    # None: the precision's standard rule (InferenceSpec.for_precision), so a derived bundle made
    # with ``replace(manifest, precision=...)`` gets its own precision's rule
    inference_override: InferenceSpec | None = None

    @property
    def inference(self) -> InferenceSpec:
        return self.inference_override or InferenceSpec.for_precision(self.precision)

    @property
    def variant(self) -> str:
        return self.model.variant

    def graph(self, name: str) -> GraphSpec:
        if name not in self.graphs:
            raise KeyError(f"the bundle has no {name!r} graph; it has {', '.join(self.graphs)}")
        return self.graphs[name]

    @property
    def state_names(self) -> list[str]:
        return [t.name for t in self.state]

    def to_dict(self) -> dict:
        return {
            "schema_version": self.schema_version,
            "created_utc": self.created_utc,
            "toolkit_version": self.toolkit_version,
            "model": self.model.to_dict(),
            "preprocess": self.preprocess.to_dict(),
            "postprocess": dict(self.postprocess),
            "tracker": self.tracker.to_dict(),
            "target": self.target,
            "precision": self.precision,
            "inference": self.inference.to_dict(),
            "batch": self.batch,
            "opset": self.opset,
            "graphs": {name: g.to_dict() for name, g in self.graphs.items()},
            "state": [t.to_dict() for t in self.state],
            "files": {name: rec.to_dict() for name, rec in self.files.items()},
            "source": self.source.to_dict(),
            "export": dict(self.export),
            "parity": dict(self.parity),
            "runtime": dict(self.runtime),
            "calibration": self.calibration,
        }

    @classmethod
    def from_dict(cls, data: Any) -> "Manifest":
        if not isinstance(data, dict):
            raise ValueError(f"manifest: the top level must be an object, got {type(data).__name__}")
        _check_schema_version(data)
        graphs = _need(data, "graphs", dict, "manifest")
        precision = _need(data, "precision", str, "manifest")
        inference = InferenceSpec.from_dict(data.get("inference"))
        return cls(
            tracker=TrackerRules.from_dict(_need(data, "tracker", dict, "manifest")),
            inference_override=None if inference == InferenceSpec.for_precision(precision) else inference,
            model=ModelSpec.from_dict(_need(data, "model", dict, "manifest")),
            preprocess=Preprocess.from_dict(_need(data, "preprocess", dict, "manifest")),
            postprocess=dict(data.get("postprocess") or {}),
            target=_need(data, "target", str, "manifest"),
            precision=precision,
            batch=_need(data, "batch", int, "manifest"),
            opset=data.get("opset"),
            graphs={name: GraphSpec.from_dict(g, f"graphs.{name}") for name, g in graphs.items()},
            state=tuple(
                TensorSpec.from_dict(t, f"state[{i}]") for i, t in enumerate(_need(data, "state", list, "manifest"))
            ),
            source=SourceSpec.from_dict(data.get("source", {})),
            toolkit_version=_need(data, "toolkit_version", str, "manifest"),
            files=_files_from_dict(_need(data, "files", dict, "manifest")),
            export=dict(data.get("export") or {}),
            parity=dict(data.get("parity") or {}),
            runtime=dict(data.get("runtime") or {}),
            calibration=data.get("calibration"),
            created_utc=str(data.get("created_utc", "")),
        )

    def check_consistent(self) -> None:
        """Cross-field rules: both graphs present, every graph file recorded, state names
        being template outputs and search inputs, batch matching the shapes."""
        if self.batch < 1:
            raise ValueError(f"manifest: batch must be at least 1, got {self.batch}")
        for name in GRAPH_NAMES:
            if name not in self.graphs:
                raise ValueError(f"manifest: no {name!r} graph (graphs: {', '.join(self.graphs) or 'none'})")
        for gname, g in self.graphs.items():
            self._check_graph(gname, g)
        template_out = {t.name: t for t in self.graphs["template"].outputs}
        search_in = {t.name: t for t in self.graphs["search"].inputs}
        for t in self.state:
            if template_out.get(t.name) != t or search_in.get(t.name) != t:
                raise ValueError(f"manifest: state tensor {t.name!r} must be both a template output and a search "
                                 f"input, of the same shape and dtype")
        if set(template_out) != set(self.state_names):
            raise ValueError(f"manifest: the template graph's outputs {sorted(template_out)} must be the state "
                             f"tensors {self.state_names}")
        self._check_crop_inputs()
        self.model.check_variant()  # against the sizes the graphs' crop inputs were just checked for
        self._check_output_roles()

    def _check_crop_inputs(self) -> None:
        """The template graph takes one crop, the search graph one crop plus the state, each
        uint8 (B, size, size, 3) with the model's sizes."""
        template, search = self.graphs["template"], self.graphs["search"]
        crops = [t for t in search.inputs if t.name not in self.state_names]
        for graph, inputs, size in (("template", template.inputs, self.model.template_size),
                                    ("search", crops, self.model.search_size)):
            want = TensorSpec(inputs[0].name if inputs else "?", (self.batch, size, size, 3), "uint8")
            if list(inputs) != [want]:
                raise ValueError(f"manifest: the {graph} graph must take one uint8 crop {list(want.shape)} besides "
                                 f"the state (model.{graph}_size {size}), got {[t.to_dict() for t in inputs]}")

    def _check_output_roles(self) -> None:
        """The tracker's ``box`` and ``score`` roles name search outputs of shape (B, 4) and (B,)."""
        outputs = {t.name: t.shape for t in self.graphs["search"].outputs}
        dtypes = {t.name: t.dtype for t in self.graphs["search"].outputs}
        for role, name, shape in (("box", self.tracker.box_output, (self.batch, 4)),
                                  ("score", self.tracker.score_output, (self.batch,))):
            if outputs.get(name) != shape or dtypes[name] != "float32":
                raise ValueError(f"manifest: tracker.outputs.{role}.name {name!r} must be a search output "
                                 f"of shape {list(shape)}, float32 (search outputs: {outputs})")

    def _check_graph(self, gname: str, graph: GraphSpec) -> None:
        for role, filename in graph.files.items():
            if filename not in self.files:
                raise ValueError(f"manifest: graphs.{gname}.files.{role} = {filename!r} has no entry in 'files'")
        for t in graph.inputs + graph.outputs:
            if t.shape[0] != self.batch:
                raise ValueError(f"manifest: {gname} tensor {t.name!r} has batch {t.shape[0]}, the bundle says {self.batch}")


def _check_schema_version(data: dict) -> None:
    """Version 2 only: older manifests lack the tracker rules, newer ones are not understood."""
    version = data.get("schema_version")
    if version == SCHEMA_VERSION:
        return
    if isinstance(version, int) and not isinstance(version, bool) and 0 < version < SCHEMA_VERSION:
        raise ValueError(
            f"manifest: schema_version {version} is older than this asymtrack-deploy reads ({SCHEMA_VERSION}: "
            f"the tracker rules); re-export the bundle: {_reexport_command(data)}"
        )
    raise ValueError(
        f"manifest: schema_version {version!r} is not supported by asymtrack-deploy "
        f"(it reads version {SCHEMA_VERSION}); re-export the bundle with this version or upgrade asymtrack-deploy"
    )


def _reexport_command(data: dict) -> str:
    model, source = data.get("model") or {}, data.get("source") or {}
    if source.get("random_weights"):
        weights = f"--random-weights --seed {source.get('seed') or 0}"
    else:
        weights = f"--checkpoint {source.get('checkpoint') or 'CHECKPOINT'}"
    return (f"asymtrack-deploy export --target {data.get('target', 'onnx')} --precision {data.get('precision', 'fp32')} "
            f"--variant {model.get('variant', 'tiny')} {weights} --out DIR --force")


def _files_from_dict(data: dict) -> dict[str, FileRecord]:
    files = {}
    for name, rec in data.items():
        _check_plain_name(name)
        sha = _need(rec, "sha256", str, f"files.{name}")
        size = _need(rec, "bytes", int, f"files.{name}")
        files[name] = FileRecord(sha, size)
    return files


def _check_plain_name(name: str) -> None:
    """Files live in the bundle folder itself: a path that leaves it is refused."""
    if not name or name != Path(name).name or name in (".", "..") or name == MANIFEST_NAME:
        raise ValueError(f"manifest: file name {name!r} must be a plain file name inside the bundle folder")


# --------------------------------------------------------------------------------------------
# Reading and writing bundles
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bundle:
    """A validated bundle folder: ``root`` and its ``manifest``."""

    root: Path
    manifest: Manifest

    def path(self, graph: str, role: str) -> Path:
        """The file that plays ``role`` (e.g. "onnx") for ``graph`` ("template" or "search")."""
        files = self.manifest.graph(graph).files
        if role not in files:
            raise KeyError(
                f"bundle {self.root}: the {graph} graph has no {role!r} file (roles: {', '.join(files)}); "
                f"this bundle's target is {self.manifest.target!r}"
            )
        return self.root / files[role]

    @property
    def variant(self) -> str:
        return self.manifest.model.variant

    @property
    def batch(self) -> int:
        return self.manifest.batch

    @property
    def target(self) -> str:
        return self.manifest.target

    @property
    def precision(self) -> str:
        return self.manifest.precision

    @property
    def state_names(self) -> list[str]:
        return self.manifest.state_names


# The deepest nesting a manifest may have: the C library's reader stops there too
# (runtime-c/src/at_core.h, AT_JSON_MAX_DEPTH); a manifest needs 5 levels.
MAX_JSON_DEPTH = 64
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_JSON_BRACKETS = re.compile(r"[\[\]{}]")


def check_json_depth(text: str, limit: int = MAX_JSON_DEPTH) -> None:
    """Refuse JSON nested deeper than ``limit`` (a ValueError) before ``json.loads``, whose
    recursion a deep document (100,000 ``[``) would exhaust: brackets are counted outside strings."""
    depth = -1  # the level of the innermost open container: the top-level value is level 0, as in C
    for bracket in _JSON_BRACKETS.findall(_JSON_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        if depth > limit:
            raise ValueError(f"not a manifest: JSON nesting deeper than {limit} levels")


def load_bundle(path: str | os.PathLike, verify: bool = True) -> Bundle:
    """Read and validate ``path/manifest.json``; with ``verify`` also check that every listed
    file exists with its recorded sha256. Any problem is a ValueError naming the file."""
    root = Path(path)
    if not root.is_dir():
        _restore_interrupted_replace(root)
    if not root.is_dir():
        raise ValueError(f"{root}: no such bundle folder")
    manifest_path = root / MANIFEST_NAME
    if not manifest_path.is_file():
        raise ValueError(f"{manifest_path}: missing; {root} is not an asymtrack-deploy bundle (export one first)")
    try:
        text = manifest_path.read_text(encoding="utf-8")
        check_json_depth(text)
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{manifest_path}: not valid JSON ({exc})") from exc
    except ValueError as exc:
        raise ValueError(f"{manifest_path}: {exc}") from None
    try:
        manifest = Manifest.from_dict(data)
        manifest.check_consistent()
    except ValueError as exc:
        raise ValueError(f"{manifest_path}: {exc}") from exc
    _check_files(root, manifest, verify)
    return Bundle(root, manifest)


def _restore_interrupted_replace(root: Path) -> None:
    """An ``export --force`` killed between its two renames left no bundle at ``root`` and the
    complete old one beside it: rename it back (a warning says so), or say how to."""
    try:
        restored = restore_replaced(root)
    except OSError as exc:
        old = next((p for p in leftovers(root) if p.name.endswith(".old")), None)
        raise ValueError(f"{root}: no such bundle folder; an interrupted export --force left the previous bundle "
                         f"in {old}, which could not be renamed back ({exc.strerror or exc}): mv '{old}' '{root}'") from exc
    if restored is not None:
        warnings.warn(f"{root}: restored from {restored.name}, where an interrupted export --force had left it",
                      RuntimeWarning, stacklevel=3)


def _check_files(root: Path, manifest: Manifest, verify: bool) -> None:
    inside = root.resolve()
    for name, rec in manifest.files.items():
        path = root / name
        if not path.is_file():
            raise ValueError(f"{path}: listed in {MANIFEST_NAME} but missing from the bundle")
        if path.resolve().parent != inside:
            raise ValueError(f"{path}: a link to {path.resolve()}, outside the bundle; a bundle's files must be "
                             "in its folder (copy the file in instead of linking it)")
        if not verify:
            continue
        size = path.stat().st_size
        if size != rec.bytes or file_sha256(path) != rec.sha256:
            raise ValueError(
                f"{path}: sha256 mismatch with {MANIFEST_NAME} (file changed or damaged after export; "
                f"expected {rec.sha256[:16]}..., {rec.bytes} bytes; found {size} bytes)"
            )


def write_manifest(folder: str | os.PathLike, manifest: Manifest, extra_files: tuple[str, ...] = ()) -> Manifest:
    """Digest every graph file (and ``extra_files``) in ``folder`` and write ``manifest.json``.

    Returns the manifest with ``files`` and ``created_utc`` filled in. The folder is expected
    to be a staging folder that the caller renames into place (see ``export``).
    """
    folder = Path(folder)
    names = sorted({f for g in manifest.graphs.values() for f in g.files.values()} | set(extra_files))
    files = {}
    for name in names:
        _check_plain_name(name)
        path = folder / name
        if not path.is_file():
            raise ValueError(f"{path}: the manifest lists this file but it was not written")
        files[name] = FileRecord(file_sha256(path), path.stat().st_size)
    created = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    manifest = replace(manifest, files=files, created_utc=created)
    manifest.check_consistent()
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest.to_dict(), indent=2) + "\n", encoding="utf-8")
    return manifest
