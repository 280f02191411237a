"""TensorRT backend over an exported bundle (``target: tensorrt``, serialized engines).

Everything stays on the GPU between calls. Each graph has its engine, one execution context and
device buffers made once, addressed by tensor name (``set_tensor_address``; the shapes are
static, so no ``set_input_shape``), and runs with ``execute_async_v3`` on the backend's own CUDA
stream. ``template()`` writes the state into device buffers that the returned handle owns;
``search()`` copies a new state into the search context's state buffers on the device, once per
state change, never through the host. Per frame the crop goes host -> device from pinned memory
and box and score come back the same way. With ``cuda_graph`` (the default) that whole step,
copies included, is captured once in a CUDA graph and replayed per frame.

Device memory, streams and graphs come from cuda-python (``cuda.bindings.runtime``, or
``cuda.cudart`` in older releases), not torch. Engines run only on the GPU model and TensorRT
version they were built with: the manifest records both and a mismatch is refused with the
command that rebuilds the engines from the ONNX graphs the bundle keeps.

Threads: one stream, one set of device buffers and one CUDA graph per backend, so calls from
several threads take turns (``serialize_calls``: a lock around each call) and each gets the
result it would get alone; for parallel GPU work, give each thread its own backend.
"""
from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass

import numpy as np

from ..bundle import Bundle, TensorSpec
from .base import BackendInfo, BackendUnavailable, BundleBackend, check_graph_io, require

__all__ = ["TensorRTBackend", "TensorRTTemplateState", "cuda_runtime", "gpu_facts", "ENGINE_ROLE"]

ENGINE_ROLE = "tensorrt_engine"


def cuda_runtime():
    """cuda-python's runtime API module (new and old layouts), or BackendUnavailable."""
    try:
        from cuda.bindings import runtime
    except ImportError:
        try:
            from cuda import cudart as runtime
        except ImportError as exc:
            raise BackendUnavailable(
                f"cuda-python is not installed (needed for TensorRT device memory: {exc}). "
                "Install it with: pip install 'asymtrack-deploy[tensorrt]'"
            ) from exc
    return runtime


def _call(result):
    """Unpack a cuda-python ``(error, *values)`` tuple, raising on an error."""
    cudart = cuda_runtime()
    err, *values = result if isinstance(result, tuple) else (result,)
    if err != cudart.cudaError_t.cudaSuccess:
        name = cudart.cudaGetErrorName(err)[1]
        raise RuntimeError(f"CUDA call failed: {name.decode() if isinstance(name, bytes) else name}")
    if not values:
        return None
    return values[0] if len(values) == 1 else tuple(values)


def gpu_facts(device: int | None = None) -> dict:
    """Name and compute capability of the current (or given) GPU, as the manifest records them."""
    cudart = cuda_runtime()
    device = _call(cudart.cudaGetDevice()) if device is None else device
    props = _call(cudart.cudaGetDeviceProperties(device))
    name = props.name.decode(errors="replace") if isinstance(props.name, bytes) else str(props.name)
    return {"gpu": name.rstrip("\x00").strip(), "compute_capability": f"{props.major}.{props.minor}"}


class _DeviceBuffer:
    """``nbytes`` of device memory for one tensor."""

    def __init__(self, spec: TensorSpec):
        self.spec = spec
        self.nbytes = int(np.prod(spec.shape)) * np.dtype(spec.dtype).itemsize
        self.ptr = _call(cuda_runtime().cudaMalloc(self.nbytes))

    def free(self) -> None:
        if self.ptr:
            _call(cuda_runtime().cudaFree(self.ptr))
            self.ptr = 0


class _PinnedArray:
    """A numpy array over page-locked host memory (fast, asynchronous, capturable copies)."""

    def __init__(self, spec: TensorSpec):
        dtype = np.dtype(spec.dtype)
        self.nbytes = int(np.prod(spec.shape)) * dtype.itemsize
        self.ptr = _call(cuda_runtime().cudaMallocHost(self.nbytes))
        raw = (ctypes.c_byte * self.nbytes).from_address(self.ptr)
        self.array = np.frombuffer(raw, dtype=dtype).reshape(spec.shape)

    def free(self) -> None:
        if self.ptr:
            self.array = None
            _call(cuda_runtime().cudaFreeHost(self.ptr))
            self.ptr = 0


@dataclass
class TensorRTTemplateState:
    """The template state of one ``template()`` call: device buffers this handle owns."""

    buffers: dict[str, _DeviceBuffer]
    owner: int

    def numpy(self) -> dict[str, np.ndarray]:
        """Copies on the host, for inspection and tests (the tracker never needs this)."""
        cudart = cuda_runtime()
        out = {}
        for name, buf in self.buffers.items():
            host = np.empty(buf.spec.shape, dtype=np.dtype(buf.spec.dtype))
            kind = cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
            _call(cudart.cudaMemcpy(host.ctypes.data, buf.ptr, buf.nbytes, kind))
            out[name] = host
        return out

    def __del__(self):
        for buf in getattr(self, "buffers", {}).values():
            try:
                buf.free()
            except Exception:  # interpreter shutdown: the driver frees it anyway
                pass


