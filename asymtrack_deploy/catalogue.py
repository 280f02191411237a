"""The registry: one entry per export target and per runtime backend, built in or plugged in.

Every fact that differs per backend or target lives in its entry (or, where the fact is code, in
a hook of the class the entry names): which class implements it and the library and pip extra it
needs, whether it runs a checkpoint or a bundle, the constructor keyword that picks its device,
where ``bench`` runs it and under which label, what the Triton repository copies for it, and
which precisions a target offers and ``bench`` measures through it. Consumers (``bench``,
``track``, ``parity``, ``eval``, ``info``, the export pipeline, serving) ask the registry and
never name a backend, so a new runtime is one backend module, one converter module and one entry
here, or the same three in another package that registers its entries under the entry-point
group ``asymtrack_deploy.backends`` (docs/design.md, "Adding a runtime").

Standard library only: the runtime side reads it without torch or any runtime library.
"""
from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata

__all__ = [
    "PRECISIONS",
    "PLUGIN_GROUP",
    "BackendEntry",
    "ServingFacts",
    "TargetEntry",
    "backends",
    "targets",
    "backend_entry",
    "target_entry",
    "backend_names",
    "target_names",
    "bench_target",
    "reference_backend",
    "load_object",
]

PRECISIONS = ("fp32", "fp16", "bf16", "int8")
PLUGIN_GROUP = "asymtrack_deploy.backends"  # entry points naming a BackendEntry, a TargetEntry or a tuple of them
# bf16 is OpenVINO's only: ONNX Runtime 1.32's CPU provider has no bf16 kernel for MatMul, Add or
# Relu and ONNX's Conv takes no bf16 (tried), and TensorRT is left at what has run (nothing here).
_NO_BF16 = ("fp32", "fp16", "int8")


@dataclass(frozen=True)
class ServingFacts:
    """How the Triton repository (``serving.repository``) serves a backend's bundles.

    ``role``: the bundle file role the backend runs (a bundle without it cannot be served on
    this backend); ``export_target``: the target ``export --target triton --backend NAME``
    exports the served bundle with; ``search_files``: bundle file role -> file name in the
    stateless ``search`` model's version folder; ``dynamic_model_filename``: the
    ``default_model_filename`` a dynamic-batch ``search`` model (always ONNX) needs, None
    where the Triton backend reads ``model.onnx`` by default.
    """

    role: str
    export_target: str
    search_files: Mapping[str, str]
    dynamic_model_filename: str | None = None


@dataclass(frozen=True)
class BackendEntry:
    """A runtime backend.

    ``cls``: "module:Class" (a ``runtimes.Backend``; its module is imported only when the
    backend is used); ``library``: the module that must be importable; ``extra``: the pip extra
    that installs it; ``distributions``: the pip distributions whose versions ``bench`` records.
    ``baseline``: the official way of running the model (bench's reference row, never a
    choice); ``checkpoint``: runs a checkpoint, not a bundle (the PyTorch reference).
    ``device_option``: the constructor keyword that takes a device name (None: none);
    ``devices``: where ``bench`` rows of it run ("cpu", "cuda"); ``labels``: device -> bench row
    label (default: the name); ``checkpoint_precisions``: device -> precisions ``bench`` runs
    for a checkpoint backend (bundle backends: ``TargetEntry.bench_precisions``);
    ``not_on_cuda``: why it has no CUDA rows; ``missing``: what ``load_backend`` says when
    ``library`` is not installed, where the pip line is not the answer (a runtime that exists
    only on its own hardware); ``c_library``: the C library (``runtime-c``) runs
    its bundles too (``bench``'s C rows); ``serving``: how Triton serves it (None: not served).
    Facts that are code are hooks of the class: ``state_from_rows`` / ``state_rows``
    (serving's stream table), ``unavailable_on(device)``, ``machine_facts()``.
    """

    name: str
    cls: str
    library: str
    extra: str
    distributions: tuple[str, ...] = ()
    baseline: bool = False
    checkpoint: bool = False
    device_option: str | None = None
    devices: tuple[str, ...] = ("cpu",)
    labels: Mapping[str, str] = field(default_factory=dict)
    checkpoint_precisions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    not_on_cuda: str = ""
    missing: str = ""
    c_library: bool = False
    serving: ServingFacts | None = None

    def label(self, device: str) -> str:
        return self.labels.get(device, self.name)


