"""The ``tensorrt`` target: serialized TensorRT 10 engines built from the bundle's ONNX graphs.

The converter of the export pipeline (``pipeline``; the fp32 ONNX graphs stay in the bundle so
the engines can be rebuilt on another GPU or TensorRT version): for int8 a Q/DQ copy of the
graphs, the TensorRT support check of every graph handed to the builder (``tensorrt_problems``:
runs without TensorRT), then one engine per graph with the TensorRT Python API (Builder,
OnnxParser, BuilderConfig with a workspace limit and a timing cache persisted in the bundle).
The pipeline's parity check runs the engines in the ``tensorrt`` backend.

Precisions:

* fp32: TF32 switched off (TensorRT enables it by default on Ampere and later; its 10-bit
  mantissa breaks fp32 parity);
* fp16: ``BuilderFlag.FP16``, TensorRT chooses fp16 or fp32 per layer;
* int8: explicit quantization. Implicit calibration (``IInt8Calibrator``) is deprecated in
  TensorRT 10, so the scales travel in the graph: Q/DQ nodes from ONNX Runtime's static QDQ
  quantizer over the calibration crops (symmetric int8, zero points 0, per-channel weights), and
  the network is created STRONGLY_TYPED so TensorRT follows them exactly (no precision flags,
  as its documentation asks for Q/DQ networks); the rest of the graph stays fp32/TF32.

Engine files are exactly what TensorRT serialised (``trtexec --loadEngine`` reads them). The
manifest records the TensorRT version, the GPU and its compute capability, since an engine runs
only there; the backend refuses anything else and says how to rebuild.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from pathlib import Path

import onnx

from ..runtimes.base import require
from .graph_checks import CONTROL_FLOW_OPS
from .pipeline import Conversion, ConversionJob, Converter
from .qdq import quantize_qdq

__all__ = [
    "TensorRTConverter",
    "tensorrt_problems",
    "check_tensorrt_graph",
    "cast_uint8_inputs_first",
    "TENSORRT_ONNX_OPS",
    "ENGINE_FILES",
    "TIMING_CACHE",
    "DEFAULT_WORKSPACE",
]

ENGINE_FILES = {"template": "template.engine", "search": "search.engine"}
BUILDER_FILES = {"template": "template.tensorrt.onnx", "search": "search.tensorrt.onnx"}
QDQ_FILES = {"template": "template.qdq.onnx", "search": "search.qdq.onnx"}
TIMING_CACHE = "timing.cache"
DEFAULT_WORKSPACE = 1 << 30  # 1 GiB: far more than AsymTrack's tactics need

# ONNX operators the TensorRT 10 ONNX parser imports (onnx-tensorrt docs/operators.md, the
# 10.x "Supported: Y" rows, opsets 9 to 20), as data: the check below runs without TensorRT.
TENSORRT_ONNX_OPS = frozenset(
    """
    Abs Acos Acosh Add And ArgMax ArgMin Asin Asinh Atan Atanh AveragePool BatchNormalization
    Cast CastLike Ceil Celu Clip Concat Constant ConstantOfShape Conv ConvTranspose Cos Cosh
    CumSum DeformConv DepthToSpace DequantizeLinear Div Dropout Einsum Elu Equal Erf Exp Expand
    EyeLike Flatten Floor Gather GatherElements GatherND Gelu Gemm GlobalAveragePool GlobalLpPool
    GlobalMaxPool Greater GreaterOrEqual GridSample GroupNormalization GRU HardSigmoid HardSwish
    Hardmax Identity If ImageScaler InstanceNormalization IsInf IsNaN LayerNormalization
    LeakyRelu Less LessOrEqual Log LogSoftmax Loop LRN LSTM LpNormalization LpPool MatMul Max
    MaxPool Mean MeanVarianceNormalization Min Mish Mod Mul Neg NonMaxSuppression NonZero Not
    OneHot Or Pad ParametricSoftplus Pow PRelu QuantizeLinear RandomNormal RandomNormalLike
    RandomUniform RandomUniformLike Range Reciprocal ReduceL1 ReduceL2 ReduceLogSum
    ReduceLogSumExp ReduceMax ReduceMean ReduceMin ReduceProd ReduceSum ReduceSumSquare Relu
    Reshape Resize ReverseSequence RNN RoiAlign Round ScaledTanh Scan Scatter ScatterElements
    ScatterND Selu Shape Shrink Sigmoid Sign Sin Sinh Size Slice Softmax Softplus Softsign
    SpaceToDepth Split Sqrt Squeeze Sub Sum Tan Tanh ThresholdedRelu Tile TopK Transpose Trilu
    Unsqueeze Upsample Where Xor
    """.split()
)
# Restrictions of that table that a static AsymTrack graph could hit: op -> index of the input
# that must be a build-time constant ("`axes` must be an initializer").
_CONSTANT_INPUTS = {
    "Slice": (3,), "Squeeze": (1,), "Unsqueeze": (1,), "Pad": (3,), "CumSum": (1,),
    **{op: (1,) for op in ("ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax",
                           "ReduceMean", "ReduceMin", "ReduceProd", "ReduceSum", "ReduceSumSquare")},
}
_WEIGHTED_OPS = frozenset({"Conv", "ConvTranspose"})
_QDQ_OPS = frozenset({"QuantizeLinear", "DequantizeLinear"})


# -- the support check (no TensorRT needed) ------------------------------------------------------


def tensorrt_problems(model: onnx.ModelProto) -> list[str]:
    """Everything in ``model`` that TensorRT 10's ONNX parser would refuse or that breaks a
    static engine; [] if none. Covers fp32 graphs and Q/DQ graphs alike."""
    onnx.checker.check_model(model, full_check=True)
    facts = _GraphFacts.of(model.graph)
    problems = []
    for node in model.graph.node:
        problems += _node_problems(node, facts)
    return problems + _static_shape_problems(model) + _uint8_problems(model)


def check_tensorrt_graph(model: onnx.ModelProto, what: str) -> None:
    """Raise a RuntimeError listing what TensorRT cannot build in ``model`` (``what`` names it)."""
    problems = tensorrt_problems(model)
    if problems:
        shown = "; ".join(problems[:8]) + (f"; and {len(problems) - 8} more" if len(problems) > 8 else "")
        raise RuntimeError(f"the {what} graph cannot be built by TensorRT: {shown}")


@dataclass(frozen=True)
class _GraphFacts:
    """What the node rules look up: constant tensors, all-zero int8 constants, and the outputs
    of DequantizeLinear nodes over a constant (a Q/DQ graph's weights)."""

    constants: frozenset[str]
    zeros: frozenset[str]
    dequantized_constants: frozenset[str]

    @classmethod
    def of(cls, graph: onnx.GraphProto) -> "_GraphFacts":
        from onnx import numpy_helper

        constants = {t.name for t in graph.initializer}
        constants |= {o for n in graph.node if n.op_type == "Constant" for o in n.output}
        zeros = set()
        for t in graph.initializer:
            values = numpy_helper.to_array(t)
            if values.dtype.name == "int8" and not values.any():
                zeros.add(t.name)
        dq = {n.output[0] for n in graph.node if n.op_type == "DequantizeLinear" and n.input[0] in constants}
        return cls(frozenset(constants), frozenset(zeros), frozenset(dq))


def _node_problems(node: onnx.NodeProto, facts: _GraphFacts) -> list[str]:
    name = f"{node.op_type} {node.name or node.output[0]!r}"
    if node.domain not in ("", "ai.onnx"):
        return [f"{name} is in domain {node.domain!r}: TensorRT parses only standard ONNX operators"]
    if node.op_type in CONTROL_FLOW_OPS:
        return [f"{name} is control flow (Loop/If/Scan): the engine must be one static pass"]
    if node.op_type not in TENSORRT_ONNX_OPS:
        return [f"{name}: the TensorRT ONNX parser does not support {node.op_type}"]
    problems = []
    for k in _CONSTANT_INPUTS.get(node.op_type, ()):
        if k < len(node.input) and node.input[k] and node.input[k] not in facts.constants:
            problems.append(f"{name}: input {k} ({node.input[k]!r}) must be a constant for TensorRT")
    weight = node.input[1] if node.op_type in _WEIGHTED_OPS else None
    if weight and weight not in facts.constants and weight not in facts.dequantized_constants:
        problems.append(f"{name} has a weight computed at run time ({weight!r})")
    if node.op_type in _QDQ_OPS:
        problems += _qdq_problems(node, name, facts)
    return problems


def _qdq_problems(node: onnx.NodeProto, name: str, facts: _GraphFacts) -> list[str]:
    """TensorRT's Q/DQ rules: a constant scale, and a zero point that is a constant int8 0."""
    problems = []
    if len(node.input) < 2 or node.input[1] not in facts.constants:
        problems.append(f"{name}: the scale must be a constant")
    zero_point = node.input[2] if len(node.input) > 2 else ""
    if zero_point and zero_point not in facts.zeros:
        problems.append(f"{name}: the zero point must be a constant int8 0 (TensorRT quantizes symmetrically)")
    return problems


def _static_shape_problems(model: onnx.ModelProto) -> list[str]:
    inferred = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True).graph
    problems = []
    for kind, values in (("input", inferred.input), ("output", inferred.output), ("tensor", inferred.value_info)):
        for value in values:
            t = value.type.tensor_type
            if value.type.HasField("tensor_type") and (
                not t.HasField("shape") or any(not d.HasField("dim_value") or d.dim_value <= 0 for d in t.shape.dim)
            ):
                problems.append(f"{kind} {value.name!r} has a dynamic shape (TensorRT engines here are static)")
    return problems


