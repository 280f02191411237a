"""RKNN backend over an exported bundle (``target: rknn``, ``.rknn`` models for a Rockchip NPU).

The ``.rknn`` files hold code for one Rockchip NPU (the bundle's ``runtime.target_platform``:
rk3588, rk3576, rk3568 or rk3562) and run only there, through ``rknnlite.api.RKNNLite``
(``rknn-toolkit-lite2``, aarch64 wheels installed on the board). Nowhere else can they run: on
x86, RKNN-Toolkit2 only simulates the NPU, and only from the ONNX graph in the session that
converted it, which is why the export measures its parity in that simulator and records it in
the manifest (``info --bundle B`` shows it). Loading a bundle here without RKNNLite is the
registry entry's one-line error (``catalogue``: ``missing``).

On the board (written against RKNNLite's documented API: ``load_rknn``, ``init_runtime``,
``inference(inputs=[...], data_format=...)``, ``release``; it has not run here): one RKNNLite
context per graph. Their crop input is float32 (RKNN refuses uint8), so the uint8 crop is fed as
float32 with the same values (0-255, RGB, NHWC); the graph normalises as before. The manifest's
``runtime.crop_input`` says so and ``runtime.data_format`` says how the arrays are handed over
(``nchw``: as the ONNX inputs declare them, untransposed: what the export's simulator parity
used). A context runs one call at a time, so calls from several threads take turns.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import catalogue
from ..bundle import Bundle
from .base import BackendInfo, BackendUnavailable, BundleBackend, check_graph_io

__all__ = ["RknnBackend", "RknnTemplateState", "MODEL_ROLE", "FLOAT_ONNX_ROLE", "PLATFORMS", "CORE_MASKS",
           "rknnlite_class", "crop_input_dtype"]

MODEL_ROLE = "rknn_model"  # the .rknn models
FLOAT_ONNX_ROLE = "rknn_float_onnx"  # the float-input ONNX copy they were converted from
PLATFORMS = ("rk3588", "rk3576", "rk3568", "rk3562")  # the SoCs RKNN-Toolkit2 2.5 builds for
CORE_MASKS = ("auto", "0", "1", "2", "0_1", "0_1_2")  # RKNNLite.NPU_CORE_<mask upper-cased>: rk3588's three cores
NAME = "rknn"


def rknnlite_class():
    """``rknnlite.api.RKNNLite``, or the registry entry's one-line BackendUnavailable (only a
    Rockchip board has it)."""
    try:
        from rknnlite.api import RKNNLite
    except ImportError as exc:
        raise BackendUnavailable(catalogue.backend_entry(NAME).missing) from exc
    return RKNNLite


def crop_input_dtype(manifest) -> np.dtype:
    """The dtype the ``.rknn`` models take the crops in (``runtime.crop_input.dtype``)."""
    record = (manifest.runtime or {}).get("crop_input")
    if not isinstance(record, dict) or "dtype" not in record:
        raise ValueError("the rknn bundle's manifest.json has no runtime.crop_input (the dtype its .rknn models "
                         "take the crops in); re-export the bundle")
    return np.dtype(record["dtype"])


@dataclass
class RknnTemplateState:
    """The template state of one ``template()`` call: numpy arrays in the search inputs' order."""

    arrays: list[np.ndarray]
    owner: int  # id() of the backend that made it


