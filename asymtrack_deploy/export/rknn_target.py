"""The ``rknn`` target: ``.rknn`` models for a Rockchip NPU (``--platform`` rk3588, rk3576,
rk3568 or rk3562), ``template.<platform>.fp16.rknn`` and ``search.<platform>.fp16.rknn``.

RKNN-Toolkit2 (2.5.0) converts our staged ONNX graphs with two changes, both in a copy kept in
the bundle (role ``rknn_float_onnx``, ``<graph>.float_input.onnx``):

* the crop input is float32 instead of uint8: the toolkit refuses a uint8 input ("Not Support
  Dtype: 2"). The values stay the uint8 crop's (0-255, RGB, NHWC); the graph's own cast to float
  becomes a no-op and it normalises as before. The manifest's ``runtime.crop_input`` says so, and
  the backend feeds the crops that way;
* the copy's ``value_info`` is dropped: it still types the input's consumers as uint8.

The NPU has no fp32 mode: ``build(do_quantization=False)`` is fp16, the only precision offered.
int8 is not: RKNN's default int8 scheme (``build(do_quantization=True)``, the calibration feeds
of ``export.calibration_feeds`` as ``.npy`` lists), tried in the simulator with the demo
weights on the 8 parity pairs, missed int8's 0.1 box tolerance with 8 calibration pairs (0.19)
and met it by a thin margin with 64 (8.9e-2; template state 0.74 from ONNX Runtime fp32), with
no tracking check possible here.

RKNN-Toolkit2 pins torch <= 2.4, numpy <= 1.26.4, onnx <= 1.18 and protobuf <= 4.25.4, so it
lives in its own virtual environment (``toolkit_python("rknn", ...)``: ``$ASYMTRACK_RKNN_PYTHON``
or ``~/.cache/asymtrack-deploy/toolkits/rknn``, made by the commands of ``_INSTALL``, the
README's). It runs there as one child process with the network refused (``toolkit_process``):
per graph, ``load_onnx``, ``build``, ``export_rknn``, then ``init_runtime()`` with no target,
which is the toolkit's x86 simulator of the NPU, on the export-time parity crops (the search
graph on the simulator's own template state). The models cannot run anywhere but on the chip
(``runtimes.rknn_backend``), so the export-time parity compares those simulator outputs
(``SimulatorRecord``) with the PyTorch reference, at fp16's tolerance: it verifies the
conversion, not the NPU's speed or its on-chip results. The simulator's template state is also
compared with ONNX Runtime's on the fp32 graphs (``export.simulator``): values up to ~30 in
fp16 put that difference at a few 1e-2.

Measured (demo weights, 8 crop pairs, rk3588, x86, load 1.8 on 2 cores): the whole export 29 s;
simulator box error 2.6e-3 (score 2.7e-3) against PyTorch fp32; template state 4.6e-2 from ONNX
Runtime fp32.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..bundle import Manifest
from ..runtimes.base import Backend, BackendInfo, BackendUnavailable
from ..runtimes.rknn_backend import FLOAT_ONNX_ROLE, MODEL_ROLE, PLATFORMS
from .pipeline import Conversion, ConversionJob, Converter
from .toolkit_process import printed_versions, run_toolkit, toolkit_python

__all__ = ["RknnConverter", "SimulatorRecord", "model_file", "float_onnx_file", "TOOLKIT", "TOOLKIT_ENV"]

TOOLKIT = "rknn"  # the toolkit's virtual environment, under the toolkits home
TOOLKIT_ENV = "ASYMTRACK_RKNN_PYTHON"
DATA_FORMAT = "nchw"  # the arrays handed over as the ONNX inputs declare them, untransposed
_GRAPHS = ("template", "search")
_VENV = "~/.cache/asymtrack-deploy/toolkits/rknn"
_INSTALL = (f"python -m venv {_VENV} && {_VENV}/bin/pip install numpy==1.26.4 protobuf==4.25.4 onnx==1.18.0 "
            f"'onnxruntime<1.23' scipy ruamel.yaml psutil tqdm opencv-python-headless fast-histogram torch==2.13.0 "
            f"&& {_VENV}/bin/pip install --no-deps 'setuptools<70' rknn-toolkit2==2.5.0")

# Runs in the toolkit's interpreter: argv = platform, feeds.npz, results.npz, then per graph
# (template, search) its float-input ONNX and its .rknn; prints the versions.
_CONVERT = """
import json, sys
import numpy as np
from importlib import metadata
from rknn.api import RKNN
platform, feeds, results = sys.argv[1:4]
graphs = {"template": sys.argv[4:6], "search": sys.argv[6:8]}
data, out = np.load(feeds), {}
def check(ret, what, graph):
    if ret != 0:
        sys.exit(f"RKNN-Toolkit2 {what} failed on the {graph} graph (ret {ret})")
