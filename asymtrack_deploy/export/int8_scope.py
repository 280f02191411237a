"""Which operations of the search graph an int8 bundle quantizes, and why (both CPU runtimes).

Chosen by a measured sensitivity analysis with the trained demo weights (teacher-forced IoU
of the boxes against the fp32 graph on the search crops the reference tracker saw on vtest.avi,
59 frames, and box.mp4, 119 frames; MinMax ranges from the default 64 calibration pairs;
CPU time of one search step on one thread, interleaved in one process, AMD EPYC Zen 4 with
AVX512-VNNI and AVX512-BF16, ONNX Runtime 1.32, OpenVINO 2026.4 / NNCF 3.4):

* Everything quantized (the previous ONNX Runtime scheme: every Conv, MatMul and Gemm) gave a
  worst IoU of 0.69 on vtest and ran 0.89x as fast as fp32 (Q/DQ around small ops, a
  QLinearSoftmax at 1.4 ms against 0.15 ms in float).
* One operation at a time: the attention's ``softmax @ V`` product alone dropped the worst IoU
  to 0.73, the image stem convolution (3 input channels) to 0.83, the ETM's point-wise mix to
  0.86 (box.mp4); every other operation alone kept it above 0.96.
* Integer kernels pay where the reduction is long (ONNX Runtime's profiler, per node): dense
  3x3 convolutions ran 2.5-3.7x faster (0.125 ms against 0.32 ms for a 32->32 one on 64x64,
  0.105 ms against 0.39 ms for the head's 256->256 one); a depth-wise 7x7 convolution ran
  slower (0.196 ms against under 0.08 ms), and the 32- to 192-input linear layers of stage 1
  gained nothing once their Q/DQ pairs are counted (0.28 + 2 x 0.15 ms against 0.34 ms).

The rule: quantize an operation with a constant weight when it is dense (one group), reduces
over ``MIN_REDUCTION`` = 512 or more inputs (input channels x kernel area) and has more than
one output channel; everything else stays float: products of two activations (attention,
ETM), depth-wise convolutions, the stem (3 x 7 x 7 = 147 inputs), short linear layers, the
single-channel heatmap convolutions. Read from weight shapes, it holds for channels-first
graphs too (1x1 convolutions instead of Gemm). The threshold, on the whole videos (794 + 454
teacher-forced crops), worst IoU on vtest.avi / box.mp4 and speed against fp32:

* 256 (18 of 53 weighted ops): ONNX Runtime 0.888 / 0.983 at 1.37x; OpenVINO 0.922 / 0.976
  with f32 float parts, 0.918 / 0.944 with bf16 ones. Leaving out any single one of the 18
  gained at most 0.03 on ONNX Runtime (the error is spread over them), so the threshold moved;
* 512 (13 ops: the 3x3 convolutions from 64 channels up, the head, the 512-input MLP layer):
  ONNX Runtime 0.941 / 0.984 at 1.24x; OpenVINO 0.965 / 0.974 with f32 float parts at 1.11x
  the f32 fp32 graph, 0.934 / 0.947 with bf16 ones at 1.99x (the fp32 graph in bf16 alone:
  0.939 / 0.950 at 1.87x; the previous everything-int8 graph 2.17x).

Those OpenVINO figures are of the channels-last graph. The bundle's search graph is now the
channels-first one with f32 float parts (``openvino_target``): worst IoU 0.976 on the first 60
vtest.avi frames (channels-last with bf16 float parts: 0.938), at the channels-last bf16 speed.

On the built-in procedural evaluation (README, "Demo weights": 8 sequences, 800 frames) the
AUC was 55.97 for the fp32 bundle, 55.29 for ONNX Runtime int8 and 55.25 for OpenVINO int8
(channels-first, f32 float parts; 55.60 for the channels-last graph with bf16 ones).

The template graph stays fp32: it runs once per target, and quantizing it alone cost 0.06 of
worst IoU.
"""
from __future__ import annotations

__all__ = ["MIN_REDUCTION", "RULE", "TEMPLATE_RECORD", "worth_int8", "onnx_int8_nodes", "openvino_float_ops"]

MIN_REDUCTION = 512
RULE = (f"dense weighted ops reducing over >= {MIN_REDUCTION} inputs with > 1 output channel; "
        "activation products, depth-wise convolutions, the image stem, short linear layers and "
        "1-channel heatmap convolutions stay float")
TEMPLATE_RECORD = "not quantized: fp32, runs once per target (quantizing it cost 0.06 of worst teacher-forced IoU)"
_WEIGHTED_ONNX = ("Conv", "Gemm", "MatMul")
_WEIGHTED_OPENVINO = ("Convolution", "GroupConvolution", "MatMul")


def worth_int8(reduction: int | None, outputs: int | None, groups: int) -> bool:
    """The rule above; ``reduction`` None: the second operand is an activation, not a weight."""
    return reduction is not None and groups == 1 and reduction >= MIN_REDUCTION and outputs > 1


def _onnx_shape(node, weights: dict) -> tuple[int | None, int | None, int]:
    """(reduction length, output channels, groups) of a Conv/Gemm/MatMul node."""
    if len(node.input) < 2 or node.input[1] not in weights:
        return None, None, 1
    dims = list(weights[node.input[1]].dims)
    attributes = {a.name: a.i for a in node.attribute if a.type == a.INT}
    if node.op_type == "Conv":
        return dims[1] * _product(dims[2:]), dims[0], attributes.get("group", 1)
    if node.op_type == "Gemm" and attributes.get("transB", 0):
        return dims[1], dims[0], 1
    return dims[0], dims[1], 1


def onnx_int8_nodes(model) -> list[str]:
    """Names of the nodes of an ONNX graph that the rule quantizes."""
    weights = {t.name: t for t in model.graph.initializer}
    return [n.name for n in model.graph.node if n.op_type in _WEIGHTED_ONNX and worth_int8(*_onnx_shape(n, weights))]


def _openvino_weight(op):
    """The Constant behind an op's second input (through weight-decompression Converts), or None."""
    node = op.input(1).get_source_output().get_node()
    while node.get_type_name() == "Convert":
        node = node.input(0).get_source_output().get_node()
    return node if node.get_type_name() == "Constant" else None


def _openvino_shape(op) -> tuple[int | None, int | None, int]:
    if _openvino_weight(op) is None:
        return None, None, 1
    dims = list(op.input(1).get_partial_shape().to_shape())
    if op.get_type_name() == "Convolution":
        return dims[1] * _product(dims[2:]), dims[0], 1
    if op.get_type_name() == "GroupConvolution":  # (groups, out/group, in/group, kh, kw)
        return dims[2] * _product(dims[3:]), dims[0] * dims[1], dims[0]
    if op.get_attributes().get("transpose_b", False):
        return dims[-1], dims[-2], 1
    return dims[-2], dims[-1], 1


def openvino_float_ops(model) -> list[str]:
    """Friendly names of the weighted ops (and activation products) of an OpenVINO model that
    the rule keeps in float: NNCF's ignored scope."""
    return [op.get_friendly_name() for op in model.get_ordered_ops()
            if op.get_type_name() in _WEIGHTED_OPENVINO and not worth_int8(*_openvino_shape(op))]


def _product(values) -> int:
    out = 1
    for v in values:
        out *= int(v)
    return out