class TensorRTBackend(BundleBackend):
    """``TensorRTBackend(bundle=DIR, device=0, cuda_graph=None)``.

    ``device``: CUDA device index. ``cuda_graph``: capture the search step in a CUDA graph
    (None: as the manifest says, True by default). ``threads`` is accepted for the common
    constructor signature and ignored (the GPU does the work).
    """

    name = "tensorrt"
    graph_roles, files_named, export_target = (ENGINE_ROLE,), "TensorRT engines", "tensorrt"
    state_type = TensorRTTemplateState
    serialize_calls = True  # one stream and one set of buffers: threads take turns

    def __init__(
        self,
        bundle: str | os.PathLike | Bundle,
        device: int = 0,
        cuda_graph: bool | None = None,
        threads: int | None = None,
        verify: bool = True,
    ) -> None:
        super().__init__()
        self._closed = True  # until the stream exists, close() has nothing to release
        trt = require("tensorrt", "tensorrt")
        self._cudart = cuda_runtime()
        self.bundle = self._open_bundle(bundle, verify)
        _call(self._cudart.cudaSetDevice(int(device)))
        self.trt_version = trt.__version__
        self.gpu = gpu_facts(int(device))
        self._check_compatible()
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        self._engines = {g: self._deserialize(g) for g in ("template", "search")}
        self._check_io(trt)
        self._exec_contexts = {g: e.create_execution_context() for g, e in self._engines.items()}
        self._stream = _call(self._cudart.cudaStreamCreateWithFlags(self._cudart.cudaStreamNonBlocking))
        self._closed = False
        self._allocate()
        default_graph = bool(self.bundle.manifest.runtime.get("cuda_graph", True))
        self.use_cuda_graph = default_graph if cuda_graph is None else bool(cuda_graph)
        self._graph_exec = None
        self.info = self._make_info()

    # -- setup -------------------------------------------------------------------------------
    def _check_compatible(self) -> None:
        """Refuse engines built for another TensorRT version or GPU, saying how to rebuild."""
        rt = self.bundle.manifest.runtime
        built = (rt.get("tensorrt"), rt.get("gpu"), rt.get("compute_capability"))
        here = (self.trt_version, self.gpu["gpu"], self.gpu["compute_capability"])
        if built != here:
            m = self.bundle.manifest
            raise RuntimeError(
                f"bundle {self.bundle.root}: its engines were built with TensorRT {built[0]} for {built[1]} "
                f"(compute capability {built[2]}); this machine has TensorRT {here[0]} and {here[1]} "
                f"(compute capability {here[2]}). TensorRT engines run only on the GPU model and TensorRT "
                "version that built them. Rebuild them here: asymtrack-deploy export --target tensorrt "
                f"--precision {m.precision} --variant {m.model.variant} --batch {m.batch} --checkpoint CHECKPOINT "
                "--out NEW_DIR (the bundle also keeps the ONNX graphs the engines came from: "
                f"{', '.join(self._onnx_files())})"
            )

    def _onnx_files(self) -> list[str]:
        m = self.bundle.manifest
        return sorted({f for g in ("template", "search") for f in m.graph(g).files.values() if f.endswith(".onnx")})

    def _deserialize(self, graph: str):
        engine = self._runtime.deserialize_cuda_engine(self.bundle.path(graph, ENGINE_ROLE).read_bytes())
        if engine is None:
            raise RuntimeError(
                f"bundle {self.bundle.root}: TensorRT {self.trt_version} could not load the {graph} engine "
                "(see the TensorRT log above); rebuild it with: asymtrack-deploy export --target tensorrt ..."
            )
        return engine

    def _check_io(self, trt) -> None:
        """The engines' inputs and outputs are the manifest's (names, shapes, dtypes)."""
        for graph, engine in self._engines.items():
            names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
            for kind, mode in (("input", trt.TensorIOMode.INPUT), ("output", trt.TensorIOMode.OUTPUT)):
                check_graph_io(self.bundle, graph, kind, {
                    n: (tuple(engine.get_tensor_shape(n)), np.dtype(trt.nptype(engine.get_tensor_dtype(n))).name)
                    for n in names if engine.get_tensor_mode(n) == mode})

    def _allocate(self) -> None:
        """Device buffers for every tensor of both contexts (state inputs of search included),
        pinned host arrays for the crops and outputs; every address is set once, here."""
        m = self.bundle.manifest
        self._buffers = {}
        for graph in ("template", "search"):
            spec = m.graph(graph)
            for t in spec.inputs + spec.outputs:
                if graph == "template" and t.name in m.state_names:
                    continue  # template outputs go to each state's own buffers
                self._buffers[(graph, t.name)] = buf = _DeviceBuffer(t)
                self._exec_contexts[graph].set_tensor_address(t.name, buf.ptr)
        search = m.graph("search")
        host_side = (m.graph("template").inputs[0], search.inputs[0], *search.outputs)
        self._host = {t.name: _PinnedArray(t) for t in host_side}
        self.bound_state: TensorRTTemplateState | None = None

    def _make_info(self) -> BackendInfo:
        m = self.bundle.manifest
        return BackendInfo.from_manifest(m, **{"bundle": str(self.bundle.root), "tensorrt": self.trt_version, **self.gpu,
                   "cuda_graph": self.use_cuda_graph})

    # -- copies ------------------------------------------------------------------------------
    def _copy(self, dst: int, src: int, nbytes: int, kind: str) -> None:
        kinds = self._cudart.cudaMemcpyKind
        _call(self._cudart.cudaMemcpyAsync(dst, src, nbytes, getattr(kinds, kind), self._stream))

    def _sync(self) -> None:
        _call(self._cudart.cudaStreamSynchronize(self._stream))

    # -- the two branches --------------------------------------------------------------------
    def describe(self) -> str:
        return f"tensorrt {self.info.extra['tensorrt']} on {self.info.extra['gpu']}"

    def _template_impl(self, crops: np.ndarray) -> TensorRTTemplateState:
        m = self.bundle.manifest
        spec = m.graph("template")
        crop_host, crop_dev = self._host[spec.inputs[0].name], self._buffers[("template", spec.inputs[0].name)]
        crop_host.array[...] = crops
        state = TensorRTTemplateState({t.name: _DeviceBuffer(t) for t in spec.outputs}, id(self))
        for name, buf in state.buffers.items():
            self._exec_contexts["template"].set_tensor_address(name, buf.ptr)
        self._copy(crop_dev.ptr, crop_host.ptr, crop_dev.nbytes, "cudaMemcpyHostToDevice")
        self._execute("template")
        self._sync()
        return state

    def _search_impl(self, crops: np.ndarray, state: TensorRTTemplateState) -> tuple[np.ndarray, np.ndarray]:
        self._bind_once(self, state, self._bind_state)
        spec = self.bundle.manifest.graph("search")
        self._host[spec.inputs[0].name].array[...] = crops
        if self.use_cuda_graph:
            if self._graph_exec is None:
                self._capture()
            _call(self._cudart.cudaGraphLaunch(self._graph_exec, self._stream))
        else:
            self._search_step()
        self._sync()
        box, score = (self._host[t.name].array.copy() for t in spec.outputs)
        return box, score

    def _search_step(self) -> None:
        """Crop in, search engine, outputs out: all enqueued on the stream (capturable)."""
        spec = self.bundle.manifest.graph("search")
        crop = spec.inputs[0].name
        dev = self._buffers[("search", crop)]
        self._copy(dev.ptr, self._host[crop].ptr, dev.nbytes, "cudaMemcpyHostToDevice")
        self._execute("search")
        for t in spec.outputs:
            out = self._buffers[("search", t.name)]
            self._copy(self._host[t.name].ptr, out.ptr, out.nbytes, "cudaMemcpyDeviceToHost")

    def _capture(self) -> None:
        """Record the search step once into a CUDA graph (after one ordinary run, which TensorRT
        needs before capture to finish its lazy setup)."""
        self._search_step()
        self._sync()
        mode = self._cudart.cudaStreamCaptureMode.cudaStreamCaptureModeThreadLocal
        _call(self._cudart.cudaStreamBeginCapture(self._stream, mode))
        self._search_step()
        graph = _call(self._cudart.cudaStreamEndCapture(self._stream))
        self._graph_exec = _call(self._cudart.cudaGraphInstantiate(graph, 0))
        _call(self._cudart.cudaGraphDestroy(graph))

    def _bind_state(self, state: TensorRTTemplateState) -> None:
        """Copy a new target's state into the search context's state buffers, device to device
        (fixed addresses, so a captured CUDA graph stays valid)."""
        for name, buf in state.buffers.items():
            self._copy(self._buffers[("search", name)].ptr, buf.ptr, buf.nbytes, "cudaMemcpyDeviceToDevice")

    def _execute(self, graph: str) -> None:
        if not self._exec_contexts[graph].execute_async_v3(int(self._stream)):
            raise RuntimeError(f"TensorRT could not enqueue the {graph} engine")

    def _release(self) -> None:
        self.bound_state = None
        if self._graph_exec is not None:
            _call(self._cudart.cudaGraphExecDestroy(self._graph_exec))
            self._graph_exec = None
        self._sync()
        for buf in [*self._buffers.values(), *self._host.values()]:
            buf.free()
        self._exec_contexts, self._engines = {}, {}
        _call(self._cudart.cudaStreamDestroy(self._stream))