@dataclass(frozen=True)
class TargetEntry:
    """An export target.

    ``converter``: "module:Class" turning the staged fp32 ONNX graphs into the target's files
    (None: the ONNX graphs are the bundle). ``roles``: the manifest file roles of each graph.
    ``bench_precisions``: the precisions ``bench`` measures through this target (ONNX Runtime's
    rows run the ``onnxruntime`` target's graphs, rewritten and optimised for it: its fp32 step
    is about 6 % faster than the plain ``onnx`` graph's, which is not benched).
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


_BUILTIN_BACKENDS = (
    BackendEntry("torch", "asymtrack_deploy.runtimes.torch_backend:TorchBackend", "torch", "torch", ("torch",),
                 checkpoint=True, device_option="device", devices=("cpu", "cuda"),
                 labels={"cuda": "torch (CUDA graph)"},
                 checkpoint_precisions={"cpu": ("fp32",), "cuda": ("fp32", "fp16")}),
    BackendEntry("torch-official", "asymtrack_deploy.runtimes.torch_backend:OfficialTorchBackend", "torch", "torch",
                 ("torch",), baseline=True, checkpoint=True, device_option="device", devices=("cpu", "cuda")),
    BackendEntry("onnxruntime", "asymtrack_deploy.runtimes.onnxruntime_backend:OnnxRuntimeBackend",
                 "onnxruntime", "onnxruntime", ("onnxruntime", "onnxruntime-gpu"),
                 device_option="providers", devices=("cpu", "cuda"), labels={"cuda": "onnxruntime (CUDA)"},
                 serving=ServingFacts("onnx", "onnxruntime", {"onnx": "model.onnx"})),
    BackendEntry("openvino", "asymtrack_deploy.runtimes.openvino_backend:OpenVinoBackend", "openvino", "openvino",
                 ("openvino",), device_option="device",
                 not_on_cuda="runs on Intel CPUs, GPUs and NPUs, not on CUDA devices", c_library=True,
                 serving=ServingFacts("openvino_xml", "openvino",
                                      {"openvino_xml": "model.xml", "openvino_bin": "model.bin"}, "model.onnx")),
    BackendEntry("tensorrt", "asymtrack_deploy.runtimes.tensorrt_backend:TensorRTBackend", "tensorrt", "tensorrt",
                 ("tensorrt",), devices=("cuda",)),
    BackendEntry("mnn", "asymtrack_deploy.runtimes.mnn_backend:MnnBackend", "MNN", "mnn", ("MNN",)),
    BackendEntry("litert", "asymtrack_deploy.runtimes.litert_backend:LiteRtBackend", "ai_edge_litert", "litert",
                 ("ai-edge-litert",)),
    # Rockchip NPUs: RKNNLite (rknn-toolkit-lite2) exists only on the boards (aarch64 wheels)
    BackendEntry("rknn", "asymtrack_deploy.runtimes.rknn_backend:RknnBackend", "rknnlite", "rknn",
                 ("rknn-toolkit-lite2",), labels={"cpu": "rknn (NPU)"},
                 missing="the rknn backend runs .rknn models only on a Rockchip NPU, through RKNNLite "
                         "(rknn-toolkit-lite2, on the board: pip install 'asymtrack-deploy[rknn]'), which is not "
                         "installed here; elsewhere only RKNN-Toolkit2's simulator runs them, at export: the "
                         "bundle's simulator parity is in its manifest (asymtrack-deploy info --bundle B)"),
)

_BUILTIN_TARGETS = (
    TargetEntry("onnx", "onnxruntime", ("fp32",), ("onnx",), "export", bench_precisions=()),
    TargetEntry("onnxruntime", "onnxruntime", _NO_BF16, ("source_onnx", "onnx"), "export",
                "asymtrack_deploy.export.onnxruntime_target:OnnxRuntimeConverter", _NO_BF16),
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
    # RKNN has no fp32 mode; the float-input ONNX copy its toolkit needs is kept beside the models
    TargetEntry("rknn", "rknn", ("fp16",), ("source_onnx", "rknn_float_onnx", "rknn_model"), "rknn",
                "asymtrack_deploy.export.rknn_target:RknnConverter", ("fp16",)),
)

_registry: tuple[dict[str, BackendEntry], dict[str, TargetEntry]] | None = None


def _plugin_entries() -> Iterable[BackendEntry | TargetEntry]:
    """The entries other installed packages register under ``PLUGIN_GROUP``."""
    for point in sorted(metadata.entry_points(group=PLUGIN_GROUP), key=lambda p: p.name):
        value = point.load()
        for entry in value if isinstance(value, (tuple, list)) else (value,):
            if not isinstance(entry, (BackendEntry, TargetEntry)):
                raise TypeError(f"entry point {point.name!r} ({point.value}) of {PLUGIN_GROUP} gives "
                                f"{type(entry).__name__}, expected a catalogue.BackendEntry or TargetEntry")
            yield entry


def _build() -> tuple[dict[str, BackendEntry], dict[str, TargetEntry]]:
    found_backends = {e.name: e for e in _BUILTIN_BACKENDS}
    found_targets = {e.name: e for e in _BUILTIN_TARGETS}
    for entry in _plugin_entries():
        table = found_backends if isinstance(entry, BackendEntry) else found_targets
        if entry.name in table:
            raise ValueError(f"plugin entry {entry.name!r} of {PLUGIN_GROUP} clashes with one already registered")
        table[entry.name] = entry
    return found_backends, found_targets


def backends() -> dict[str, BackendEntry]:
    """Every backend: the built-in ones, then those of installed plugins (read once)."""
    global _registry
    if _registry is None:
        _registry = _build()
    return dict(_registry[0])


def targets() -> dict[str, TargetEntry]:
    """Every export target, built in or plugged in."""
    backends()
    return dict(_registry[1])


def backend_names() -> list[str]:
    """The backends a user chooses among (the baseline is always measured, never chosen)."""
    return [name for name, entry in backends().items() if not entry.baseline]


def target_names() -> list[str]:
    return list(targets())


def backend_entry(name: str) -> BackendEntry:
    table = backends()
    if name not in table:
        raise ValueError(f"unknown backend {name!r}: expected one of {', '.join(table)}")
    return table[name]


def target_entry(name: str) -> TargetEntry:
    table = targets()
    if name not in table:
        raise ValueError(f"unknown export target {name!r}: expected one of {', '.join(table)}")
    return table[name]


def reference_backend() -> str:
    """The backend that runs a checkpoint as the reference (``--checkpoint``, parity's reference)."""
    return next(name for name, entry in backends().items() if entry.checkpoint and not entry.baseline)


def bench_target(backend: str, precision: str) -> str | None:
    """The target whose bundles ``bench`` runs for ``backend`` at ``precision`` (None: none)."""
    for entry in targets().values():
        if entry.backend == backend and precision in entry.bench_precisions:
            return entry.name
    return None


def load_object(path: str):
    """Import ``"package.module:Name"`` and return ``Name`` (the module loads only now)."""
    module_name, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module_name), attribute)
