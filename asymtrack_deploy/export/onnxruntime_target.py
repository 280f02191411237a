"""The ``onnxruntime`` target: ONNX graphs prepared for ONNX Runtime, fp32, fp16 or int8.

The converter of the export pipeline (``pipeline``) takes the staged fp32 ONNX graphs through
the rewrites for ONNX Runtime's kernels (``ort_rewrites``: exact, e.g. no ``Tile`` copy before a
product), the precision step, then ONNX Runtime's graph optimisations applied once, offline, and
saves the graph the backend runs (role ``onnx``: ``template.<precision>.onnx``,
``search.<precision>.onnx``):

* fp32: the graphs as exported;
* fp16: weights and arithmetic in fp16 by ONNX Runtime's float16 converter (the
  onnxconverter-common one, shipped inside onnxruntime) with ``keep_io_types=True``, so the
  inputs stay uint8 crops and fp32 state and the outputs fp32. Meant for GPU providers: the CPU
  provider lacks fp16 kernels for most ops and is slower in fp16 than in fp32;
* int8: static QDQ quantization (``onnxruntime.quantization.quantize_static``, QDQ format,
  per-channel int8 weights, uint8 activations, MinMax ranges) of the search graph's operations
  that ``int8_scope`` picks by measured sensitivity and speed (the dense ones with long
  reductions), over calibration crops: search crops plus the state of their own template
  crop. The template graph stays fp32 (once per target; see ``int8_scope``).

Offline optimisation level: ``ORT_ENABLE_EXTENDED``. It adds the fusions that matter here
(LayerNormalization, GELU, MatMul + Add, QDQ -> QLinearConv / QGemm / MatMulIntegerToFloat)
to the BASIC ones and stops short of ``ORT_ENABLE_ALL``, whose layout transformations (NCHWc
blocking) depend on the CPU's vector width and would tie the file to the machine that wrote it
(AVX-512 blocks of 16 do not run as well on AVX2 or ARM). The saved graph therefore runs on any
CPU; at load the backend's session still applies the layout step for the CPU it is on. The
fusions are those of the CPU provider; on a GPU provider export ``--target onnx`` (fp32) instead.
"""
from __future__ import annotations

from pathlib import Path

from ..runtimes.base import require
from .pipeline import Conversion, ConversionJob, Converter
from . import int8_scope
from .ort_rewrites import rewrite_for_onnxruntime
from .qdq import quantize_qdq

__all__ = ["OnnxRuntimeConverter", "OPTIMIZATION_LEVEL", "runtime_file"]

OPTIMIZATION_LEVEL = "ORT_ENABLE_EXTENDED"
_GRAPHS = ("template", "search")
_FP16_RECORD = "onnxruntime.transformers.float16.convert_float_to_float16 (keep_io_types=True)"


def runtime_file(graph: str, precision: str) -> str:
    """The file the backend runs: ``search.int8.onnx``."""
    return f"{graph}.{precision}.onnx"


class OnnxRuntimeConverter(Converter):
    target = "onnxruntime"

    def prepare(self, precision: str) -> None:
        require("onnxruntime", "onnxruntime")

    def convert(self, job: ConversionJob) -> Conversion:
        rewrites = _rewrite(job)
        export = {"rewrites": rewrites, **_precision_step(job)}
        export.update(_optimize_offline(job.stage, job.precision))
        files = {g: {"onnx": runtime_file(g, job.precision)} for g in _GRAPHS}
        return Conversion(files, export, _runtime())

    def backend_options(self) -> dict:
        return {"providers": ["CPUExecutionProvider"]}


def _scratch(stage: Path, graph: str) -> Path:
    return stage / f".{graph}.unoptimized.onnx"


def _rewritten(stage: Path, graph: str) -> Path:
    return stage / f".{graph}.rewritten.onnx"


def _rewrite(job: ConversionJob) -> dict:
    """``ort_rewrites`` on each staged graph, into a scratch file; what each rewrite changed."""
    import onnx

    record = {}
    for g in _GRAPHS:
        model, changed = rewrite_for_onnxruntime(onnx.load(str(job.onnx_path(g))))
        onnx.save_model(model, str(_rewritten(job.stage, g)))
        record[g] = changed
    return record


def _precision_step(job: ConversionJob) -> dict:
    """The precision step on the rewritten graphs, written to a scratch file per graph (the
    rewritten ones are removed); the record for the manifest."""
    for g in _GRAPHS:
        if job.precision == "fp16":
            _to_fp16(_rewritten(job.stage, g), _scratch(job.stage, g))
        elif job.precision != "int8" or g == "template":
            _rewritten(job.stage, g).replace(_scratch(job.stage, g))
    record = {}
    if job.precision == "int8":
        record = {"quantizer": {"template": int8_scope.TEMPLATE_RECORD, "search": _quantize_search(job)}}
    elif job.precision == "fp16":
        record = {"fp16": _FP16_RECORD}
    for g in _GRAPHS:
        _rewritten(job.stage, g).unlink(missing_ok=True)
    return record


def _quantize_search(job: ConversionJob) -> dict:
    import onnx

    source = _rewritten(job.stage, "search")
    nodes = int8_scope.onnx_int8_nodes(onnx.load(str(source)))
    record = quantize_qdq(source, _scratch(job.stage, "search"), job.feeds.search, nodes=nodes)
    return {**record, "rule": int8_scope.RULE}


def _to_fp16(src: Path, dst: Path) -> None:
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    converted = convert_float_to_float16(onnx.load(str(src)), keep_io_types=True)
    onnx.save_model(converted, str(dst))


def _optimize_offline(stage: Path, precision: str) -> dict:
    """Let ONNX Runtime optimise each scratch graph at OPTIMIZATION_LEVEL and save the result
    as the runtime graph; the scratch file is removed."""
    import onnxruntime as ort

    nodes = {}
    for g in _GRAPHS:
        options = ort.SessionOptions()
        options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, OPTIMIZATION_LEVEL)
        options.optimized_model_filepath = str(stage / runtime_file(g, precision))
        ort.InferenceSession(str(_scratch(stage, g)), sess_options=options, providers=["CPUExecutionProvider"])
        _scratch(stage, g).unlink()
        nodes[g] = _node_count(stage / runtime_file(g, precision))
    return {"offline_optimization": f"{OPTIMIZATION_LEVEL} for CPUExecutionProvider", "runtime_nodes": nodes}


def _node_count(path: Path) -> int:
    import onnx

    return len(onnx.load(str(path), load_external_data=False).graph.node)


def _runtime() -> dict:
    import onnxruntime as ort

    return {
        "onnxruntime": ort.__version__,
        "graph_optimization_level": OPTIMIZATION_LEVEL,
        "optimized_for": "CPUExecutionProvider",
    }
