"""Write a Triton model repository around an exported bundle (OpenVINO or ONNX Runtime, any batch).

Layout::

    REPO/
      asymtrack_repository.json   what was written and with which options (``serve`` reads it)
      tracker/config.pbtxt        python backend, sequence batching (START/END/READY/CORRID)
      tracker/1/model.py          imports asymtrack_deploy.serving.python_model
      tracker/1/bundle/           the bundle, manifest and files, checked by sha256 at model load
      search/config.pbtxt         stateless search step for Triton's stock onnxruntime/openvino backends
      search/1/model.onnx | model.xml + model.bin

``tracker`` is the model clients use: it holds each stream's template state and box, runs the
template branch on START and one batched search step per frame. ``search`` is the bare search
graph with the template state as inputs (the client keeps the state and does the crops), for
servers that run only stock backends. The Triton binary that ``serve`` installs has the python
backend only, so ``search`` is written and documented but not loaded or run here; ``serve`` loads
``tracker`` alone. With a dynamic-batch ONNX (``search_onnx``, written by ``export --target
triton``) it gets dynamic batching; from a bundle alone its shapes are the bundle's static ones.

One config dict per model is the single source: rendered to ``config.pbtxt`` here and sent as
JSON by ``serve --instances`` (Triton's load API takes a config override).
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from .. import __version__, catalogue
from ..bundle import MANIFEST_NAME, Bundle, load_bundle
from ..limits import check_batch, check_threads
from ..staged_folder import check_target, staged_bundle

__all__ = [
    "RECORD_NAME", "TRACKER_MODEL", "SEARCH_MODEL", "TrackerOptions", "write_repository", "read_record",
    "tracker_config", "render_pbtxt", "serving_backends", "check_out_dir",
]

RECORD_NAME = "asymtrack_repository.json"
REPOSITORY = "a repository"  # what check_target calls a folder with RECORD_NAME
TRACKER_MODEL = "tracker"
SEARCH_MODEL = "search"
BUNDLE_FOLDER = "bundle"
_ENUM_KEYS = {"data_type", "kind"}
_TRITON_TYPES = {"uint8": "TYPE_UINT8", "int8": "TYPE_INT8", "int32": "TYPE_INT32", "int64": "TYPE_INT64",
                 "float16": "TYPE_FP16", "float32": "TYPE_FP32"}

_MODEL_PY = '''"""AsymTrack tracker for Triton's python backend, written by asymtrack-deploy {version}.

