"""ONNX Runtime backend over an exported bundle (``target: onnx``).

Two sessions, one per graph. The template state never goes back through numpy: ``template()``
runs the template graph with its outputs bound to OrtValues allocated where the search session
runs (device memory on the CUDA and TensorRT providers), and those OrtValues become the search
session's state inputs through ``io_binding``: bound once per target, not copied per frame. The
crop input and the box/score outputs are OrtValues bound once per thread; per frame the crop is
copied into its buffer (``update_inplace``: host to device on GPU providers) and the two small
outputs are copied out; nothing else crosses the host/device boundary.

Threads: the two sessions are shared (ONNX Runtime's ``Run`` is thread-safe); each thread has its
own search binding, crop and output buffers and bound state (``ThreadContexts``), so trackers in
several threads over one backend get exactly the boxes each gets alone.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..bundle import Bundle, TensorSpec
from ..limits import check_threads
from .base import BackendInfo, BundleBackend, check_graph_io, require, unreadable_graph

__all__ = ["OnnxRuntimeBackend", "OrtTemplateState", "resolve_providers", "PROVIDER_ALIASES"]

PROVIDER_ALIASES = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "trt": "TensorrtExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "dml": "DmlExecutionProvider",
    "xnnpack": "XnnpackExecutionProvider",
}
# Where a provider that this onnxruntime lacks comes from (said when it is asked for).
_PROVIDER_SOURCES = {
    "CUDAExecutionProvider": "the onnxruntime-gpu package and a matching CUDA install",
    "TensorrtExecutionProvider": "the onnxruntime-gpu package and a matching CUDA install",
    "XnnpackExecutionProvider": ("an onnxruntime built with --use_xnnpack, or onnxruntime-android / the iOS pods: "
                                 "no onnxruntime wheel on PyPI (x86_64 or aarch64) includes it"),
    "OpenVINOExecutionProvider": "the onnxruntime-openvino package",
}
_CUDA_PROVIDERS = ("CUDAExecutionProvider", "TensorrtExecutionProvider")
_ORT_TYPES = {"tensor(uint8)": "uint8", "tensor(int8)": "int8", "tensor(int32)": "int32", "tensor(int64)": "int64",
              "tensor(float16)": "float16", "tensor(float)": "float32"}


def _ort():
    return require("onnxruntime", "onnxruntime")


def resolve_providers(requested: str | Sequence | None, available: Sequence[str]) -> list:
    """Requested providers (names, aliases such as "cuda", or (name, options) pairs) matched
    against ``available``; CPU is appended as the fallback for nodes a GPU provider skips.
    A provider that is not available is a ValueError listing those that are."""
    if requested is None:
        requested = ["CPUExecutionProvider"]
    elif isinstance(requested, (str, tuple)):
        requested = [requested]
    resolved = []
    for item in requested:
        name, options = (item if isinstance(item, tuple) else (item, None))
        name = PROVIDER_ALIASES.get(str(name).lower(), name)
        if name not in available:
            source = _PROVIDER_SOURCES.get(name)
            raise ValueError(
                f"ONNX Runtime provider {item!r} is not available here; available: {', '.join(available)}"
                + (f" ({name} needs {source})" if source else "")
            )
        resolved.append((name, options) if options else name)
    if not any(_name(p) == "CPUExecutionProvider" for p in resolved):
        resolved.append("CPUExecutionProvider")
    return resolved


def _name(provider) -> str:
    return provider[0] if isinstance(provider, tuple) else provider


@dataclass
class OrtTemplateState:
    """The template state of one ``template()`` call: OrtValues on the session's device."""

    values: dict[str, Any]  # state name -> onnxruntime.OrtValue
    owner: int  # id() of the backend that made it

    def numpy(self) -> dict[str, np.ndarray]:
        """Copies on the host, for inspection and tests (the tracker never needs this)."""
        return {name: value.numpy() for name, value in self.values.items()}


@dataclass
class _SearchContext:
    """One thread's search binding: crop input and outputs bound once, the last state bound."""

    binding: Any
    crop: Any  # onnxruntime.OrtValue
    outputs: list = field(default_factory=list)
    bound_state: OrtTemplateState | None = None