def simulate(graph, batches):
    onnx_path, rknn_path = graphs[graph]
    rknn = RKNN(verbose=False)
    check(rknn.config(target_platform=platform), "config", graph)
    check(rknn.load_onnx(model=onnx_path), "load_onnx", graph)
    check(rknn.build(do_quantization=False), "build", graph)
    check(rknn.export_rknn(rknn_path), "export_rknn", graph)
    check(rknn.init_runtime(), "init_runtime (simulator)", graph)
    found = [rknn.inference(inputs=inputs, data_format="%s") for inputs in batches]
    rknn.release()
    if any(f is None for f in found):
        sys.exit(f"RKNN-Toolkit2's simulator failed on the {graph} graph")
    return [np.stack([np.asarray(f[k], dtype=np.float32) for f in found]) for k in range(len(found[0]))]
states = simulate("template", [[t] for t in data["templates"]])
found = simulate("search", [[s, *[state[i] for state in states]] for i, s in enumerate(data["searches"])])
np.savez(results, **{f"state{k}": a for k, a in enumerate(states)}, **{f"search{k}": a for k, a in enumerate(found)})
print("VERSIONS " + json.dumps({d: metadata.version(d) for d in ("rknn-toolkit2", "torch", "onnx")}))
""" % DATA_FORMAT


def model_file(graph: str, platform: str) -> str:
    """``search.rk3588.fp16.rknn``."""
    return f"{graph}.{platform}.fp16.rknn"


def float_onnx_file(graph: str) -> str:
    """``search.float_input.onnx``."""
    return f"{graph}.float_input.onnx"


class RknnConverter(Converter):
    """``RknnConverter(platform="rk3588")``: the Rockchip SoC the models are built for."""

    target = "rknn"

    def __init__(self, platform: str = PLATFORMS[0]) -> None:
        if platform not in PLATFORMS:
            raise ValueError(f"--platform {platform!r} is not a Rockchip NPU RKNN-Toolkit2 builds for: "
                             f"expected one of {', '.join(PLATFORMS)}")
        self.platform = platform
        self._record: SimulatorRecord | None = None

    def prepare(self, precision: str) -> None:
        _toolkit()

    def convert(self, job: ConversionJob) -> Conversion:
        if job.parity_crops is None:
            raise ValueError("the rknn converter needs the export-time parity crops (it runs them in the simulator)")
        python = _toolkit()
        for g in _GRAPHS:
            _write_float_onnx(job.onnx_path(g), job.stage / float_onnx_file(g))
        batches = _batched(job.parity_crops, job.source.batch)
        feeds, results = job.stage / ".rknn_feeds.npz", job.stage / ".rknn_results.npz"
        np.savez(feeds, templates=batches["templates"].astype(np.float32), searches=batches["searches"].astype(np.float32))
        args = [self.platform, feeds, results]
        for g in _GRAPHS:
            args += [job.stage / float_onnx_file(g), job.stage / model_file(g, self.platform)]
        output = run_toolkit(_CONVERT, args, f"RKNN-Toolkit2 ({self.platform})", python=python, cwd=job.stage)
        versions = printed_versions(output, "RKNN-Toolkit2's conversion")
        with np.load(results) as found:
            simulated = {k: found[k] for k in found.files}
        feeds.unlink()
        results.unlink()
        states = [simulated[f"state{k}"] for k in range(len(job.source.state))]
        self._record = SimulatorRecord(batches, states, simulated["search0"], simulated["search1"],
                                       f"RKNN-Toolkit2 {versions['rknn-toolkit2']} simulator of the {self.platform} "
                                       f"NPU (x86), fp16, on these crops at export")
        files = {g: {FLOAT_ONNX_ROLE: float_onnx_file(g), MODEL_ROLE: model_file(g, self.platform)} for g in _GRAPHS}
        export = {
            "converter": f"RKNN-Toolkit2 {versions['rknn-toolkit2']} for {self.platform}: load_onnx of "
                         f"{FLOAT_ONNX_ROLE}, build(do_quantization=False) (fp16: the NPU has no fp32 mode)",
            FLOAT_ONNX_ROLE: "a copy of source_onnx whose crop input (template, search) is float32, since RKNN "
                             "refuses uint8 ('Not Support Dtype: 2'); it takes the uint8 crop's values (0-255, RGB, "
                             "NHWC) and normalises them as before; its stale value_info dropped",
            "simulator": {"verified": "parity in RKNN-Toolkit2's x86 simulator; not on the NPU (speed, on-chip results)",
                          "template_state_max_abs_diff_vs_onnxruntime_fp32": _state_difference(job, batches, states)},
        }
        runtime = {"rknn_toolkit2": versions["rknn-toolkit2"], "target_platform": self.platform,
                   "crop_input": {"dtype": "float32", "values": "0-255: the uint8 crop's, unnormalised",
                                  "layout": "NHWC (B, H, W, 3)", "color_order": "RGB"},
                   "data_format": DATA_FORMAT}
        return Conversion(files, export, runtime)

    def parity_stand_in(self, job: ConversionJob, manifest: Manifest) -> Backend:
        if self._record is None:
            raise RuntimeError("the rknn converter's parity stand-in is asked for before its conversion")
        return self._record.backend(manifest)


def _toolkit() -> Path:
    python = toolkit_python(TOOLKIT, TOOLKIT_ENV)
    if python is None:
        raise BackendUnavailable(
            f"--target rknn needs RKNN-Toolkit2 in its own virtual environment (it pins torch <= 2.4, numpy <= "
            f"1.26.4, onnx <= 1.18): {_INSTALL} (or set {TOOLKIT_ENV} to its python); see the README's Edge targets")
    return python


def _write_float_onnx(source: Path, out: Path) -> None:
    """``source`` with its first input (the uint8 crop) made float32 and its value_info dropped."""
    import onnx

    model = onnx.load(str(source))
    crop = model.graph.input[0].type.tensor_type
    if crop.elem_type != onnx.TensorProto.UINT8:
        raise ValueError(f"{source.name}: expected a uint8 crop input, found ONNX element type {crop.elem_type}")
    crop.elem_type = onnx.TensorProto.FLOAT
    del model.graph.value_info[:]
    onnx.checker.check_model(model)
    onnx.save(model, str(out))


def _batched(crops, batch: int) -> dict[str, np.ndarray]:
    """The parity crops as (calls, batch, H, W, 3) uint8: one simulator call per graph batch."""
    return {name: getattr(crops, name).reshape(-1, batch, *getattr(crops, name).shape[1:])
            for name in ("templates", "searches")}


def _state_difference(job: ConversionJob, batches: dict[str, np.ndarray], states: list[np.ndarray]) -> float:
    """Max |simulator state - ONNX Runtime state| of the fp32 template graph, over the crops."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(job.onnx_path("template")), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    reference = [session.run(None, {name: t}) for t in batches["templates"]]
    return float(max(np.abs(states[k][i] - reference[i][k]).max()
                     for i in range(len(reference)) for k in range(len(states))))