The code is the installed package's (asymtrack_deploy.serving.python_model): the server's Python
needs asymtrack-deploy with the openvino or onnxruntime extra. The python backend's stub is an
embedded interpreter that ignores PYTHONPATH; `asymtrack-deploy serve` names its own environment
in ASYMTRACK_TRITON_PYTHONPATH, added here.
"""
import os
import site
import sys

for _path in reversed([p for p in os.environ.get("ASYMTRACK_TRITON_PYTHONPATH", "").split(os.pathsep) if p]):
    if _path not in sys.path:
        sys.path.insert(0, _path)
    site.addsitedir(_path)  # runs the .pth files there (editable installs)

from asymtrack_deploy.serving.python_model import TritonPythonModel  # noqa: E402,F401
'''


@dataclass(frozen=True)
class TrackerOptions:
    """How the ``tracker`` model runs: backend, instances (processes), the largest batch of
    requests one ``execute`` gets, runtime threads per instance (None: the runtime's choice),
    seconds a silent stream is kept, and streams each instance holds at once."""

    backend: str
    instances: int = 1
    max_batch: int = 8
    threads: int | None = None
    idle_seconds: float = 60.0
    streams_per_instance: int = 256
    device: str | None = None  # onnxruntime providers ("cuda") or an OpenVINO device ("GPU"); None: CPU

    def check(self) -> None:
        served = serving_backends()
        if self.backend not in served:
            raise ValueError(f"the tracker model runs {' or '.join(served)} bundles, not {self.backend!r}")
        for name in ("instances", "streams_per_instance"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        check_batch(self.max_batch, "max_batch")
        check_threads(self.threads)
        if not self.idle_seconds > 0:
            raise ValueError(f"idle_seconds must be > 0, got {self.idle_seconds!r}")


def write_repository(bundle_dir: str | os.PathLike, out_dir: str | os.PathLike, *, backend: str | None = None,
                     instances: int = 1, max_batch: int = 8, threads: int | None = None, idle_seconds: float = 60.0,
                     streams_per_instance: int = 256, device: str | None = None,
                     search_onnx: str | os.PathLike | None = None, force: bool = False) -> Path:
    """Write the repository for ``bundle_dir`` into ``out_dir`` (staged, renamed into place;
    an existing repository is replaced only with ``force``). ``backend``: one of
    ``serving_backends()`` (default: the one that runs the bundle's target). Returns ``out_dir``."""
    bundle = load_bundle(bundle_dir, verify=True)
    options = TrackerOptions(backend or _default_backend(bundle.target), instances, max_batch,
                             threads, idle_seconds, streams_per_instance, device)
    options.check()
    _check_runs(bundle, options.backend)
    out_dir = Path(out_dir)
    with staged_bundle(out_dir, force, RECORD_NAME, REPOSITORY) as stage:
        sha = _write_tracker(stage, bundle, options)
        search = _write_search(stage, bundle, options, search_onnx)
        record = {"schema_version": 1, "toolkit_version": __version__, "created_utc": _now(),
                  "tracker": asdict(options), "search": search, "bundle": _bundle_record(bundle, sha)}
        (stage / RECORD_NAME).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return out_dir


def serving_backends() -> dict[str, "catalogue.ServingFacts"]:
    """The backends the tracker model can run (registry entries with ``serving`` facts)."""
    return {name: entry.serving for name, entry in catalogue.backends().items() if entry.serving is not None}


def _default_backend(target: str) -> str:
    """The backend that runs ``target``'s bundles (an unknown target: itself, refused by ``check``)."""
    return catalogue.target_entry(target).backend if target in catalogue.targets() else target


def read_record(repository: str | os.PathLike) -> dict:
    """The repository's ``asymtrack_repository.json``, or a ValueError saying what is wrong."""
    path = Path(repository) / RECORD_NAME
    if not path.is_file():
        raise ValueError(f"{repository}: not an asymtrack-deploy Triton repository (no {RECORD_NAME}); "
                         "write one with: asymtrack-deploy export --target triton")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc


def tracker_config(options: TrackerOptions, bundle_batch: int, manifest_sha256: str) -> dict:
    """The ``tracker`` model's configuration (Triton's ModelConfig as a dict)."""
    return {
        "name": TRACKER_MODEL, "backend": "python", "max_batch_size": options.max_batch,
        "input": [
            {"name": "FRAME", "data_type": "TYPE_UINT8", "dims": [-1, -1, 3], "optional": True,
             "allow_ragged_batch": True},
            {"name": "FRAME_ENCODED", "data_type": "TYPE_UINT8", "dims": [-1], "optional": True,
             "allow_ragged_batch": True},
            {"name": "INIT_BOX", "data_type": "TYPE_FP32", "dims": [4], "optional": True},
        ],
        "output": [
            {"name": "BOX", "data_type": "TYPE_FP32", "dims": [4]},
            {"name": "SCORE", "data_type": "TYPE_FP32", "dims": [1]},
            {"name": "STREAMS", "data_type": "TYPE_INT32", "dims": [1]},
        ],
        "sequence_batching": _sequence_batching(options, bundle_batch),
        "instance_group": [{"count": options.instances, "kind": "KIND_CPU"}],
        "parameters": {k: {"string_value": str(v)} for k, v in {
            "bundle": BUNDLE_FOLDER, "backend": options.backend, "threads": options.threads or 0,
            "idle_seconds": options.idle_seconds, "device": options.device or "",
            "bundle_manifest_sha256": manifest_sha256,
            "toolkit_version": __version__}.items()},
    }


def _sequence_batching(options: TrackerOptions, bundle_batch: int) -> dict:
    """``oldest``: frames of different streams batch together (one per stream); a batch-1 bundle
    gains nothing from waiting, a batched one waits up to 1 ms to fill its graph call."""
    oldest = {"max_candidate_sequences": options.streams_per_instance,
              "max_queue_delay_microseconds": 0 if bundle_batch == 1 else 1000}
    preferred = [n for n in range(bundle_batch, options.max_batch + 1, bundle_batch)] if bundle_batch > 1 else []
    if preferred:
        oldest["preferred_batch_size"] = preferred
    controls = [("START", "CONTROL_SEQUENCE_START"), ("END", "CONTROL_SEQUENCE_END"),
                ("READY", "CONTROL_SEQUENCE_READY")]
    control_input = [{"name": n, "control": [{"kind": k, "int32_false_true": [0, 1]}]} for n, k in controls]
    control_input.append({"name": "CORRID", "control": [{"kind": "CONTROL_SEQUENCE_CORRID", "data_type": "TYPE_UINT64"}]})
    return {"max_sequence_idle_microseconds": int(options.idle_seconds * 1e6), "oldest": oldest,
            "control_input": control_input}


def search_config(bundle: Bundle, options: TrackerOptions, max_batch: int) -> dict:
    """The stateless ``search`` model: crop and state in, box and score out. ``max_batch`` 0:
    the graph's static shapes, batch axis included; above 0: dynamic batching up to it."""
    graph = bundle.manifest.graph("search")
    skip = 1 if max_batch else 0
    tensors = lambda specs: [{"name": t.name, "data_type": _TRITON_TYPES[t.dtype], "dims": list(t.shape[skip:])}
                             for t in specs]
    config = {"name": SEARCH_MODEL, "backend": options.backend, "max_batch_size": max_batch,
              "input": tensors(graph.inputs), "output": tensors(graph.outputs),
              "instance_group": [{"count": options.instances, "kind": "KIND_CPU"}]}
    if max_batch:
        config["dynamic_batching"] = {"max_queue_delay_microseconds": 1000}
    dynamic_filename = serving_backends()[options.backend].dynamic_model_filename
    if max_batch and dynamic_filename:
        config["default_model_filename"] = dynamic_filename
    return config


def render_pbtxt(config: dict) -> str:
    """A config dict in protobuf text format (``config.pbtxt``)."""
    return "".join(_render(key, value, "") for key, value in config.items())


def _render(key: str, value, indent: str) -> str:
    if key == "parameters":  # a protobuf map: one entry per key
        return "".join(f'{indent}parameters {{ key: "{k}" value {{ string_value: "{v["string_value"]}" }} }}\n'
                       for k, v in value.items())
    if isinstance(value, dict):
        inner = "".join(_render(k, v, indent + "  ") for k, v in value.items())
        return f"{indent}{key} {{\n{inner}{indent}}}\n"
    if isinstance(value, list) and value and isinstance(value[0], dict):
        items = ",\n".join(f"{indent}  {{\n" + "".join(_render(k, v, indent + "    ") for k, v in item.items())
                           + f"{indent}  }}" for item in value)
        return f"{indent}{key} [\n{items}\n{indent}]\n"
    if isinstance(value, list):
        return f"{indent}{key}: [ {', '.join(_scalar(key, v) for v in value)} ]\n"
    return f"{indent}{key}: {_scalar(key, value)}\n"


def _scalar(key: str, value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and key not in _ENUM_KEYS:
        return json.dumps(value)
    return str(value)


# -- writing ----------------------------------------------------------------------------------
def _check_runs(bundle: Bundle, backend: str) -> None:
    facts = serving_backends()[backend]
    if facts.role not in bundle.manifest.graph("search").files:
        raise ValueError(f"bundle {bundle.root} (target {bundle.target!r}) has no {facts.role!r} graphs for the "
                         f"{backend} backend; export it with --target {facts.export_target}")


def _write_tracker(stage: Path, bundle: Bundle, options: TrackerOptions) -> str:
    version_dir = stage / TRACKER_MODEL / "1"
    target = version_dir / BUNDLE_FOLDER
    target.mkdir(parents=True)
    for name in [*bundle.manifest.files, MANIFEST_NAME]:
        shutil.copy2(bundle.root / name, target / name)
    load_bundle(target, verify=True)  # the copy is what the server will check
    sha = hashlib.sha256((target / MANIFEST_NAME).read_bytes()).hexdigest()
    (version_dir / "model.py").write_text(_MODEL_PY.format(version=__version__), encoding="utf-8")
    config = tracker_config(options, bundle.batch, sha)
    (stage / TRACKER_MODEL / "config.pbtxt").write_text(render_pbtxt(config), encoding="utf-8")
    return sha


def _write_search(stage: Path, bundle: Bundle, options: TrackerOptions, search_onnx) -> dict:
    version_dir = stage / SEARCH_MODEL / "1"
    version_dir.mkdir(parents=True)
    if search_onnx is not None:
        shutil.copy2(search_onnx, version_dir / "model.onnx")
        max_batch = options.max_batch
    else:
        for role, name in serving_backends()[options.backend].search_files.items():
            shutil.copy2(bundle.path("search", role), version_dir / name)
        max_batch = 0
    config = search_config(bundle, options, max_batch)
    (stage / SEARCH_MODEL / "config.pbtxt").write_text(render_pbtxt(config), encoding="utf-8")
    return {"backend": options.backend, "dynamic_batching": bool(max_batch),
            "note": "for Triton's stock onnxruntime/openvino backends (NGC container); "
                    "not loaded by `asymtrack-deploy serve` (its Triton binary has the python backend only)"}


def _bundle_record(bundle: Bundle, manifest_sha256: str) -> dict:
    m = bundle.manifest
    return {"path": f"{TRACKER_MODEL}/1/{BUNDLE_FOLDER}", "variant": m.variant, "target": m.target,
            "precision": m.precision, "batch": m.batch, "manifest_sha256": manifest_sha256}


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_out_dir(out_dir: str | os.PathLike, force: bool) -> None:
    """Refuse an existing ``out_dir`` without ``force``, and any folder that is not a repository
    written here even with it (so a long export can fail before it starts)."""
    check_target(Path(out_dir), force, RECORD_NAME, REPOSITORY)