def _uint8_problems(model: onnx.ModelProto) -> list[str]:
    """UINT8 exists in TensorRT only as a network input or output, cast to float at once."""
    graph = model.graph
    inputs = {i.name for i in graph.input if i.type.tensor_type.elem_type == onnx.TensorProto.UINT8}
    problems = []
    for node in graph.node:
        for name in node.input:
            if name in inputs and node.op_type != "Cast":
                problems.append(f"uint8 input {name!r} feeds {node.op_type} {node.name!r}; TensorRT needs a Cast first")
    inferred = onnx.shape_inference.infer_shapes(model).graph
    for value in inferred.value_info:
        if value.type.tensor_type.elem_type == onnx.TensorProto.UINT8:
            problems.append(f"tensor {value.name!r} is uint8 inside the graph (TensorRT: network I/O only)")
    return problems


# -- the conversion -------------------------------------------------------------------------------

_CHECKS_RECORD = ["TensorRT 10 ONNX parser operator list", "constant axes, weights and scales",
                  "zero points int8 0", "static shapes", "uint8 only as a network input, cast at once"]


class TensorRTConverter(Converter):
    """Engines built on this machine's GPU. ``workspace``: the builder's memory limit (bytes);
    ``cuda_graph``: whether the backend replays the search step as a CUDA graph (recorded)."""

    target = "tensorrt"

    def __init__(self, workspace: int = DEFAULT_WORKSPACE, cuda_graph: bool = True):
        self.workspace = workspace
        self.cuda_graph = cuda_graph

    def prepare(self, precision: str) -> None:
        require("tensorrt", "tensorrt")
        from ..runtimes.tensorrt_backend import cuda_runtime

        cuda_runtime()

    def convert(self, job: ConversionJob) -> Conversion:
        import tensorrt as trt

        from ..runtimes.tensorrt_backend import gpu_facts

        export, inputs = _builder_inputs(job)
        cache = job.stage / TIMING_CACHE
        export["engines"] = {g: build_engine(trt, job.stage / src, job.stage / ENGINE_FILES[g], job.precision,
                                             self.workspace, cache) for g, src in inputs.items()}
        files = {g: {"tensorrt_engine": ENGINE_FILES[g], "builder_onnx": inputs[g]} for g in ENGINE_FILES}
        runtime = {"tensorrt": trt.__version__, **gpu_facts(), "workspace_bytes": self.workspace,
                   "timing_cache": TIMING_CACHE, "cuda_graph": self.cuda_graph}
        return Conversion(files, export, runtime, extra_files=(TIMING_CACHE,))


