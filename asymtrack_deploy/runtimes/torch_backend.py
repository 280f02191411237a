"""The PyTorch reference as a backend: CPU, or CUDA with the search step in a CUDA graph.

This is the only runtime module that imports ``models/``. On CUDA the template state stays on
the device and the search step (normalisation included) is captured once in a CUDA graph over
static buffers; each frame copies the crop in, replays the graph and reads two small tensors
out. ``precision="fp16"`` runs the network in half precision (CUDA only).

``mode="official"`` runs each frame the way the official code does (template features cached,
dynamic-conv weights re-derived and template tokens re-projected every frame, eager, no graph):
the benchmark baseline.
"""
from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np

from .base import Backend, BackendInfo, require

__all__ = ["TorchBackend", "default_checkpoint"]


def default_checkpoint() -> Path | None:
    """The demo checkpoint that ships with the package, when there is one."""
    path = Path(__file__).resolve().parents[1] / "data" / "weights" / "asymtrack_tiny_demo.pth"
    return path if path.is_file() else None


class TorchBackend(Backend):
    name = "torch"

    def __init__(
        self,
        variant: str = "tiny",
        checkpoint: str | Path | None = None,
        device: str = "cpu",
        precision: str = "fp32",
        cuda_graph: bool | None = None,
        batch: int = 1,
        threads: int | None = None,
        random_weights: bool = False,
        seed: int = 0,
        model=None,
        mode: str = "split",
    ):
        super().__init__()
        self.torch = torch = require("torch", "torch")
        from ..models import build_model, load_checkpoint

        if mode not in ("split", "official"):
            raise ValueError(f"mode must be 'split' or 'official', got {mode!r}")
        self.mode = mode
        if precision not in ("fp32", "fp16"):
            raise ValueError(f"torch backend precision must be fp32 or fp16, got {precision!r}")
        self.device = torch.device(device)
        if precision == "fp16" and self.device.type != "cuda":
            raise ValueError("fp16 needs a CUDA device (CPU half precision is slow and inexact)")
        if threads:
            torch.set_num_threads(threads)
        if model is None:
            model = self._build(build_model, load_checkpoint, variant, checkpoint, random_weights, seed)
        self.dtype = torch.float16 if precision == "fp16" else torch.float32
        self.model = model.eval().to(self.device, self.dtype)
        cfg = self.model.cfg
        self.info = BackendInfo(
            variant=cfg.name, template_size=cfg.template_size, search_size=cfg.search_size,
            template_factor=cfg.template_factor, search_factor=cfg.search_factor, batch=batch,
            precision=precision, target="torch" if mode == "split" else "torch-official",
            extra={"device": str(self.device), "checkpoint": str(checkpoint) if checkpoint else None},
        )
        default_graph = self.device.type == "cuda" and mode == "split"
        self.use_cuda_graph = default_graph if cuda_graph is None else cuda_graph
        if self.use_cuda_graph and self.device.type != "cuda":
            raise ValueError("cuda_graph=True needs a CUDA device")
        self._graph = None

    @staticmethod
    def _build(build_model, load_checkpoint, variant, checkpoint, random_weights, seed):
        import torch

        if checkpoint is None and not random_weights:
            checkpoint = default_checkpoint()
            if checkpoint is None:
                raise ValueError("no checkpoint given and no demo weights installed: pass checkpoint=PATH "
                                 "(or random_weights=True for timing only)")
        torch.manual_seed(seed)
        model = build_model(variant)
        return model if checkpoint is None else load_checkpoint(model, checkpoint)

    # -- branches ----------------------------------------------------------------------------
    def _to_input(self, crops: np.ndarray):
        tensor = self.torch.from_numpy(crops).to(self.device, non_blocking=True)
        return self.model.normalize(tensor)

    def _template_impl(self, crops: np.ndarray):
        with self.torch.inference_mode(), self._exact_fp32():
            if self.mode == "official":
                from ..models.official import official_template_cache

                return official_template_cache(self.model, self._to_input(crops))
            return self.model.template(self._to_input(crops))

    def _search_impl(self, crops: np.ndarray, state):
        if self.mode == "official":
            from ..models.official import official_search

            box, score = official_search(self.model, self._to_input(crops), state)
            return box.float().cpu().numpy(), score.float().cpu().numpy()
        if self.use_cuda_graph:
            box, score = self._replay(crops, state)
        else:
            with self.torch.inference_mode(), self._exact_fp32():
                box, score = self.model.search(self._to_input(crops), state)
        return box.float().cpu().numpy(), score.float().cpu().numpy()

    # -- CUDA graph --------------------------------------------------------------------------
    def _exact_fp32(self):
        """IEEE fp32 for the split model's fp32 work on CUDA (see ``_ieee_fp32``); the official
        baseline keeps PyTorch's defaults, as the official code runs."""
        cuda_fp32 = self.device.type == "cuda" and self.dtype == self.torch.float32 and self.mode == "split"
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

    def close(self) -> None:
        self._graph = self._static_out = self._static_state = self._bound_state = None
        self._static_crops = self._host_crops = self._host_view = None
        self.model = None


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
