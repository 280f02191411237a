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
  in f32 (the manifest's hint): in the channels-first graph bf16 float parts cost the worst frame
  far more than in the channels-last one (below), and f32 ones ran as fast as the channels-last
  graph's bf16 ones (2 threads: 4.03 against 3.94 ms, one run, interleaved; worst teacher-forced
  IoU 0.976 against 0.938 on 60 vtest.avi frames). ``OpenVinoBackend(...,
  inference_precision="bf16")`` overrides it.

The search graph is converted from its channels-first form (``wrappers.SEARCH_LAYOUTS``,
``channels_first``), traced again from the model: OpenVINO's CPU plugin runs convolutions in a
blocked or NHWC layout, and the channels-last form's LayerNorm/Linear between them cost a
reorder (and a Transpose) each way; the channels-first form has none left. Measured on a 2-core
AMD EPYC (Zen 4), interleaved rounds in one process, 1 thread: the fp32 search step 1.42-1.45x
faster (median of 6 rounds; the profile's Reorder + Transpose time went from 25 % of the step to
under 1 %). Except for bf16: the channels-first form's LayerNorms over axis 1 are MVNs that the
CPU plugin cannot run fused on that axis and splits into reductions and element-wise ops, which
then compute in bf16 (mean and centring rounded to an 8-bit mantissa), while the channels-last
form's trailing-axis LayerNorms stay fused kernels that accumulate in f32. With the demo
weights on 60 vtest.avi frames the worst teacher-forced IoU fell from 0.940 to 0.895 (under the
0.90 tolerance), for a search step 1.28x faster; so a bf16 bundle is converted channels-last.
So is an fp16 one: with its weights rounded to fp16, the channels-first graph's export-time box
error was 3.1e-3 against 3.1e-4 for the channels-last one (demo weights, computed in f32 on a
CPU without fp16), and the worst teacher-forced IoU on 40 vtest.avi frames 0.987 against 0.994,
close to the 0.98 tolerance before any fp16 arithmetic is added.
``search_layout`` overrides the per-precision choice (``search_layout_for``).

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
from .onnx_graphs import export_graph
from .pipeline import Conversion, ConversionJob, Converter
from .wrappers import SEARCH_LAYOUTS, SearchGraph

__all__ = ["OpenVinoConverter", "IR_FILES", "INFERENCE_PRECISION", "isolate_einsum_operands", "search_layout_for"]

IR_FILES = {"template": ("template.xml", "template.bin"), "search": ("search.xml", "search.bin")}
# precision -> the CPU inference precision pinned in the manifest
INFERENCE_PRECISION = {p: InferenceSpec.for_precision(p).openvino_precision_hint for p in ("fp32", "fp16", "bf16", "int8")}


class OpenVinoConverter(Converter):
    """``device``: where the export-time parity check runs the IR (CPU by default);
    ``search_layout``: the search graph's form, None for the precision's own
    (``search_layout_for``, see the module docstring)."""

    target = "openvino"

    def __init__(self, device: str = "CPU", search_layout: str | None = None):
        if search_layout is not None and search_layout not in SEARCH_LAYOUTS:
            raise ValueError(f"search_layout must be one of {', '.join(SEARCH_LAYOUTS)}, got {search_layout!r}")
        self.device = device
        self.search_layout = search_layout

    def stock_server_graph(self, proto):
        """Triton's stock openvino backend converts the ONNX itself: the same einsum fix."""
        return isolate_einsum_operands(proto)[0]

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
                  "ir_weights": "fp16 (compress_to_fp16)" if job.precision == "fp16" else "fp32",
                  "search_layout": self._layout(job.precision)}
        for graph, (xml, _) in IR_FILES.items():
            model, facts = _ir_model(ov, job, graph, self._graph_proto(job, graph))
            for key, value in facts.items():
                record.setdefault(key, {})[graph] = value
            ov.save_model(model, str(job.stage / xml), compress_to_fp16=job.precision == "fp16")
        files = {g: {"openvino_xml": xml, "openvino_bin": bin_} for g, (xml, bin_) in IR_FILES.items()}
        return Conversion(files, record, _runtime(ov, job.precision))

    def backend_options(self) -> dict:
        return {"device": self.device}

    def _layout(self, precision: str) -> str:
        return self.search_layout or search_layout_for(precision)

    def _graph_proto(self, job: ConversionJob, graph: str) -> onnx.ModelProto:
        """The staged fp32 graph, or the search graph traced again in the chosen layout."""
        layout = self._layout(job.precision)
        if graph == "search" and layout != "channels_last":
            wrapper = SearchGraph(job.model, layout=layout)
            return export_graph(wrapper, job.source.batch, job.source.opset, job.simplifier)
        return onnx.load(str(job.onnx_path(graph)))


def search_layout_for(precision: str) -> str:
    """channels-first (no layout reorders) where the float arithmetic and weights are f32 (fp32,
    int8); channels-last for bf16 and fp16, which lose accuracy in the channels-first form
    (module docstring)."""
    return "channels_last" if precision in ("bf16", "fp16") else "channels_first"


def _ir_model(ov, job: ConversionJob, graph: str, proto: onnx.ModelProto):
    """One graph as an OpenVINO model (quantized for int8), and the facts the manifest records."""
    proto, isolated = isolate_einsum_operands(proto)
    model = _convert_proto(ov, proto, job.stage / f".{graph}.openvino-input.onnx")
    facts = {"einsum_operands_isolated": isolated}
    if job.precision == "int8":
        model, facts["quantizer"] = _quantize(model, job.feeds.search) if graph == "search" else (model, TEMPLATE_RECORD)
        from ..runtimes.openvino_backend import ARM_REDUCE_RECORD  # without it, ARM refuses the bundle

        facts[ARM_REDUCE_RECORD] = flatten_trailing_reduce_sums(ov, model)
    return model, facts


def flatten_trailing_reduce_sums(ov, model) -> int:
    """ReduceSum over several trailing axes -> Reshape to one trailing axis + ReduceSum over it
    (the same sum); returns how many were rewritten.

    OpenVINO 2026.4's CPU plugin on aarch64 splits a quantized graph's ReduceSum over axes
    (2, 3) into one ReduceSum per axis and gives the second an axis constant with uninitialised
    high bytes ("Axis 365072220162 out of the tensor rank range"), so int8 IR did not compile on
    ARM at all; with one axis there is nothing to split (checked under qemu, Cortex-A76)."""
    from openvino import opset13 as ops

    rewritten = 0
    for node in model.get_ordered_ops():
        if node.get_type_name() != "ReduceSum" or node.input_value(1).get_node().get_type_name() != "Constant":
            continue
        shape = node.get_input_partial_shape(0)
        if not shape.is_static:
            continue
        shape, rank = list(shape.to_shape()), len(shape)
        axes = sorted(int(a) % rank for a in node.input_value(1).get_node().get_data().ravel())
        if len(axes) < 2 or axes != list(range(axes[0], rank)):
            continue
        first = axes[0]
        flat = ops.reshape(node.input_value(0), ops.constant(np.array(shape[:first] + [-1], np.int64)), False)
        summed = ops.reduce_sum(flat, ops.constant(np.array([first], np.int64)), keep_dims=False)
        keep = node.get_attributes().get("keep_dims", False)
        out = ops.reshape(summed, ops.constant(np.array(shape[:first] + [1] * len(axes), np.int64)), False) if keep else summed
        out.set_friendly_name(node.get_friendly_name())
        node.output(0).replace(out.output(0))
        rewritten += 1
    model.validate_nodes_and_infer_types()
    return rewritten


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