class OnnxRuntimeBackend(BundleBackend):
    """``OnnxRuntimeBackend(bundle=DIR, providers=None, threads=None)``.

    ``providers``: None (CPU), a name or alias ("cpu", "cuda", "tensorrt"), or a list of names
    or (name, options) pairs in priority order. ``threads``: intra-op threads (None: ORT's
    default, one per physical core). ``verify``: check the bundle files' sha256 on load.
    ``session_config``: ONNX Runtime session configuration entries (e.g.
    ``{"session.intra_op.allow_spinning": "0"}``; ``benchmarks/cpu_settings.py`` measures them).
    """

    name = "onnxruntime"
    graph_roles, files_named, export_target = ("onnx",), "ONNX graphs", "onnx"
    state_type = OrtTemplateState

    def __init__(
        self,
        bundle: str | os.PathLike | Bundle,
        providers: str | Sequence | None = None,
        threads: int | None = None,
        verify: bool = True,
        session_config: dict | None = None,
    ) -> None:
        super().__init__()
        ort = _ort()
        self.bundle = self._open_bundle(bundle, verify)
        self.ort_version = ort.__version__
        self.providers = resolve_providers(providers, ort.get_available_providers())
        options = self._session_options(ort, threads, session_config)
        self._template_session = self._session(ort, "template", options)
        self._search_session = self._session(ort, "search", options)
        self._check_io()
        self._device, self._device_id = self._bind_device()
        self._state_specs = self.bundle.manifest.state
        self.info = self._make_info()

    # -- setup -------------------------------------------------------------------------------
    @staticmethod
    def _session_options(ort, threads: int | None, config: dict | None = None):
        options = ort.SessionOptions()
        for key, value in (config or {}).items():
            options.add_session_config_entry(key, str(value))
        if threads is not None:
            check_threads(threads)
            options.intra_op_num_threads = threads
        return options

    def _session(self, ort, graph: str, options):
        from onnxruntime.capi.onnxruntime_pybind11_state import Fail, InvalidGraph, InvalidProtobuf

        path = self.bundle.path(graph, "onnx")
        try:
            return ort.InferenceSession(str(path), sess_options=options, providers=self.providers)
        except (InvalidProtobuf, InvalidGraph, Fail) as exc:  # a damaged file whose digest was updated
            raise unreadable_graph(path, "ONNX Runtime", exc) from None

    def _check_io(self) -> None:
        """The sessions' inputs and outputs are the manifest's (names, shapes, dtypes)."""
        for graph, session in (("template", self._template_session), ("search", self._search_session)):
            for kind, args in (("input", session.get_inputs()), ("output", session.get_outputs())):
                check_graph_io(self.bundle, graph, kind, {a.name: (a.shape, _ORT_TYPES.get(a.type, a.type)) for a in args})

    def _bind_device(self) -> tuple[str, int]:
        """Where the state and crop buffers live: the first provider the session really uses."""
        first = self._search_session.get_providers()[0]
        if first in _CUDA_PROVIDERS:
            options = self._search_session.get_provider_options().get(first, {})
            return "cuda", int(options.get("device_id", 0))
        return "cpu", 0

    def _new_search_context(self) -> _SearchContext:
        """A thread's search binding with the crop input and both outputs pre-bound; only the
        state inputs change per target."""
        ort, graph = _ort(), self.bundle.manifest.graph("search")
        crop = graph.inputs[0]
        context = _SearchContext(self._search_session.io_binding(), self._alloc(ort, crop, self._device))
        context.binding.bind_ortvalue_input(crop.name, context.crop)
        context.outputs = [self._alloc(ort, spec, "cpu") for spec in graph.outputs]
        for spec, value in zip(graph.outputs, context.outputs):
            context.binding.bind_ortvalue_output(spec.name, value)
        return context

    def _alloc(self, ort, spec: TensorSpec, device: str):
        device_id = self._device_id if device != "cpu" else 0
        return ort.OrtValue.ortvalue_from_shape_and_type(list(spec.shape), np.dtype(spec.dtype), device, device_id)

    def _make_info(self) -> BackendInfo:
        m = self.bundle.manifest
        return BackendInfo.from_manifest(m, **{
                "bundle": str(self.bundle.root),
                "onnxruntime": self.ort_version,
                "providers": self._search_session.get_providers(),
                "device": self._device,
                "executes": executes(m.precision, self._device),
            })

    # -- the two branches --------------------------------------------------------------------
    def describe(self) -> str:
        return f"onnxruntime {self.ort_version} {', '.join(map(_name, self.providers))} (executes {self.info.extra['executes']})"

    def _template_impl(self, crops: np.ndarray) -> OrtTemplateState:
        ort = _ort()
        session = self._template_session
        binding = session.io_binding()
        binding.bind_cpu_input(self.bundle.manifest.graph("template").inputs[0].name, crops)
        values = {spec.name: self._alloc(ort, spec, self._device) for spec in self._state_specs}
        for name, value in values.items():
            binding.bind_ortvalue_output(name, value)
        session.run_with_iobinding(binding)
        return OrtTemplateState(values, id(self))

    def _search_impl(self, crops: np.ndarray, state: OrtTemplateState) -> tuple[np.ndarray, np.ndarray]:
        context = self._contexts.get(self._new_search_context)
        self._bind_once(context, state, lambda new: self._bind_state(context, new))
        context.crop.update_inplace(crops)
        self._search_session.run_with_iobinding(context.binding)
        box, score = (value.numpy().copy() for value in context.outputs)
        return box, score

    def _bind_state(self, context: _SearchContext, state: OrtTemplateState) -> None:
        for name, value in state.values.items():
            context.binding.bind_ortvalue_input(name, value)

    def _release(self) -> None:
        self._template_session = None
        self._search_session = None

    # -- registry hooks ----------------------------------------------------------------------
    def state_from_rows(self, rows: dict[str, np.ndarray]) -> OrtTemplateState:
        ort = _ort()
        return OrtTemplateState({n: ort.OrtValue.ortvalue_from_numpy(a) for n, a in rows.items()}, id(self))

    def state_rows(self, state: OrtTemplateState) -> dict[str, np.ndarray]:
        return state.numpy()

    @classmethod
    def unavailable_on(cls, device: str) -> str | None:
        if device != "cuda":
            return None
        ort = _ort()
        providers = ort.get_available_providers()
        if "CUDAExecutionProvider" in providers:
            return None
        return (f"onnxruntime: no CUDAExecutionProvider in onnxruntime {ort.__version__} "
                f"(providers: {', '.join(providers)}; install onnxruntime-gpu built for this CUDA)")


def executes(precision: str, device: str) -> str:
    """The arithmetic a graph of ``precision`` gets (ONNX Runtime does not report kernels per
    node, so this is what its providers do with such a graph). The CPU provider has fp16 kernels
    for few ops: for the rest it inserts casts and computes in f32 (the saved optimised fp16
    search graph of AsymTrack-tiny, 1.32 on x86: 16 LayerNormalizations in f16, every Conv,
    Gemm, MatMul and element-wise op in f32). QDQ int8 runs integer kernels where it fused the
    Q/DQ pairs, f32 elsewhere."""
    if precision == "fp16":
        return "f16" if device == "cuda" else "f16+f32"
    return {"fp32": "f32", "int8": "int8+f32"}.get(precision, precision)