def _builder_inputs(job: ConversionJob) -> tuple[dict, dict[str, str]]:
    """Write the ONNX file each engine is built from (``{graph}.tensorrt.onnx``: the source
    graph with its uint8 inputs cast first; for int8 its Q/DQ copy ``{graph}.qdq.onnx``) and
    check it for TensorRT; the export record and graph -> file name."""
    export, inputs = {"uint8_casts_moved_first": {}}, {}
    for g in ENGINE_FILES:
        proto, moved = cast_uint8_inputs_first(onnx.load(str(job.onnx_path(g))))
        export["uint8_casts_moved_first"][g] = moved
        inputs[g] = BUILDER_FILES[g]
        onnx.save_model(proto, str(job.stage / inputs[g]))
    if job.precision == "int8":
        export["quantizer"] = {}
        for g in ENGINE_FILES:
            source, target = job.stage / inputs[g], job.stage / QDQ_FILES[g]
            export["quantizer"][g] = quantize_qdq(source, target, getattr(job.feeds, g), for_tensorrt=True)
            source.unlink()
            inputs[g] = QDQ_FILES[g]
    for g, name in inputs.items():
        check_tensorrt_graph(onnx.load(str(job.stage / name)), f"{g} ({name})")
    export["tensorrt_checks"] = _CHECKS_RECORD
    return export, inputs


