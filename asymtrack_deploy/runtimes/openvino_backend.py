"""OpenVINO backend over an exported bundle (``target: openvino``, IR files).

One compiled model per branch, shared by every thread; each thread has its own infer request per
branch (``ThreadContexts``), made on its first call and reused, so trackers in several threads
over one backend never share a request (OpenVINO's "Infer Request is busy") and get exactly the
boxes each gets alone. ``template()`` gives the template request freshly allocated output tensors, so OpenVINO writes the state
straight into memory that the returned handle owns (no copy, and the state of an earlier
target is never overwritten). ``search()`` sets those tensors as the search request's state
inputs once per new state, not every frame; per frame only the crop is copied into the
request's own input tensor and the two small outputs are copied out.

The CPU plugin picks bf16 (or f16) for inference on CPUs that have it unless told otherwise,
which silently costs an fp32 bundle its parity; the bundle's manifest records the inference
precision its parity was measured with (``inference.openvino_precision_hint``) and this backend
applies it. numpy and openvino only: no torch.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..bundle import Bundle
from ..limits import check_threads
from .base import BackendInfo, BundleBackend, check_graph_io, require, unreadable_graph

__all__ = ["OpenVinoBackend", "OpenVinoTemplateState", "resolve_device", "XML_ROLE", "executed_precisions", "executed_label",
           "hinted_label", "check_bf16", "check_int8_cpu"]

XML_ROLE = "openvino_xml"
_VIRTUAL_DEVICES = ("AUTO", "MULTI", "HETERO")


def _ov():
    return require("openvino", "openvino")


def resolve_device(requested: str, available: list[str]) -> str:
    """``requested`` if OpenVINO can run it here ("CPU", "GPU", "GPU.1", "NPU", "AUTO",
    "AUTO:GPU,CPU"...), else a ValueError listing the devices there are."""
    if not isinstance(requested, str) or not requested:
        raise ValueError(f"device must be a device name such as 'CPU', got {requested!r}")
    name = requested.upper()
    head, _, listed = name.partition(":")
    if head in _VIRTUAL_DEVICES:
        wanted = [d for d in listed.split(",") if d]
    else:
        wanted = [name]
    missing = [d for d in wanted if d not in available and not any(a.split(".")[0] == d for a in available)]
    if missing:
        raise ValueError(
            f"OpenVINO device {requested!r} is not available here; available: {', '.join(available)} "
            "(or AUTO, which picks among them)"
        )
    return name


@dataclass
class OpenVinoTemplateState:
    """The template state of one ``template()`` call: ov.Tensors over memory this handle owns."""

    tensors: dict[str, Any]  # state name -> openvino.Tensor
    owner: int  # id() of the backend that made it

    def numpy(self) -> dict[str, np.ndarray]:
        """Copies, for inspection and tests (the tracker never needs this)."""
        return {name: np.array(t.data, copy=True) for name, t in self.tensors.items()}


@dataclass
class _RequestContext:
    """One thread's infer requests, the search request's crop and output tensors, and the
    state last set on it."""

    template_request: Any
    search_request: Any
    crop_tensor: Any = None
    output_tensors: list = field(default_factory=list)
    bound_state: OpenVinoTemplateState | None = None


class OpenVinoBackend(BundleBackend):
    """``OpenVinoBackend(bundle=DIR, device="CPU", threads=None)``.

    ``device``: an OpenVINO device ("CPU", "GPU", "NPU", "AUTO"...); ``threads``: CPU inference
    threads (None: OpenVINO's choice). ``inference_precision``: "f32", "bf16" or "f16" instead
    of the bundle's recorded choice (e.g. "bf16" for the float parts of an int8 bundle on a bf16
    CPU: faster, less accurate, see ``export/openvino_target.py``). ``verify``: check the files' sha256 on load.
    ``config``: more OpenVINO properties, set over the backend's own (e.g. ``{"ENABLE_CPU_PINNING":
    False}`` or ``{"PERFORMANCE_HINT": "THROUGHPUT"}``; ``benchmarks/cpu_settings.py`` measures them).

    ``info.extra`` reports what runs: ``inference_precision`` (the compiled graph's
    INFERENCE_PRECISION_HINT) and ``executes`` (its label); ``executed_precisions()`` counts the
    executed graph's arithmetic layers per precision (see there). bf16 on a CPU without bf16 arithmetic is refused (a ValueError), not run
    in f32 under a bf16 label.
    """

    name = "openvino"
    graph_roles, files_named, export_target = (XML_ROLE,), "OpenVINO IR", "openvino"
    state_type = OpenVinoTemplateState

    def __init__(
        self,
        bundle: str | os.PathLike | Bundle,
        device: str = "CPU",
        threads: int | None = None,
        verify: bool = True,
        inference_precision: str | None = None,
        config: dict | None = None,
    ) -> None:
        super().__init__()
        ov = _ov()
        self._extra_config = dict(config or {})
        if inference_precision not in (None, "f32", "bf16", "f16"):
            raise ValueError(f"inference_precision must be 'f32', 'bf16' or 'f16', got {inference_precision!r}")
        self.bundle = self._open_bundle(bundle, verify)
        core = ov.Core()
        self.device = resolve_device(device, core.available_devices)
        check_int8_cpu(self.device, self.bundle.manifest)
        self.ov_version = ov.get_version()
        self._config, self.ignored_properties = self._device_config(core, threads, inference_precision)
        self._compiled = {g: core.compile_model(self._read(core, g), self.device, self._config)
                          for g in ("template", "search")}
        self._check_io()
        self.info = self._make_info()

    # -- setup -------------------------------------------------------------------------------
    def _read(self, core, graph: str):
        """The graph's IR read (and so validated) before compiling: a damaged .xml or .bin is
        bad input (a ValueError naming it), a failure to compile a sound graph is the device's."""
        path = self.bundle.path(graph, XML_ROLE)
        try:
            return core.read_model(str(path))
        except RuntimeError as exc:
            weights = self.bundle.manifest.graph(graph).files.get("openvino_bin")
            named = f"{path} (with {weights})" if weights else path
            raise unreadable_graph(named, "OpenVINO", exc) from None

    def _device_config(self, core, threads: int | None, precision: str | None) -> tuple[dict, list[str]]:
        """LATENCY hint, the inference precision and the thread count, each only where the
        device has the property (AUTO and GPU lack some); the rest is reported, not set."""
        check_threads(threads)
        wanted = {"PERFORMANCE_HINT": "LATENCY"}
        hint = precision or self._precision_hint(core, self.bundle.manifest.inference.openvino_precision_hint)
        check_bf16(core, self.device, hint)
        if hint:
            wanted["INFERENCE_PRECISION_HINT"] = hint
        if threads is not None:
            wanted["INFERENCE_NUM_THREADS"] = threads
        wanted.update(self._extra_config)
        supported = set(core.get_property(self.device.split(":")[0], "SUPPORTED_PROPERTIES"))
        unknown = sorted(k for k in self._extra_config if k not in supported)
        if unknown:
            raise ValueError(f"config: OpenVINO device {self.device} has no property {', '.join(unknown)}")
        config = {k: v for k, v in wanted.items() if k in supported}
        return config, [k for k in wanted if k not in supported]

    def _precision_hint(self, core, hint: str | None) -> str | None:
        """The bundle's inference precision, except that "f16" becomes "f32" on every CPU: an
        fp16 bundle there keeps its fp16 weights and computes in f32, which is what its export
        measured (x86 without fp16 arithmetic) and gives the same boxes on every CPU. Native f16
        arithmetic (ARMv8.2, AVX512-FP16) moved the teacher-forced boxes of the built-in sequence
        0.64 px from x86's (IoU 0.973, under fp16's 0.98; emulated Cortex-A76), and without it
        OpenVINO would substitute bf16. ``inference_precision="f16"`` still asks for it."""
        device = self.device.split(":")[0].split(".")[0]
        if hint == "f16" and device == "CPU":
            return "f32"
        return hint

    def _check_io(self) -> None:
        """The compiled graphs take and give exactly what the manifest says (names, shapes, dtypes)."""
        for graph, compiled in self._compiled.items():
            for kind, ports in (("input", compiled.inputs), ("output", compiled.outputs)):
                check_graph_io(self.bundle, graph, kind, {
                    p.get_any_name(): (tuple(p.get_shape()), np.dtype(p.get_element_type().to_dtype()).name)
                    for p in ports})

    def _new_context(self) -> _RequestContext:
        """A thread's requests (``CompiledModel.create_infer_request`` is thread-safe)."""
        spec = self.bundle.manifest.graph("search")
        search = self._compiled["search"].create_infer_request()
        return _RequestContext(self._compiled["template"].create_infer_request(), search,
                               search.get_tensor(spec.inputs[0].name),
                               [search.get_tensor(t.name) for t in spec.outputs])

    def _make_info(self) -> BackendInfo:
        m = self.bundle.manifest
        search = self._compiled["search"]
        hint = _property(search, "INFERENCE_PRECISION_HINT")
        return BackendInfo.from_manifest(m, **{
                "bundle": str(self.bundle.root),
                "openvino": self.ov_version,
                "device": self.device,
                "config": {k: str(v) for k, v in self._config.items()},
                "inference_precision": hint,
                "executes": hinted_label(m.precision, hint),
                "threads": _property(search, "INFERENCE_NUM_THREADS"),
                "ignored_properties": self.ignored_properties,
            })

    def executed_precisions(self) -> dict[str, int]:
        """Arithmetic layers of the compiled search graph per precision they compute in, read
        from OpenVINO's runtime (executed) graph: what really runs, layer by layer. Read on demand
        (``bench`` rows, ``info --bundle``), not at load: it walks the whole executed graph, and
        a long-lived process that had read several, then forked, crashed later (a precaution
        until that is understood); ``info.extra["executes"]`` comes from the compiled hint."""
        return executed_precisions(self._compiled["search"])

    def executed_arithmetic(self) -> str:
        """The executed graph's label, layer by layer (``executed_precisions``)."""
        return executed_label(self.executed_precisions())

    # -- the two branches --------------------------------------------------------------------
    def describe(self) -> str:
        extra = self.info.extra
        return (f"openvino {extra['openvino']} {extra['device']} (inference precision {extra['inference_precision']}, "
                f"executes {extra['executes']})")

    def _template_impl(self, crops: np.ndarray) -> OpenVinoTemplateState:
        ov = _ov()
        request = self._contexts.get(self._new_context).template_request
        spec = self.bundle.manifest.graph("template")
        request.get_tensor(spec.inputs[0].name).data[...] = crops
        tensors = {}
        for t in spec.outputs:
            tensors[t.name] = ov.Tensor(np.empty(t.shape, dtype=np.dtype(t.dtype)))
            request.set_tensor(t.name, tensors[t.name])
        _run(request)
        return OpenVinoTemplateState(tensors, id(self))

    def _search_impl(self, crops: np.ndarray, state: OpenVinoTemplateState) -> tuple[np.ndarray, np.ndarray]:
        context = self._contexts.get(self._new_context)
        self._bind_once(context, state, lambda new: self._bind_state(context, new))
        context.crop_tensor.data[...] = crops
        _run(context.search_request)
        box, score = (np.array(t.data, copy=True) for t in context.output_tensors)
        return box, score

    def _bind_state(self, context: _RequestContext, state: OpenVinoTemplateState) -> None:
        for name, tensor in state.tensors.items():
            context.search_request.set_tensor(name, tensor)

    def _release(self) -> None:
        self._compiled = {}

    # -- registry hooks ----------------------------------------------------------------------
    def state_from_rows(self, rows: dict[str, np.ndarray]) -> OpenVinoTemplateState:
        ov = _ov()
        return OpenVinoTemplateState({n: ov.Tensor(a) for n, a in rows.items()}, id(self))

    def state_rows(self, state: OpenVinoTemplateState) -> dict[str, np.ndarray]:
        return state.numpy()

    @classmethod
    def machine_facts(cls) -> dict:
        """What OpenVINO's CPU plugin says this CPU computes natively (FP32, BF16, FP16, INT8...)."""
        try:
            capabilities = [str(c) for c in _ov().Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")]
        except Exception:  # noqa: BLE001 - a CPU plugin that cannot answer: nothing to report
            return {}
        return {"openvino_capabilities": capabilities}


def _run(request) -> None:
    """Run synchronously without building the copied-output dict that ``infer()`` returns."""
    request.start_async()
    request.wait()


# Layers that move or reshape data: their precision follows their neighbours' and says nothing
# about the arithmetic. Weighted layers in u8/i8 are the int8 ones.
_DATA_MOVEMENT = frozenset({"Const", "Input", "Output", "Reshape", "Reorder", "Transpose", "Concatenation", "Split",
                            "Gather", "StridedSlice", "Broadcast"})
_WEIGHTED = frozenset({"Convolution", "GroupConvolution", "Deconvolution", "FullyConnected", "MatMul"})
_SHORT_TYPES = {"f32": "f32", "bf16": "bf16", "f16": "f16", "u8": "u8", "i8": "i8"}


def executed_precisions(compiled) -> dict[str, int]:
    """How many arithmetic layers of the compiled (runtime) graph compute in each precision
    ("f32", "bf16", "f16", "int8"), read from the activations each layer takes: what a hint
    asks for is not always what runs (the CPU plugin turns "f16" into bf16 on a CPU without
    fp16 arithmetic), and a layer's ``runtimePrecision`` names its weights' type (f16 for the
    compressed weights of an fp16 IR even where the layer computes in f32)."""
    counts: dict[str, int] = {}
    for op in compiled.get_runtime_model().get_ordered_ops():
        layer = op.get_rt_info()["layerType"].astype(str)
        if layer in _DATA_MOVEMENT or op.get_input_size() == 0:
            continue
        precision = _SHORT_TYPES.get(op.input(0).get_element_type().get_type_name())
        if precision in ("u8", "i8") and layer in _WEIGHTED:
            precision = "int8"
        if precision in ("f32", "bf16", "f16", "int8"):
            counts[precision] = counts.get(precision, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: -item[1]))


