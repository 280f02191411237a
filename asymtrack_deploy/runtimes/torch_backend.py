"""The PyTorch reference as a backend: CPU, or CUDA with the search step in a CUDA graph.

This is the only runtime module that imports ``models/``. On CUDA the template state stays on
the device and the search step (normalisation included) is captured once in a CUDA graph over
static buffers; each frame copies the crop in, replays the graph and reads two small tensors
out. ``precision="fp16"`` runs the network in half precision (CUDA only).

``OfficialTorchBackend`` (backend ``torch-official``) runs each frame the way the official code
does (template features cached, dynamic-conv weights re-derived and template tokens re-projected
every frame, eager, no graph): the benchmark baseline.
"""
from __future__ import annotations

import contextlib
import os

import numpy as np

from ..demo_weights import checkpoint_or_demo, default_checkpoint
from ..limits import check_threads
from ..tracker_spec import StepRules
from .base import Backend, BackendInfo, require

__all__ = ["TorchBackend", "OfficialTorchBackend", "default_checkpoint"]


def _load(variant, checkpoint, random_weights, seed):
    from ..models import load_model

    return load_model(variant, checkpoint, random_weights, seed)


class TorchBackend(Backend):
    """``TorchBackend(variant="tiny", checkpoint=None, device="cpu", precision="fp32")``.

    Weights: ``checkpoint``; without one the demo weights, or seeded random weights with
    ``random_weights=True`` (``seed``), for timing only; or ``model``, an AsymTrack already
    loaded (the export pipeline's parity reference runs the model it exports). ``cuda_graph``: capture the search
    step in a CUDA graph (None: on CUDA). ``threads``: torch's intra-op threads (process-wide).
    """

    name = "torch"
    # threads take turns: the CUDA graph's static buffers and the per-call TF32 switches are
    # shared state (on CPU torch parallelises each call over its own threads anyway)
    serialize_calls = True
    exact_fp32 = True  # fp32 on CUDA in IEEE fp32 (TF32 off); the official baseline keeps the defaults

    def __init__(
        self,
        variant: str = "tiny",
        checkpoint: str | os.PathLike | None = None,
        device: str = "cpu",
        precision: str = "fp32",
        cuda_graph: bool | None = None,
        batch: int = 1,
        threads: int | None = None,
        random_weights: bool = False,
        seed: int = 0,
        model=None,
    ):
        super().__init__()
        self.torch = require("torch", "torch")
        self.device, self.dtype = self._placement(device, precision)
        check_threads(threads)
        if threads:
            self.torch.set_num_threads(threads)
        if model is None:
            checkpoint = checkpoint_or_demo(checkpoint, random_weights)
            model = _load(variant, checkpoint, random_weights, seed)
        self.model = model.eval().to(self.device, self.dtype)
        self.info = self._make_info(precision, batch, checkpoint)
        self.use_cuda_graph = self._wants_cuda_graph(cuda_graph)
        self._graph = None

    # -- setup -------------------------------------------------------------------------------
    def _placement(self, device: str, precision: str):
        """The torch device and dtype, or a ValueError for a precision this device cannot run."""
        if precision not in ("fp32", "fp16"):
            raise ValueError(f"torch backend precision must be fp32 or fp16, got {precision!r}")
        device = self._device(device)
        if precision == "fp16" and device.type != "cuda":
            raise ValueError("fp16 needs a CUDA device (CPU half precision is slow and inexact)")
        return device, self.torch.float16 if precision == "fp16" else self.torch.float32

    def _device(self, name):
        """A torch device this machine has, or a ValueError saying what there is (torch's own
        errors are an AssertionError or a RuntimeError listing every device type it knows)."""
        try:
            device = self.torch.device(name)
        except (RuntimeError, TypeError):
            raise ValueError(f"device {name!r} is not a torch device (expected cpu, cuda or cuda:N)") from None
        if device.type == "cuda" and not self.torch.cuda.is_available():
            raise ValueError(f"device {name!r}: no CUDA device is available to this torch build "
                             f"(torch {self.torch.__version__}); use cpu")
        if device.type == "cuda" and (device.index or 0) >= self.torch.cuda.device_count():
            raise ValueError(f"device {name!r}: this machine has {self.torch.cuda.device_count()} CUDA device(s)")
        if device.type not in ("cpu", "cuda"):
            raise ValueError(f"device {name!r}: the torch backend runs on cpu or cuda")
        return device

    def _make_info(self, precision: str, batch: int, checkpoint) -> BackendInfo:
        cfg = self.model.cfg
        return BackendInfo(
            variant=cfg.name, rules=StepRules.from_model(cfg), batch=batch, precision=precision, target=self.name,
            extra={"device": str(self.device), "checkpoint": str(checkpoint) if checkpoint else None},
        )

    def _wants_cuda_graph(self, requested: bool | None) -> bool:
        use = self.device.type == "cuda" if requested is None else requested
        if use and self.device.type != "cuda":
            raise ValueError("cuda_graph=True needs a CUDA device")
        return use

    # -- branches ----------------------------------------------------------------------------
    def describe(self) -> str:
        return f"PyTorch {self.torch.__version__} {self.info.precision} {self.device.type.upper()}"

    def _to_input(self, crops: np.ndarray):
        tensor = self.torch.from_numpy(crops).to(self.device, non_blocking=True)
        return self.model.normalize(tensor)

    def _template_impl(self, crops: np.ndarray):
        with self.torch.inference_mode(), self._exact_fp32():
            return self.model.template(self._to_input(crops))

    def _search_impl(self, crops: np.ndarray, state):
        if self.use_cuda_graph:
            box, score = self._replay(crops, state)
        else:
            with self.torch.inference_mode(), self._exact_fp32():
                box, score = self.model.search(self._to_input(crops), state)
        return _host(box), _host(score)

    # -- CUDA graph --------------------------------------------------------------------------
    def _exact_fp32(self):
        """IEEE fp32 for the split model's fp32 work on CUDA (see ``_ieee_fp32``); the official
        baseline keeps PyTorch's defaults, as the official code runs."""
        cuda_fp32 = self.device.type == "cuda" and self.dtype == self.torch.float32 and self.exact_fp32
        return _ieee_fp32(self.torch) if cuda_fp32 else contextlib.nullcontext()

    def _capture(self, crops: np.ndarray, state) -> None:
        """Capture the search step over static buffers. Crops reach the device through a pinned
        host buffer (an asynchronous copy from pageable memory is neither asynchronous nor
        overlapped). The input buffers are ordinary tensors even when the caller is inside
        inference_mode, or copying the next target's state in outside it would be refused."""
        torch = self.torch
        with torch.inference_mode(False):
            self._host_crops = torch.empty(crops.shape, dtype=torch.uint8, pin_memory=True)
            self._static_crops = torch.from_numpy(crops).to(self.device)
            self._static_state = {k: v.clone() for k, v in state.items()}
        self._host_view = self._host_crops.numpy()
        with torch.cuda.device(self.device), torch.inference_mode(), self._exact_fp32():
            stream = torch.cuda.Stream(self.device)
            stream.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(stream):
                for _ in range(3):  # warm-up on a side stream, as CUDA graph capture requires
                    self.model.search(self.model.normalize(self._static_crops), self._static_state)
            torch.cuda.current_stream(self.device).wait_stream(stream)
            self._graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self._graph):
                self._static_out = self.model.search(self.model.normalize(self._static_crops), self._static_state)
        self._bound_state = state

    def _replay(self, crops: np.ndarray, state):
        if self._graph is None:
            self._capture(crops, state)
        if state is not self._bound_state:  # a new target: copy its state into the graph's buffers
            for name, tensor in state.items():
                self._static_state[name].copy_(tensor)
            self._bound_state = state
        # safe to overwrite: the previous frame's outputs were read (synchronising) after its copy
        np.copyto(self._host_view, crops)
        self._static_crops.copy_(self._host_crops, non_blocking=True)
        self._graph.replay()
        return self._static_out

    def _close_impl(self) -> None:
        self._graph = self._static_out = self._static_state = self._bound_state = None
        self._static_crops = self._host_crops = self._host_view = None
        self.model = None


