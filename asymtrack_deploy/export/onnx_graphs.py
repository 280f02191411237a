"""The fp32 ONNX graphs every bundle starts from: trace, simplify, check, save, describe.

Each export wrapper (``wrappers``) is traced with the TorchScript exporter (static shapes, batch
fixed at export), simplified (onnxslim by default) and checked (``onnx.checker``, static shapes,
no control flow, no dynamic-weight Conv) before it is saved. The ``onnx`` target's bundle is
these two files; every other target converts them and keeps them (role ``source_onnx``).
"""
from __future__ import annotations

import io
import warnings
from pathlib import Path

import onnx
import torch

from .. import __version__
from ..bundle import GraphSpec, Manifest, ModelSpec, Preprocess, SourceSpec, TensorSpec
from ..models import AsymTrack
from ..tracker_spec import TrackerRules
from .graph_checks import check_graph
from .simplify import simplifier_version, simplify
from .wrappers import ETM_MIX_SCALE, SearchGraph, TemplateGraph

__all__ = [
    "DEFAULT_OPSET",
    "MIN_OPSET",
    "GRAPH_FILES",
    "check_opset",
    "export_graph",
    "onnx_manifest",
    "save_graph",
    "trace",
    "write_graphs",
]

MIN_OPSET = 17  # LayerNormalization is a single op from 17 on
DEFAULT_OPSET = 17
GRAPH_FILES = {"template": "template.onnx", "search": "search.onnx"}


def check_opset(opset: int) -> None:
    if opset < MIN_OPSET:
        raise ValueError(f"opset {opset} is too old: the export needs opset {MIN_OPSET} or newer")
    if opset > (newest := _max_opset()):
        raise ValueError(f"opset {opset} is newer than torch {torch.__version__} can export (at most {newest})")


def _max_opset() -> int:
    """The newest opset this torch's TorchScript exporter writes (a private constant, so with a
    conservative fallback)."""
    from torch.onnx import _constants

    return int(getattr(_constants, "ONNX_MAX_OPSET", 20))


def write_graphs(stage: Path, model: AsymTrack, batch: int, opset: int, simplifier: str) -> dict[str, onnx.ModelProto]:
    """Trace, simplify, check and save both graphs into ``stage`` (GRAPH_FILES); the protos."""
    wrappers = {"template": TemplateGraph(model), "search": SearchGraph(model)}
    graphs = {}
    for name, wrapper in wrappers.items():
        graphs[name] = export_graph(wrapper, batch, opset, simplifier)
        save_graph(graphs[name], stage / GRAPH_FILES[name])
    return graphs


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


def onnx_manifest(model: AsymTrack, graphs: dict, batch: int, opset: int, source: SourceSpec, simplifier: str) -> Manifest:
    """The manifest of the fp32 ONNX bundle (files and parity are filled in when written)."""
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
        tracker=TrackerRules(),  # the rules crop.py implements; converted bundles inherit them
        state=specs["template"].outputs,
        source=source,
        toolkit_version=__version__,
        export={
            "exporter": f"torch.onnx TorchScript exporter (torch {torch.__version__})",
            "onnx": onnx.__version__,
            "simplifier": simplifier_version(simplifier),
            "nodes": {name: len(proto.graph.node) for name, proto in graphs.items()},
            "checks": ["onnx.checker (full)", "static shapes", "no Loop/If/Scan", "Conv weights are initializers"],
            "etm_mix_scale": ETM_MIX_SCALE,  # keeps fp16 conversions in range; exact in fp32 (wrappers)
        },
    )
