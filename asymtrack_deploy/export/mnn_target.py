"""The ``mnn`` target: MNN models (``template.<precision>.mnn``, ``search.<precision>.mnn``).

MNN (Alibaba) is the CPU/GPU runtime of many ARM Linux, Android and iOS deployments. Its converter
takes our staged fp32 ONNX graphs as they are (no edits; uint8 crop input, the state tensors as
named inputs) and writes one ``.mnn`` file per graph:

* fp32: the graphs as converted;
* fp16: weights stored in fp16 (``--fp16``: half the files); the backend computes in fp16 where
  the CPU has fp16 arithmetic (MNN's "low" precision: ARMv8.2 and later) and in fp32 elsewhere
  (x86: measured here, the fp16-weight graph's boxes are the same under both settings);
* int8: weights stored as symmetric int8 (``--weightQuantBits 8``, per channel), dequantized at
  load; activations stay float, so no calibration is needed. MNN's full int8 quantiser
  (``mnnquant``) is not offered: it takes calibration *images* through its own preprocessing,
  which fits neither the state inputs of the search graph nor our in-graph normalisation.

Measured with the demo weights on the 8 export-time parity crop pairs (max box error,
normalised; MNN 3.6.1, x86): fp32 1.2e-4, fp16 weights 1.5e-3, int8 weights 3.0e-3. fp32 is
above the 1e-4 of ``parity.tolerances``, which assumes ONNX Runtime's kernels: MNN's fp32 template
branch differs from them by ~1.5e-5 relative (its own convolution and GELU kernels; turning off
Winograd or geometry compute changes nothing), so the ``mnn`` catalogue entry declares fp32 box
5e-4 (4x the measured error); its tracking tolerance stays 0.999 (``parity`` on the built-in
sequence: teacher-forced min IoU 0.99974, max 0.049 px).

The converter is MNN's own C++ converter (``_tools.mnnconvert``, shipped in the ``MNN`` wheel),
called directly in a child process (``toolkit_process``): the Python ``mnnconvert`` command
around it uploads usage logs and pip-installs a logging package on first use, which an export
must never do.
"""
from __future__ import annotations

from pathlib import Path

from ..runtimes.mnn_backend import MODEL_ROLE, mnn_module
from .pipeline import Conversion, ConversionJob, Converter
from .toolkit_process import ToolkitError, run_toolkit

__all__ = ["MnnConverter", "MODEL_ROLE", "model_file", "QUANTIZATION_FLAGS"]


BIZ_CODE = "asymtrack"  # MNN's model tag: recorded in the file, read back by the backend
_GRAPHS = ("template", "search")
QUANTIZATION_FLAGS = {"fp32": [], "fp16": ["--fp16"], "int8": ["--weightQuantBits", "8"]}
_CONVERT = "import sys, _tools; _tools.mnnconvert(['mnnconvert', *sys.argv[1:]])"


def model_file(graph: str, precision: str) -> str:
    """``search.fp16.mnn``."""
    return f"{graph}.{precision}.mnn"


class MnnConverter(Converter):
    target = "mnn"

    def prepare(self, precision: str) -> None:
        mnn_module()

    def convert(self, job: ConversionJob) -> Conversion:
        for g in _GRAPHS:
            _convert_graph(job.onnx_path(g), job.stage / model_file(g, job.precision), job.precision)
        files = {g: {MODEL_ROLE: model_file(g, job.precision)} for g in _GRAPHS}
        export = {"converter": f"MNN {_version()} mnnconvert -f ONNX {' '.join(QUANTIZATION_FLAGS[job.precision])}".strip(),
                  "weights": _weights_record(job.precision)}
        return Conversion(files, export, {"mnn": _version(), "biz_code": BIZ_CODE})


def _convert_graph(onnx_path: Path, out: Path, precision: str) -> None:
    args = ["-f", "ONNX", "--modelFile", onnx_path, "--MNNModel", out, "--bizCode", BIZ_CODE,
            *QUANTIZATION_FLAGS[precision]]
    output = run_toolkit(_CONVERT, args, f"MNN's converter on {onnx_path.name}")
    if "Converted Success" not in output or not out.is_file():
        raise ToolkitError(f"MNN's converter did not convert {onnx_path.name}: ...{output[-2000:]}")


def _weights_record(precision: str) -> str:
    return {"fp32": "float32", "fp16": "float16 (computed in fp16 where the CPU has it, else fp32)",
            "int8": "int8 symmetric per output channel, dequantized at load; activations float"}[precision]


def _version() -> str:
    return mnn_module().version()