class OfficialTorchBackend(TorchBackend):
    """The benchmark baseline: the torch backend's model and options, each frame run the way
    the official code runs it (``models.official``), eagerly: no CUDA graph."""

    name = "torch-official"
    exact_fp32 = False

    def _wants_cuda_graph(self, requested: bool | None) -> bool:
        if requested:
            raise ValueError("the official baseline runs eagerly, as the official code does: no cuda_graph")
        return False

    def _template_impl(self, crops: np.ndarray):
        from ..models.official import official_template_cache

        with self.torch.inference_mode():
            return official_template_cache(self.model, self._to_input(crops))

    def _search_impl(self, crops: np.ndarray, state):
        from ..models.official import official_search

        box, score = official_search(self.model, self._to_input(crops), state)
        return _host(box), _host(score)


def _host(tensor) -> np.ndarray:
    """A result tensor as float32 numpy on the host."""
    return tensor.float().cpu().numpy()


@contextlib.contextmanager
def _ieee_fp32(torch):
    """Convolutions and matrix products in IEEE fp32 inside the block; the caller's settings
    come back after it.

    cuDNN convolutions default to TF32 on Ampere and later GPUs: every convolution's inputs are
    rounded to a 10-bit mantissa, as in fp16, which moves the official tracker steps' boxes by up
    to 4e-3 of the search region (PyTorch's CPU half arithmetic), against the 0.05 px that fp32
    must hold. Kernels captured in a CUDA graph keep the setting they were captured with.
    """
    if hasattr(torch.backends.cudnn, "conv"):  # torch >= 2.9: the per-backend precision API
        knobs = [(torch.backends.cudnn.conv, "fp32_precision", "ieee"), (torch.backends.cuda.matmul, "fp32_precision", "ieee")]
    else:
        knobs = [(torch.backends.cudnn, "allow_tf32", False), (torch.backends.cuda.matmul, "allow_tf32", False)]
    saved = [getattr(owner, name) for owner, name, _ in knobs]
    for owner, name, value in knobs:
        setattr(owner, name, value)
    try:
        yield
    finally:
        for (owner, name, _), value in zip(knobs, saved):
            setattr(owner, name, value)
