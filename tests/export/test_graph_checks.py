"""The exported graphs are static and TensorRT-friendly, and the checker catches graphs that are not."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from asymtrack_deploy.bundle import load_bundle
from asymtrack_deploy.export.graph_checks import CONTROL_FLOW_OPS, check_graph, graph_problems
from asymtrack_deploy.export.onnx_graphs import trace
from asymtrack_deploy.export.simplify import SIMPLIFIERS, simplify
from asymtrack_deploy.export.wrappers import TemplateGraph
from asymtrack_deploy.models import build_model


@pytest.fixture(scope="module")
def graphs(tiny_bundle) -> dict[str, onnx.ModelProto]:
    b = load_bundle(tiny_bundle)
    return {name: onnx.load(str(b.path(name, "onnx"))) for name in ("template", "search")}


@pytest.mark.parametrize("name", ["template", "search"])
def test_exported_graph_has_no_problems(graphs, name):
    assert graph_problems(graphs[name]) == []


@pytest.mark.parametrize("name", ["template", "search"])
def test_no_control_flow_and_conv_weights_are_initializers(graphs, name):
    graph = graphs[name].graph
    assert not {n.op_type for n in graph.node} & CONTROL_FLOW_OPS
    initializers = {t.name for t in graph.initializer}
    convs = [n for n in graph.node if n.op_type == "Conv"]
    assert convs and all(n.input[1] in initializers for n in convs)


@pytest.mark.parametrize("name", ["template", "search"])
def test_every_tensor_has_a_static_shape(graphs, name):
    inferred = onnx.shape_inference.infer_shapes(graphs[name], strict_mode=True)
    values = list(inferred.graph.input) + list(inferred.graph.output) + list(inferred.graph.value_info)
    for value in values:
        dims = value.type.tensor_type.shape.dim
        assert all(d.HasField("dim_value") and d.dim_value > 0 for d in dims), value.name


@pytest.fixture(scope="module")
def raw_template_trace() -> onnx.ModelProto:
    return trace(TemplateGraph(build_model("tiny")), batch=1, opset=17)


def test_the_raw_trace_is_not_static(raw_template_trace):
    """Why a simplifier is not optional: the traced shape arithmetic leaves unsized tensors."""
    assert any("dynamic dimensions" in p for p in graph_problems(raw_template_trace))


@pytest.mark.parametrize("simplifier", SIMPLIFIERS)
def test_every_simplifier_gives_a_static_graph(raw_template_trace, simplifier):
    pytest.importorskip(simplifier, reason=f"{simplifier} is an optional simplifier (pip install {simplifier})")
    copy = onnx.ModelProto.FromString(raw_template_trace.SerializeToString())
    assert graph_problems(simplify(copy, simplifier)) == []


def test_unknown_simplifier(raw_template_trace):
    with pytest.raises(ValueError, match="unknown simplifier 'none'"):
        simplify(raw_template_trace, "none")


# -- the checker on small graphs built here -----------------------------------------------------


def _conv_model(weight_is_input: bool, batch_dim="1") -> onnx.ModelProto:
    shape = [int(batch_dim) if batch_dim.isdigit() else batch_dim, 2, 4, 4]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)
    w = numpy_helper.from_array(np.ones((2, 2, 3, 3), np.float32), "w")
    inputs = [x]
    initializers = [w]
    if weight_is_input:
        inputs.append(helper.make_tensor_value_info("w", TensorProto.FLOAT, [2, 2, 3, 3]))
        initializers = []
    node = helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1], name="conv")
    graph = helper.make_graph([node], "g", inputs, [y], initializer=initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_clean_small_graph_passes():
    assert graph_problems(_conv_model(weight_is_input=False)) == []


def test_dynamic_weight_conv_is_caught():
    problems = graph_problems(_conv_model(weight_is_input=True))
    assert any("weight computed at run time" in p for p in problems)


def test_dynamic_batch_is_caught():
    problems = graph_problems(_conv_model(weight_is_input=False, batch_dim="N"))
    assert any("input 'x' has dynamic dimensions ['N']" in p for p in problems)
    with pytest.raises(RuntimeError, match="not deployable as a static graph"):
        check_graph(_conv_model(weight_is_input=False, batch_dim="N"), "test")


def test_control_flow_is_caught():
    cond = helper.make_tensor_value_info("c", TensorProto.BOOL, [])
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    branch = lambda v: helper.make_graph(  # noqa: E731
        [helper.make_node("Constant", [], ["r"], value=numpy_helper.from_array(np.array([v], np.float32)))],
        f"b{v}",
        [],
        [helper.make_tensor_value_info("r", TensorProto.FLOAT, [1])],
    )
    node = helper.make_node("If", ["c"], ["y"], then_branch=branch(1.0), else_branch=branch(0.0), name="if")
    model = helper.make_model(helper.make_graph([node], "g", [cond], [out]), opset_imports=[helper.make_opsetid("", 17)])
    assert any("is a If (control flow)" in p for p in graph_problems(model))