class RknnBackend(BundleBackend):
    """``RknnBackend(bundle=DIR, core_mask="auto", verify=True)``: on a Rockchip board.

    ``core_mask``: which NPU cores run the graphs (rk3588: "0", "1", "2", "0_1", "0_1_2";
    "auto": RKNNLite's choice); the other chips have one core and take "auto" only.
    """

    name = NAME
    graph_roles, files_named, export_target = (MODEL_ROLE,), "RKNN models", NAME
    serialize_calls = True  # one RKNNLite context per graph, one call at a time
    state_type = RknnTemplateState

    def __init__(self, bundle: str | os.PathLike | Bundle, core_mask: str = "auto", verify: bool = True) -> None:
        super().__init__()
        self.bundle = self._open_bundle(bundle, verify)
        lite = rknnlite_class()
        m = self.bundle.manifest
        self._crop_dtype = crop_input_dtype(m)
        self._data_format = m.runtime.get("data_format", "nchw")
        self.platform = m.runtime.get("target_platform", "")
        self.core_mask = _check_core_mask(core_mask, self.platform)
        self._runners = {g: self._load(lite, g) for g in ("template", "search")}
        self._check_outputs()
        self.info = BackendInfo.from_manifest(m, bundle=str(self.bundle.root), platform=self.platform,
                                              core_mask=self.core_mask, executes="fp16 (NPU)")

    def _load(self, lite, graph: str):
        runner = lite(verbose=False)
        path = self.bundle.path(graph, MODEL_ROLE)
        if runner.load_rknn(str(path)) != 0:
            raise ValueError(f"{path}: RKNNLite cannot read this model; the bundle is damaged: export it again")
        if runner.init_runtime(core_mask=getattr(lite, f"NPU_CORE_{self.core_mask.upper()}")) != 0:
            runner.release()
            raise RuntimeError(f"{path}: RKNNLite cannot start it on this NPU (the model is built for "
                               f"{self.platform}; check the board's chip and its rknpu driver)")
        return runner

    def _check_outputs(self) -> None:
        """The models' outputs are the manifest's (names in order, shapes, float32), on zero crops."""
        m = self.bundle.manifest
        state = self._run("template", [self._zeros("template")])
        check_graph_io(self.bundle, "template", "output", _described([t.name for t in m.graph("template").outputs], state))
        found = self._run("search", [self._zeros("search"), *state])
        check_graph_io(self.bundle, "search", "output", _described([t.name for t in m.graph("search").outputs], found))

    def _zeros(self, graph: str) -> np.ndarray:
        return np.zeros(self.bundle.manifest.graph(graph).inputs[0].shape, np.uint8)

    def _run(self, graph: str, inputs: list[np.ndarray]) -> list[np.ndarray]:
        inputs = [inputs[0].astype(self._crop_dtype), *inputs[1:]]  # the crop's values, as the model's dtype
        outputs = self._runners[graph].inference(inputs=inputs, data_format=self._data_format)
        if outputs is None:
            raise RuntimeError(f"RKNNLite's inference of the {graph} graph failed (its log above says why)")
        return [np.asarray(o, dtype=np.float32) for o in outputs]

    # -- the two branches --------------------------------------------------------------------
    def describe(self) -> str:
        return f"rknn RKNNLite on the {self.platform} NPU (core mask {self.core_mask}), fp16"

    def _template_impl(self, crops: np.ndarray) -> RknnTemplateState:
        return RknnTemplateState(self._run("template", [crops]), id(self))

    def _search_impl(self, crops: np.ndarray, state: Any) -> tuple[np.ndarray, np.ndarray]:
        self._check_own_state(state, RknnTemplateState)
        box, score = self._run("search", [crops, *state.arrays])[:2]
        return box, score

    def _release(self) -> None:
        for runner in self._runners.values():
            runner.release()
        self._runners = {}


def _check_core_mask(core_mask: str, platform: str) -> str:
    if core_mask not in CORE_MASKS:
        raise ValueError(f"core_mask must be one of {', '.join(CORE_MASKS)}, got {core_mask!r}")
    if core_mask != "auto" and platform != PLATFORMS[0]:
        raise ValueError(f"core_mask {core_mask!r}: only {PLATFORMS[0]} has several NPU cores (this bundle: {platform})")
    return core_mask


def _described(names: list[str], arrays: list[np.ndarray]) -> dict[str, tuple[tuple, str]]:
    return {name: (a.shape, a.dtype.name) for name, a in zip(names, arrays)}
