"""The ``onnx`` target: two static fp32 ONNX graphs (template, search) in a verified bundle.

Steps, all inside a staging folder that becomes the bundle only if every step passes:
trace each wrapper with the TorchScript exporter (static shapes, batch fixed at export), simplify
(onnxslim by default), check (``onnx.checker``, static shapes, no control flow, no dynamic-weight
Conv), save, write the manifest, then run both graphs in ONNX Runtime on real crops against the
PyTorch model and record the figures.
"""
from __future__ import annotations

import io
import math
import os
import time
import warnings
from dataclasses import replace
from pathlib import Path

import onnx
import torch

from .. import __version__
from ..bundle import Bundle, GraphSpec, Manifest, ModelSpec, Preprocess, SourceSpec, TensorSpec, load_bundle, write_manifest
from ..models import AsymTrack
from .graph_checks import check_graph
from .parity import BOX_TOLERANCE, measure_parity, parity_crops
from .simplify import DEFAULT_SIMPLIFIER, simplifier_version, simplify
from .staging import staged_bundle
from .weights import prepare_model
from .wrappers import SearchGraph, TemplateGraph

__all__ = ["export_onnx", "DEFAULT_OPSET", "MIN_OPSET", "GRAPH_FILES"]

MIN_OPSET = 17  # LayerNormalization is a single op from 17 on
DEFAULT_OPSET = 17
GRAPH_FILES = {"template": "template.onnx", "search": "search.onnx"}
_MIN_PARITY_PAIRS = 4


def export_onnx(
    checkpoint: str | os.PathLike | None,
    variant: str,
    out_dir: str | os.PathLike,
    batch: int = 1,
    force: bool = False,
    *,
    opset: int = DEFAULT_OPSET,
    simplifier: str = DEFAULT_SIMPLIFIER,
    random_weights: bool = False,
    seed: int = 0,
    parity_pairs: int | None = None,
    box_tolerance: float = BOX_TOLERANCE,
) -> Bundle:
    """Export ``checkpoint`` (None: seeded random weights, only with ``random_weights=True``) as an
    ONNX bundle in ``out_dir`` for ``batch`` targets per call, and return the loaded bundle.

    Raises ValueError (CheckpointError included) for bad input, FileExistsError when ``out_dir``
    exists and ``force`` is false, ParityError when ONNX Runtime misses the PyTorch boxes by
    more than ``box_tolerance``. On any error no bundle is written and an existing one is kept.
    """
    _check_options(batch, opset, parity_pairs)
    with staged_bundle(out_dir, force) as stage:
        started = time.perf_counter()
        model, source = prepare_model(variant, checkpoint, random_weights, seed)
        graphs = {}
        for name, wrapper in _wrappers(model).items():
            graphs[name] = export_graph(wrapper, batch, opset, simplifier)
            save_graph(graphs[name], stage / GRAPH_FILES[name])
        manifest = _manifest(model, graphs, batch, opset, source, simplifier)
        manifest = write_manifest(stage, manifest)
        pairs = parity_pairs or batch * math.ceil(_MIN_PARITY_PAIRS / batch)
        parity = run_parity(stage, model, batch, pairs, box_tolerance)
        export = {**manifest.export, "seconds": round(time.perf_counter() - started, 2)}
        write_manifest(stage, replace(manifest, parity=parity, export=export))
    return load_bundle(out_dir)


def _check_options(batch: int, opset: int, parity_pairs: int | None) -> None:
    if not isinstance(batch, int) or batch < 1:
        raise ValueError(f"batch must be a positive integer, got {batch!r}")
    if opset < MIN_OPSET:
        raise ValueError(f"opset {opset} is too old: the export needs opset {MIN_OPSET} or newer")
    if opset > (newest := _max_opset()):
        raise ValueError(f"opset {opset} is newer than torch {torch.__version__} can export (at most {newest})")
    if parity_pairs is not None and (parity_pairs < batch or parity_pairs % batch):
        raise ValueError(f"parity_pairs must be a positive multiple of batch ({batch}), got {parity_pairs}")


def _max_opset() -> int:
    """The newest opset this torch's TorchScript exporter writes (a private constant, so with a
    conservative fallback)."""
    from torch.onnx import _constants

    return int(getattr(_constants, "ONNX_MAX_OPSET", 20))


