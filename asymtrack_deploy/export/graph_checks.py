"""Checks that an exported graph is what TensorRT and OpenVINO build well.

* ``onnx.checker`` passes (full check, with shape inference);
* every tensor has a static shape (graph inputs, outputs and every inferred intermediate);
* no control flow (Loop, If, Scan): the graph is one straight pass;
* every Conv / ConvTranspose weight is an initializer, never computed at run time (TensorRT
  builds dynamic-weight convolutions poorly or not at all).
"""
from __future__ import annotations

import onnx

__all__ = ["graph_problems", "check_graph", "CONTROL_FLOW_OPS"]

CONTROL_FLOW_OPS = frozenset({"Loop", "If", "Scan"})
_CONV_OPS = frozenset({"Conv", "ConvTranspose", "ConvInteger", "QLinearConv"})


def _weight_index(op_type: str) -> int:
    return 3 if op_type == "QLinearConv" else 1


def _dynamic_dims(value: onnx.ValueInfoProto) -> list[str]:
    """Dimensions without a fixed size (symbolic or unknown), as text; [] if all are static."""
    tensor = value.type.tensor_type
    if not tensor.HasField("shape"):
        return ["<unknown rank>"]
    return [d.dim_param or "?" for d in tensor.shape.dim if not d.HasField("dim_value") or d.dim_value <= 0]


def _control_flow(graph: onnx.GraphProto) -> list[str]:
    return [
        f"node {n.name or n.output[0]!r} is a {n.op_type} (control flow)"
        for n in graph.node
        if n.op_type in CONTROL_FLOW_OPS
    ]


def _dynamic_conv_weights(graph: onnx.GraphProto) -> list[str]:
    initializers = {t.name for t in graph.initializer}
    problems = []
    for node in graph.node:
        if node.op_type in _CONV_OPS:
            weight = node.input[_weight_index(node.op_type)]
            if weight not in initializers:
                name = node.name or node.output[0]
                problems.append(f"{node.op_type} {name!r} has a weight computed at run time ({weight!r})")
    return problems


def _dynamic_shapes(model: onnx.ModelProto) -> list[str]:
    inferred = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    graph = inferred.graph
    problems = []
    for kind, values in (("input", graph.input), ("output", graph.output), ("tensor", graph.value_info)):
        for value in values:
            if value.type.HasField("tensor_type") and (dims := _dynamic_dims(value)):
                problems.append(f"{kind} {value.name!r} has dynamic dimensions {dims}")
    return problems


def graph_problems(model: onnx.ModelProto) -> list[str]:
    """Everything in ``model`` that would stop a static TensorRT/OpenVINO build; [] if none."""
    onnx.checker.check_model(model, full_check=True)
    return _control_flow(model.graph) + _dynamic_conv_weights(model.graph) + _dynamic_shapes(model)


def check_graph(model: onnx.ModelProto, what: str) -> None:
    """Raise a RuntimeError listing the problems of ``model`` (``what`` names it)."""
    problems = graph_problems(model)
    if problems:
        shown = "; ".join(problems[:8]) + (f"; and {len(problems) - 8} more" if len(problems) > 8 else "")
        raise RuntimeError(f"the exported {what} graph is not deployable as a static graph: {shown}")
