"""The one table of export targets and runtime backends.

Everything that differs per target or backend and is not code lives here: which backend runs a
target's bundles, which precisions a target offers (and which of them ``bench`` measures through
it), the file roles its graphs have in the manifest, the pip extra that installs what it needs,
and where its converter or backend class lives. The runtime registry, the export pipeline, the
bench plan and the command line all read this table, so adding a target is one entry here plus
one converter module (docs/design.md, "Adding a target").

Standard library only: the runtime side reads it without torch or any runtime library.
"""
from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = [
    "PRECISIONS",
    "BACKENDS",
    "TARGETS",
    "BackendEntry",
    "TargetEntry",
    "backend_entry",
    "target_entry",
    "backend_names",
    "target_names",
    "bench_target",
    "load_object",
]

PRECISIONS = ("fp32", "fp16", "bf16", "int8")
# bf16 is OpenVINO's only: ONNX Runtime 1.32's CPU provider has no bf16 kernel for MatMul, Add or
# Relu and ONNX's Conv takes no bf16 (tried), and TensorRT is left at what has run (nothing here).
_NO_BF16 = ("fp32", "fp16", "int8")


@dataclass(frozen=True)
class BackendEntry:
    """A runtime backend: its class ("module:Class"), the library it needs, the pip extra."""

    name: str
    cls: str
    library: str
    extra: str
    baseline: bool = False  # the official way of running the model: bench's reference row, not a choice


@dataclass(frozen=True)
class TargetEntry:
    """An export target.

    ``converter``: "module:Class" turning the staged fp32 ONNX graphs into the target's files
    (None: the ONNX graphs are the bundle). ``roles``: the manifest file roles of each graph.
    ``bench_precisions``: the precisions ``bench`` measures through this target (the ``onnx``
    target covers ONNX Runtime fp32, the ``onnxruntime`` target its fp16 and int8).
    ``tolerances``: precision -> (box, min_iou) where this target's runtime measurably differs
    from the precision's tolerance in ``parity.tolerances`` (another runtime's kernels: the
    figures and where they were measured are in the target's converter module).
    """

    name: str
    backend: str
    precisions: tuple[str, ...]
    roles: tuple[str, ...]
    extra: str
    converter: str | None = None
    bench_precisions: tuple[str, ...] = PRECISIONS
    tolerances: Mapping[str, tuple[float, float]] = field(default_factory=dict)


BACKENDS: dict[str, BackendEntry] = {
    entry.name: entry
    for entry in (
        BackendEntry("torch", "asymtrack_deploy.runtimes.torch_backend:TorchBackend", "torch", "torch"),
        BackendEntry("torch-official", "asymtrack_deploy.runtimes.torch_backend:OfficialTorchBackend", "torch", "torch",
                     baseline=True),
        BackendEntry("onnxruntime", "asymtrack_deploy.runtimes.onnxruntime_backend:OnnxRuntimeBackend",
                     "onnxruntime", "onnxruntime"),
        BackendEntry("openvino", "asymtrack_deploy.runtimes.openvino_backend:OpenVinoBackend", "openvino", "openvino"),
        BackendEntry("tensorrt", "asymtrack_deploy.runtimes.tensorrt_backend:TensorRTBackend", "tensorrt", "tensorrt"),
        BackendEntry("mnn", "asymtrack_deploy.runtimes.mnn_backend:MnnBackend", "MNN", "mnn"),
        BackendEntry("litert", "asymtrack_deploy.runtimes.litert_backend:LiteRtBackend", "ai_edge_litert", "litert"),
    )
}

TARGETS: dict[str, TargetEntry] = {
    entry.name: entry
    for entry in (
        TargetEntry("onnx", "onnxruntime", ("fp32",), ("onnx",), "export", bench_precisions=("fp32",)),
        TargetEntry("onnxruntime", "onnxruntime", _NO_BF16, ("source_onnx", "onnx"), "export",
                    "asymtrack_deploy.export.onnxruntime_target:OnnxRuntimeConverter", ("fp16", "int8")),
        TargetEntry("openvino", "openvino", PRECISIONS, ("source_onnx", "openvino_xml", "openvino_bin"), "openvino",
                    "asymtrack_deploy.export.openvino_target:OpenVinoConverter"),
        TargetEntry("tensorrt", "tensorrt", _NO_BF16, ("source_onnx", "tensorrt_engine", "builder_onnx"), "tensorrt",
                    "asymtrack_deploy.export.tensorrt_target:TensorRTConverter"),
        # a Triton model repository around an openvino (default) or onnxruntime bundle
        TargetEntry("triton", "openvino", _NO_BF16, ("source_onnx", "openvino_xml", "openvino_bin", "onnx"), "serve",
                    "asymtrack_deploy.export.triton_target:TritonConverter", bench_precisions=()),
        # edge runtimes: fp16 and int8 are stored weights (computed in fp32 where the CPU lacks fp16)
        TargetEntry("mnn", "mnn", ("fp32", "fp16", "int8"), ("source_onnx", "mnn_model"), "mnn",
                    "asymtrack_deploy.export.mnn_target:MnnConverter", ("fp32", "fp16", "int8"),
                    tolerances={"fp32": (5e-4, 0.999)}),
        TargetEntry("litert", "litert", ("fp32", "fp16"), ("source_onnx", "tflite_model"), "litert",
                    "asymtrack_deploy.export.litert_target:LiteRtConverter", ("fp32", "fp16")),
    )
}


def backend_names() -> list[str]:
    """The backends a user chooses among (the baseline is always measured, never chosen)."""
    return [name for name, entry in BACKENDS.items() if not entry.baseline]


def target_names() -> list[str]:
    return list(TARGETS)


def backend_entry(name: str) -> BackendEntry:
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}: expected one of {', '.join(BACKENDS)}")
    return BACKENDS[name]


def target_entry(name: str) -> TargetEntry:
    if name not in TARGETS:
        raise ValueError(f"unknown export target {name!r}: expected one of {', '.join(TARGETS)}")
    return TARGETS[name]


def bench_target(backend: str, precision: str) -> str | None:
    """The target whose bundles ``bench`` runs for ``backend`` at ``precision`` (None: none)."""
    for entry in TARGETS.values():
        if entry.backend == backend and precision in entry.bench_precisions:
            return entry.name
    return None


def load_object(path: str):
    """Import ``"package.module:Name"`` and return ``Name`` (the module loads only now)."""
    module_name, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module_name), attribute)