def _wrappers(model: AsymTrack) -> dict[str, torch.nn.Module]:
    return {"template": TemplateGraph(model), "search": SearchGraph(model)}


def export_graph(wrapper: TemplateGraph | SearchGraph, batch: int, opset: int, simplifier: str) -> onnx.ModelProto:
    """Trace, simplify and check one wrapper; the in-memory graph, ready to save."""
    proto = simplify(trace(wrapper, batch, opset), simplifier)
    graph_name = "template" if isinstance(wrapper, TemplateGraph) else "search"
    check_graph(proto, graph_name)
    onnx.helper.set_model_props(
        proto, {"asymtrack_deploy.graph": graph_name, "asymtrack_deploy.variant": wrapper.model.cfg.name}
    )
    return proto


def trace(wrapper: TemplateGraph | SearchGraph, batch: int, opset: int, dynamic_axes: dict | None = None) -> onnx.ModelProto:
    """TorchScript-exporter trace with static shapes (``dynamic_axes``: only for the Triton
    target's stateless search model, never in a bundle)."""
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
        warnings.filterwarnings("ignore", message=".*Constant folding - Only steps=1.*")
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.onnx")
        torch.onnx.export(
            wrapper,
            wrapper.example_inputs(batch),
            buffer,
            dynamo=False,
            opset_version=opset,
            input_names=list(wrapper.input_names),
            output_names=list(wrapper.output_names),
            do_constant_folding=True,
            dynamic_axes=dynamic_axes,
        )
    return onnx.load_from_string(buffer.getvalue())


def save_graph(proto: onnx.ModelProto, path: Path) -> None:
    """One self-contained .onnx file (the graphs are far below the 2 GB protobuf limit)."""
    onnx.save_model(proto, str(path))


def _tensor_specs(values) -> tuple[TensorSpec, ...]:
    specs = []
    for v in values:
        t = v.type.tensor_type
        dtype = onnx.helper.tensor_dtype_to_np_dtype(t.elem_type).name
        specs.append(TensorSpec(v.name, tuple(d.dim_value for d in t.shape.dim), dtype))
    return tuple(specs)


def _graph_spec(name: str, proto: onnx.ModelProto) -> GraphSpec:
    return GraphSpec({"onnx": GRAPH_FILES[name]}, _tensor_specs(proto.graph.input), _tensor_specs(proto.graph.output))


def _manifest(model: AsymTrack, graphs: dict, batch: int, opset: int, source: SourceSpec, simplifier: str) -> Manifest:
    cfg = model.cfg
    specs = {name: _graph_spec(name, proto) for name, proto in graphs.items()}
    return Manifest(
        model=ModelSpec(cfg.name, cfg.template_size, cfg.search_size, cfg.template_factor, cfg.search_factor),
        preprocess=Preprocess(mean=tuple(cfg.mean), std=tuple(cfg.std)),
        target="onnx",
        precision="fp32",
        batch=batch,
        opset=opset,
        graphs=specs,
        state=specs["template"].outputs,
        source=source,
        toolkit_version=__version__,
        export={
            "exporter": f"torch.onnx TorchScript exporter (torch {torch.__version__})",
            "onnx": onnx.__version__,
            "simplifier": simplifier_version(simplifier),
            "nodes": {name: len(proto.graph.node) for name, proto in graphs.items()},
            "checks": ["onnx.checker (full)", "static shapes", "no Loop/If/Scan", "Conv weights are initializers"],
        },
    )


def run_parity(stage: Path, model: AsymTrack, batch: int, pairs: int, box_tolerance: float) -> dict:
    """Load the staged bundle in ONNX Runtime (CPU) and compare with the PyTorch model."""
    from ..runtimes.onnxruntime_backend import OnnxRuntimeBackend

    crops = parity_crops(model.cfg, pairs=pairs)
    with OnnxRuntimeBackend(bundle=stage, providers=["CPUExecutionProvider"]) as backend:
        figures = measure_parity(backend, model, crops, batch, box_tolerance)
        figures["runtime"] = f"onnxruntime {backend.ort_version} {', '.join(backend.providers)}"
    return figures