def hinted_label(precision: str, hint: str | None) -> str:
    """What a compiled graph computes in, from its precision hint alone ("f32", "bf16", "f16", as
    OpenVINO names them), with "int8+" in front for an int8 bundle (its quantized layers). Also
    the C tracker's label in ``bench``, from the hint its library reports."""
    label = hint or "unknown"
    return f"int8+{label}" if precision == "int8" else label


def executed_label(counts: dict[str, int]) -> str:
    """"int8+bf16", "f32"...: the precisions that run at least a tenth of the arithmetic layers,
    and int8 whenever any layer runs it (an int8 bundle quantizes only its heaviest layers, a
    few of many: its label must not read as plain f32)."""
    total = sum(counts.values()) or 1
    order = ("int8", "f16", "bf16", "f32")
    shown = [p for p in order if counts.get(p, 0) >= 0.1 * total or (p == "int8" and counts.get(p))]
    return "+".join(shown) or "unknown"


def check_bf16(core, device: str, hint: str | None) -> None:
    """A bf16 hint on a CPU without bf16 arithmetic would silently run f32: refuse it instead."""
    if hint != "bf16" or device.split(":")[0].split(".")[0] != "CPU":
        return
    capabilities = core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    if "BF16" not in capabilities:
        raise ValueError(
            "bf16 inference needs a CPU with bf16 arithmetic (AMX or AVX512-BF16); this one has "
            f"{', '.join(capabilities)}. Use an fp32 or int8 bundle here (asymtrack-deploy export --precision fp32)"
        )


