"""The exact rewrites of the staged graphs for ONNX Runtime (``export/ort_rewrites``)."""
from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from asymtrack_deploy.export.ort_rewrites import broadcast_tiled_products, rewrite_for_onnxruntime


def _tiled_product(repeats, readers: int = 1) -> onnx.ModelProto:
    """hidden * Tile(context, repeats), the Tile read by ``readers`` nodes."""
    context_shape = [1, 4, 5, 3]
    hidden_shape = [c * r for c, r in zip(context_shape, repeats)]
    nodes = [helper.make_node("Tile", ["context", "repeats"], ["tiled"], name="tile"),
             helper.make_node("Mul", ["hidden", "tiled"], ["out"], name="mul")]
    outputs = [helper.make_tensor_value_info("out", TensorProto.FLOAT, hidden_shape)]
    if readers > 1:
        nodes.append(helper.make_node("Relu", ["tiled"], ["also"], name="relu"))
        outputs.append(helper.make_tensor_value_info("also", TensorProto.FLOAT, hidden_shape))
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, hidden_shape),
         helper.make_tensor_value_info("context", TensorProto.FLOAT, context_shape)],
        outputs, [numpy_helper.from_array(np.array(repeats, np.int64), "repeats")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _run(model: onnx.ModelProto, feeds: dict) -> list[np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def test_a_tiled_product_becomes_a_broadcast_product_with_the_same_values():
    model = _tiled_product([1, 1, 1, 6])
    rewritten, changed = broadcast_tiled_products(model)
    assert changed == 1
    onnx.checker.check_model(rewritten, full_check=True)
    assert "Tile" not in {n.op_type for n in rewritten.graph.node}
    assert "Tile" in {n.op_type for n in model.graph.node}  # the input is left as it was
    rng = np.random.default_rng(0)
    feeds = {"hidden": rng.standard_normal((1, 4, 5, 18), dtype=np.float32),
             "context": rng.standard_normal((1, 4, 5, 3), dtype=np.float32)}
    np.testing.assert_array_equal(_run(rewritten, feeds)[0], _run(model, feeds)[0])
    # channel k * C + c is multiplied by context channel c, as the Tile had it
    expected = feeds["hidden"] * np.tile(feeds["context"], (1, 1, 1, 6))
    np.testing.assert_array_equal(_run(rewritten, feeds)[0], expected)


def test_tiles_that_are_not_a_channel_repeat_for_one_product_stay():
    for model in (_tiled_product([1, 2, 1, 1]), _tiled_product([1, 1, 1, 6], readers=2)):
        rewritten, changed = broadcast_tiled_products(model)
        assert changed == 0
        assert [n.op_type for n in rewritten.graph.node] == [n.op_type for n in model.graph.node]


def test_the_record_names_each_rewrite():
    assert rewrite_for_onnxruntime(_tiled_product([1, 1, 1, 2]))[1] == {"tiled_products_broadcast": 1}