def cast_uint8_inputs_first(model: onnx.ModelProto) -> tuple[onnx.ModelProto, int]:
    """Cast each uint8 graph input to float before anything else reads it.

    The exported graphs transpose the uint8 crop (NHWC -> NCHW) before casting it; TensorRT
    takes uint8 only as a network input that a Cast consumes directly. The new Cast feeds the
    old consumers; their own later Cast to float becomes float -> float, which TensorRT folds.
    Returns a copy and the number of inputs changed.
    """
    from onnx import TensorProto, helper

    model = copy.deepcopy(model)
    graph = model.graph
    uint8_inputs = [i.name for i in graph.input if i.type.tensor_type.elem_type == TensorProto.UINT8]
    casts = []
    for name in uint8_inputs:
        as_float = f"{name}_as_float"
        for node in graph.node:
            node.input[:] = [as_float if x == name else x for x in node.input]
        casts.append(helper.make_node("Cast", [name], [as_float], name=f"/{name}/CastFirst", to=TensorProto.FLOAT))
    nodes = casts + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.value_info[:]  # stale dtypes; shape inference recomputes them
    return model, len(casts)


def build_engine(trt, onnx_path: Path, engine_path: Path, precision: str, workspace: int, cache_path: Path) -> dict:
    """Parse ``onnx_path``, build and serialise one engine; the timing cache at ``cache_path``
    is read first (when present) and written back, so later builds skip the tactic timing."""
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED) if precision == "int8" else 0
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(f"{e.desc()} (node {e.node()})" for e in map(parser.get_error, range(parser.num_errors)))
        raise RuntimeError(f"TensorRT could not parse {onnx_path.name}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace)
    flags_used = _precision_flags(trt, config, precision)
    cache = config.create_timing_cache(cache_path.read_bytes() if cache_path.is_file() else b"")
    config.set_timing_cache(cache, False)
    started = time.perf_counter()
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RuntimeError(f"TensorRT could not build an engine from {onnx_path.name} (see its log above)")
    engine_path.write_bytes(bytes(serialized))
    cache_path.write_bytes(bytes(config.get_timing_cache().serialize()))
    return {"from": onnx_path.name, "flags": flags_used, "seconds": round(time.perf_counter() - started, 2)}


def _precision_flags(trt, config, precision: str) -> list[str]:
    if precision == "fp32":
        config.clear_flag(trt.BuilderFlag.TF32)
        return ["TF32 off"]
    if precision == "fp16":
        config.set_flag(trt.BuilderFlag.FP16)
        return ["FP16"]
    return ["STRONGLY_TYPED network (explicit Q/DQ)"]
