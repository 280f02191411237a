"""A stand-in for ``rknnlite.api.RKNNLite`` (rknn-toolkit-lite2 exists only on Rockchip boards),
for tests of the rknn backend's own code: what it feeds, in which dtype and layout, how it passes
the state and checks the outputs, how it releases. It follows RKNNLite's documented API
(``load_rknn``, ``init_runtime(core_mask=)``, ``inference(inputs=, data_format=)``,
``release``; 0 for success, None for a failed inference) and runs the bundle's float-input
ONNX copy (the graph the ``.rknn`` file was built from) in ONNX Runtime, in fp32: it says
nothing about the NPU or RKNNLite themselves."""
from __future__ import annotations

from pathlib import Path

import numpy as np


class RKNNLite:
    NPU_CORE_AUTO, NPU_CORE_0, NPU_CORE_1, NPU_CORE_2 = 0, 1, 2, 4
    NPU_CORE_0_1, NPU_CORE_0_1_2 = 3, 7
    calls: list = []  # (graph, [(dtype, shape) of each input], data_format), across instances

    def __init__(self, verbose=False):
        self.path = self.session = None

    def load_rknn(self, path):
        path = Path(path)
        if path.read_bytes()[:4] != b"RKNN":
            return -1
        self.path = path
        return 0

    def init_runtime(self, core_mask=NPU_CORE_AUTO):
        import onnxruntime as ort

        graph = self.path.name.split(".")[0]
        self.session = ort.InferenceSession(str(self.path.parent / f"{graph}.float_input.onnx"))
        return 0

    def inference(self, inputs, data_format=None):
        assert self.session is not None, "inference before init_runtime"
        RKNNLite.calls.append((self.path.name.split(".")[0], [(a.dtype.name, a.shape) for a in inputs], data_format))
        names = [i.name for i in self.session.get_inputs()]
        if len(inputs) != len(names) or data_format != "nchw":  # "nhwc" would transpose a 4-D input here
            return None
        return self.session.run(None, dict(zip(names, inputs)))

    def release(self):
        self.session = None