# The export record (manifest, export section) of the int8 IR rewrite that lets ARM CPUs compile it.
ARM_REDUCE_RECORD = "reduce_sums_flattened"


def check_int8_cpu(device: str, manifest, machine: str | None = None) -> None:
    """An int8 IR exported without the ARM rewrite, on an ARM CPU: refused with the way out.

    OpenVINO 2026.4's CPU plugin on aarch64 (checked under qemu with a Cortex-A76 model) fails to
    compile the NNCF-quantized search graph: "Check 'is_axis_valid' ... Axis 365072220162 out of
    the tensor rank range" on a ReduceSum it splits off a ReduceSum over axes (2, 3) (the axis is
    2 with uninitialised high bytes: 0x55_0000_0002). SNIPPETS_MODE=DISABLE and an f32 inference
    precision do not avoid it; the exporter's rewrite to a one-axis ReduceSum does
    (``export.openvino_target.flatten_trailing_reduce_sums``, recorded in the manifest's export
    section). Bundles exported before it are refused on ARM, with the commands that help."""
    import platform

    machine = (machine or platform.machine()).lower()
    if manifest.precision != "int8" or machine not in ("aarch64", "arm64") or "CPU" not in device.upper():
        return
    if ARM_REDUCE_RECORD in (manifest.export or {}):
        return
    raise ValueError(
        "this OpenVINO int8 bundle does not compile on ARM CPUs (exported before the ReduceSum rewrite: OpenVINO's "
        "CPU plugin fails with 'Axis ... out of the tensor rank range'); re-export it with this version "
        "(asymtrack-deploy export --target openvino --precision int8 --force) or use ONNX Runtime int8 "
        "(asymtrack-deploy export --target onnxruntime --precision int8)"
    )


def _property(compiled, name: str) -> str | None:
    try:
        value = compiled.get_property(name)
    except Exception:  # a device without the property: report nothing rather than fail
        return None
    return value.to_string() if hasattr(value, "to_string") else str(value)  # ov.Type -> "f32"
