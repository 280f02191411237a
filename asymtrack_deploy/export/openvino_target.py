"""The ``openvino`` target: OpenVINO IR (``template.xml/.bin``, ``search.xml/.bin``) in a bundle.

The converter of the export pipeline (``pipeline``): ``openvino.convert_model`` on each staged
fp32 ONNX graph, then per precision:

* fp32: the IR as converted; the CPU inference precision is pinned to f32 (recent OpenVINO runs
  bf16 on CPUs that have it, which breaks fp32 parity silently). The manifest's
  ``runtime.inference_precision_hint`` says so and the backend applies it.
* fp16: weights compressed to fp16 in the IR (half the files) and inference precision f16
  where the device computes in fp16 (GPUs, CPUs with AVX512-FP16 or ARM fp16); on other CPUs
  the backend runs it in f32, never in the bf16 that OpenVINO would substitute (bf16's 8-bit
  mantissa misses the fp16 tolerance: 1.8e-2 box error on AsymTrack-tiny).
* bf16: the fp32 IR, inference precision pinned to bf16 (OpenVINO's CPU plugin on CPUs with
  AMX or AVX512-BF16: fp32 range, 8-bit mantissa, its own parity tolerance). Refused on a CPU
  without bf16 arithmetic, at export and at load, where OpenVINO would quietly run f32.
* int8: post-training quantization with NNCF of the search graph over calibration crops
  (``calibration.py``), its state inputs calibrated with the state of each pair's own template
  crop; the template graph stays fp32 (once per target). What is quantized is ``int8_scope``'s
  measured rule: NNCF's ignored scope holds every other weighted op and the attention
  (``ScaledDotProductAttention``, which the converter fuses from the explicit form).
  ``model_type=TRANSFORMER`` keeps normalisation arithmetic in float (the default CNN scheme
  also quantizes element-wise ops: worst teacher-forced IoU 0.14). Two NNCF defaults are
  changed, both measured with the demo weights: bias correction is off (it dropped the worst
  IoU on 59 vtest.avi crops from 0.972 to 0.920), and activation ranges are the calibration
  set's min and max (``MINMAX``, as ONNX Runtime's), not the mean of per-crop ranges, which
  clipped footage unlike the calibration video: teacher-forced mean IoU 0.944 on a procedural
  sequence against 0.989, procedural AUC 54.7 against 55.6 (fp32: 56.0). Ops left in float run
  in the device's default precision: bf16 on CPUs with it (worst IoU 0.934 against 0.965 in
  f32 on the whole of vtest.avi, at 1.8x the speed); pin f32 with ``OpenVinoBackend(...,
  inference_precision="f32")`` when the worst frame matters more.

The pipeline's parity check runs the IR in the ``openvino`` backend on the device given (CPU by
default), against the PyTorch model with the precision's box tolerance.
"""
from __future__ import annotations

import copy
import io
import time
from contextlib import contextmanager, redirect_stdout
from collections import Counter
from pathlib import Path

import numpy as np
import onnx

from ..runtimes.base import require
from ..tracker_spec import InferenceSpec
from .int8_scope import RULE, TEMPLATE_RECORD, openvino_float_ops
from .pipeline import Conversion, ConversionJob, Converter

__all__ = ["OpenVinoConverter", "IR_FILES", "INFERENCE_PRECISION", "isolate_einsum_operands"]

IR_FILES = {"template": ("template.xml", "template.bin"), "search": ("search.xml", "search.bin")}
# precision -> the CPU inference precision pinned in the manifest (None: the device's default)
INFERENCE_PRECISION = {p: InferenceSpec.for_precision(p).openvino_precision_hint for p in ("fp32", "fp16", "bf16", "int8")}


class OpenVinoConverter(Converter):
    """``device``: where the export-time parity check runs the IR (CPU by default)."""

    target = "openvino"

    def __init__(self, device: str = "CPU"):
        self.device = device

    def prepare(self, precision: str) -> None:
        ov = require("openvino", "openvino")
        if precision == "int8":
            require("nncf", "openvino")
        if precision == "bf16":
            from ..runtimes.openvino_backend import check_bf16

            check_bf16(ov.Core(), self.device.upper(), "bf16")

    def convert(self, job: ConversionJob) -> Conversion:
        import openvino as ov

        record = {"converter": f"openvino.convert_model ({ov.get_version()})",
                  "ir_weights": "fp16 (compress_to_fp16)" if job.precision == "fp16" else "fp32"}
        for graph, (xml, _) in IR_FILES.items():
            model, facts = _ir_model(ov, job, graph)
            for key, value in facts.items():
                record.setdefault(key, {})[graph] = value
            ov.save_model(model, str(job.stage / xml), compress_to_fp16=job.precision == "fp16")
        files = {g: {"openvino_xml": xml, "openvino_bin": bin_} for g, (xml, bin_) in IR_FILES.items()}
        return Conversion(files, record, _runtime(ov, job.precision))

    def backend_options(self) -> dict:
        return {"device": self.device}