class SimulatorRecord:
    """What the toolkit's simulator gave at export: per graph batch, the crops it ran, the
    template state it computed and the search graph's boxes and scores."""

    def __init__(self, batches: dict[str, np.ndarray], states: list[np.ndarray], boxes: np.ndarray,
                 scores: np.ndarray, description: str) -> None:
        self.templates, self.searches = batches["templates"], batches["searches"]
        self.states, self.boxes, self.scores, self.description = states, boxes, scores, description

    def backend(self, manifest: Manifest) -> "SimulatedRknn":
        return SimulatedRknn(self, manifest)


class SimulatedRknn(Backend):
    """The export-time parity's candidate for an rknn bundle: it answers exactly the crops the
    simulator ran (any other crop is an error, never a guess), with the simulator's outputs."""

    name = "rknn"

    def __init__(self, record: SimulatorRecord, manifest: Manifest) -> None:
        super().__init__()
        self.record = record
        self.info = BackendInfo.from_manifest(manifest, simulator=True, executes="fp16 (simulated)")

    def describe(self) -> str:
        return self.record.description

    def _call(self, crops: np.ndarray, recorded: np.ndarray, graph: str) -> int:
        for index, batch in enumerate(recorded):
            if np.array_equal(batch, crops):
                return index
        raise ValueError(f"the simulator ran the {graph} graph only on the export-time parity crops, not on these")

    def _template_impl(self, crops: np.ndarray) -> int:
        return self._call(crops, self.record.templates, "template")

    def _search_impl(self, crops: np.ndarray, state: int) -> tuple[np.ndarray, np.ndarray]:
        index = self._call(crops, self.record.searches, "search")
        if index != state:
            raise ValueError("the simulator ran these search crops with another template's state")
        return self.record.boxes[index], self.record.scores[index]