def _ir_model(ov, job: ConversionJob, graph: str):
    """One graph as an OpenVINO model (quantized for int8), and the facts the manifest records."""
    proto, isolated = isolate_einsum_operands(onnx.load(str(job.onnx_path(graph))))
    model = _convert_proto(ov, proto, job.stage / f".{graph}.openvino-input.onnx")
    facts = {"einsum_operands_isolated": isolated}
    if job.precision == "int8":
        model, facts["quantizer"] = _quantize(model, job.feeds.search) if graph == "search" else (model, TEMPLATE_RECORD)
    return model, facts


def _runtime(ov, precision: str) -> dict:
    return {
        "openvino": ov.get_version(),
        "inference_precision_hint": INFERENCE_PRECISION[precision],
        "performance_hint": "LATENCY",
    }


def _convert_proto(ov, proto: onnx.ModelProto, scratch: Path):
    """``convert_model`` on an in-memory graph (it reads files, not ModelProtos)."""
    onnx.save_model(proto, str(scratch))
    try:
        return ov.convert_model(str(scratch))
    finally:
        scratch.unlink()


def isolate_einsum_operands(model: onnx.ModelProto) -> tuple[onnx.ModelProto, int]:
    """Give every Einsum operand that other nodes also read a buffer of its own: the operand
    is scaled by 2 and the Einsum's result by 0.5 (exact in floating point: powers of two).

    Why: OpenVINO's CPU plugin (seen with 2026.4) decomposes Einsum into in-place views
    (Reshape/Transpose) of its operands, and when such an operand also feeds a residual Add,
    the Add can overwrite it in place before the Einsum reads it, or the reverse. On AsymTrack's
    template graph this corrupts the stage-2 template state (errors of 5.0 on values of 16)
    while ONNX Runtime and OpenVINO with the tensors marked as outputs agree to 1e-6. The
    Multiply forces a copy; it costs one elementwise pass per Einsum. Returns the rewritten
    graph (a copy) and the number of Einsum nodes changed.
    """
    model = copy.deepcopy(model)
    graph = model.graph
    readers = Counter(name for node in graph.node for name in node.input)
    inputs = {i.name for i in graph.input}
    nodes, changed = [], 0
    for node in graph.node:
        shared = [k for k, name in enumerate(node.input) if readers[name] > 1 or name in inputs]
        if node.op_type != "Einsum" or not shared:
            nodes.append(node)
            continue
        nodes.extend(_scaled_einsum(graph, node, shared))
        changed += 1
    del graph.node[:]
    graph.node.extend(nodes)
    return model, changed


def _scaled_einsum(graph: onnx.GraphProto, node: onnx.NodeProto, shared: list[int]) -> list[onnx.NodeProto]:
    from onnx import helper, numpy_helper

    prefix = node.name or node.output[0]
    scale = numpy_helper.from_array(np.array(2.0, np.float32), f"{prefix}/isolate_scale")
    unscale = numpy_helper.from_array(np.array(0.5 ** len(shared), np.float32), f"{prefix}/isolate_unscale")
    graph.initializer.extend([scale, unscale])
    inputs, added = list(node.input), []
    for k in shared:
        inputs[k] = f"{prefix}/isolated_{k}"
        added.append(helper.make_node("Mul", [node.input[k], scale.name], [inputs[k]], name=f"{prefix}/isolate_{k}"))
    result = f"{prefix}/isolated_out"
    equation = helper.get_attribute_value(node.attribute[0])
    einsum = helper.make_node("Einsum", inputs, [result], name=node.name, equation=equation)
    added += [einsum, helper.make_node("Mul", [result, unscale.name], list(node.output), name=f"{prefix}/isolate_out")]
    return added


def _quantize(model, feeds: list[dict]):
    import nncf
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters
    from nncf.quantization.range_estimator import RangeEstimatorParametersSet

    started = time.perf_counter()
    float_ops = openvino_float_ops(model)
    with _nncf_quiet(nncf):
        quantized = nncf.quantize(
            model,
            nncf.Dataset(feeds),
            subset_size=len(feeds),
            model_type=nncf.ModelType.TRANSFORMER,
            ignored_scope=nncf.IgnoredScope(names=float_ops, types=list(_FLOAT_TYPES), validate=False),
            advanced_parameters=AdvancedQuantizationParameters(
                disable_bias_correction=True, activations_range_estimator_params=RangeEstimatorParametersSet.MINMAX),
        )
    record = {
        "tool": f"nncf.quantize ({nncf.__version__})",
        "model_type": "TRANSFORMER",
        "preset": "PERFORMANCE (symmetric int8)",
        "bias_correction": "off",
        "activation_ranges": "MINMAX (calibration min and max)",
        "rule": RULE,
        "float_ops": len(float_ops),
        "float_types": list(_FLOAT_TYPES),
        "subset_size": len(feeds),
        "seconds": round(time.perf_counter() - started, 2),
    }
    return quantized, record


_FLOAT_TYPES = ("ScaledDotProductAttention",)


@contextmanager
def _nncf_quiet(nncf):
    """NNCF's progress bars and INFO lines are not for the user of an export."""
    import logging

    logger = logging.getLogger("nncf")
    level = logger.level
    nncf.set_log_level(logging.ERROR)
    try:
        with redirect_stdout(io.StringIO()):
            yield
    finally:
        logger.setLevel(level)
