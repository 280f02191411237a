"""The onnxruntime target (offline-optimised fp32, fp16, static QDQ int8) and its shared steps."""
from __future__ import annotations

import collections
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from asymtrack_deploy.bundle import load_bundle
from asymtrack_deploy.export.calibration import CalibrationWarning, calibration_set
from asymtrack_deploy.export.onnxruntime_target import OPTIMIZATION_LEVEL
from asymtrack_deploy.export.calibration_feeds import calibration_feeds
from asymtrack_deploy.export.pipeline import parity_pairs
from asymtrack_deploy.parity import TOLERANCES
from asymtrack_deploy.models import VARIANTS
from asymtrack_deploy.runtimes import load_bundle_backend
from asymtrack_deploy.runtimes.onnxruntime_backend import OnnxRuntimeBackend
from tests.conftest import reference_file
from tests.export.conftest import shared_bundle
from tests.export.derived_bundles import TEST_CALIB_COUNT, shared_derived_bundle


@pytest.fixture(scope="module")
def int8(tmp_path_factory):
    return shared_derived_bundle(tmp_path_factory, "onnxruntime", "int8")


@pytest.fixture(scope="module")
def fp16(tmp_path_factory):
    return shared_derived_bundle(tmp_path_factory, "onnxruntime", "fp16")


@pytest.fixture(scope="module")
def pairs():
    return np.load(reference_file("pairs_tiny.npz"))


def _ops(path) -> collections.Counter:
    return collections.Counter(n.op_type for n in onnx.load(str(path)).graph.node)


def _worst_box_error(bundle, pairs) -> float:
    with load_bundle_backend(bundle) as backend:
        assert isinstance(backend, OnnxRuntimeBackend)
        worst = 0.0
        for k in range(len(pairs["template"])):
            boxes, scores = backend.search(pairs["search"][k : k + 1], backend.template(pairs["template"][k : k + 1]))
            worst = max(worst, float(np.abs(boxes[0] - pairs["pred_boxes"][k]).max()))
            assert 0.0 <= scores[0] <= 1.0
    return worst


def test_int8_bundle_layout_and_manifest(int8):
    m = load_bundle(int8).manifest
    assert (m.target, m.precision) == ("onnxruntime", "int8")
    assert m.graph("search").files == {"source_onnx": "search.onnx", "onnx": "search.int8.onnx"}
    assert m.runtime["graph_optimization_level"] == OPTIMIZATION_LEVEL == "ORT_ENABLE_EXTENDED"
    quant = m.export["quantizer"]["search"]
    assert quant["format"] == "QDQ" and quant["activations"].startswith("uint8") and "per channel" in quant["weights"]
    assert (m.calibration["count"], m.calibration["pairs_used"]) == (TEST_CALIB_COUNT, TEST_CALIB_COUNT)
    assert m.parity["passed"] and m.parity["box_tolerance"] == TOLERANCES["int8"].box == 0.1


def test_int8_graph_runs_int8_kernels_and_keeps_its_io(int8):
    ops = _ops(int8 / "search.int8.onnx")
    assert ops["QLinearConv"] + ops["QGemm"] + ops["MatMulIntegerToFloat"] + ops["DequantizeLinear"] > 10
    assert ops["Tile"] == 0  # quantized after ort_rewrites
    session = ort.InferenceSession(str(int8 / "search.int8.onnx"), providers=["CPUExecutionProvider"])
    assert [i.type for i in session.get_inputs()] == ["tensor(uint8)"] + ["tensor(float)"] * 6
    assert [o.type for o in session.get_outputs()] == ["tensor(float)"] * 2


def test_int8_tracks_the_official_boxes_within_its_tolerance(int8, pairs):
    assert _worst_box_error(int8, pairs) < TOLERANCES["int8"].box


def test_fp16_bundle_has_fp16_weights_and_fp32_io(fp16, pairs):
    m = load_bundle(fp16).manifest
    assert m.precision == "fp16" and "keep_io_types=True" in m.export["fp16"]
    graph = onnx.load(str(fp16 / "search.fp16.onnx")).graph
    assert sum(t.data_type == onnx.TensorProto.FLOAT16 for t in graph.initializer) > 50
    assert [i.type.tensor_type.elem_type for i in graph.input] == [onnx.TensorProto.UINT8] + [onnx.TensorProto.FLOAT] * 6
    assert m.parity["passed"] and m.parity["box_tolerance"] == 1e-2
    assert _worst_box_error(fp16, pairs) < 1e-2


def test_fp32_bundle_is_the_optimised_graph(tmp_path_factory, pairs):
    bundle = shared_derived_bundle(tmp_path_factory, "onnxruntime", "fp32")
    m = load_bundle(bundle).manifest
    assert m.graph("template").files["onnx"] == "template.fp32.onnx"
    assert m.export["offline_optimization"].startswith("ORT_ENABLE_EXTENDED")
    assert _ops(bundle / "search.fp32.onnx")["LayerNormalization"] + _ops(bundle / "search.fp32.onnx")["Gelu"] > 0
    # the modulation's context repeats are broadcast products (ort_rewrites), not Tile copies
    assert _ops(bundle / "search.onnx")["Tile"] == 2 and _ops(bundle / "search.fp32.onnx")["Tile"] == 0
    assert m.export["rewrites"]["search"] == {"tiled_products_broadcast": 2}
    assert _worst_box_error(bundle, pairs) < 1e-4


def test_calibration_feeds_pair_each_search_crop_with_its_own_state(tmp_path_factory):
    """Batch 2: five pairs make two batches; the state is what the fp32 template graph gives."""
    bundle = shared_bundle(tmp_path_factory, batch=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        calib = calibration_set(VARIANTS["tiny"], count=5)
        one = calibration_set(VARIANTS["tiny"], count=1)
    feeds = calibration_feeds(bundle, load_bundle(bundle).manifest, calib)
    assert len(feeds.template) == len(feeds.search) == 2 and feeds.pairs == 4
    second = feeds.search[1]
    assert second["search"].shape == (2, 256, 256, 3)
    np.testing.assert_array_equal(second["search"], calib.searches[2:4])
    session = ort.InferenceSession(str(bundle / "template.onnx"))
    key = session.run(["stage2_attn_key"], {"template": calib.templates[2:4]})[0]
    np.testing.assert_array_equal(second["stage2_attn_key"], key)
    with pytest.raises(ValueError, match="do not fill one batch of 2"):
        calibration_feeds(bundle, load_bundle(bundle).manifest, one)


def test_parity_pairs():
    assert parity_pairs(1, None) == 8 and parity_pairs(3, None) == 9 and parity_pairs(2, 4) == 4
    with pytest.raises(ValueError, match="multiple of batch"):
        parity_pairs(2, 3)


def test_the_quantizer_says_nothing_to_the_user(tmp_path, caplog, capfd):
    """quantize_static logs a pre-processing advice through the root logger and may print
    calibration progress; an export shows neither (the pre-processing was measured: qdq.py)."""
    import logging

    from onnx import TensorProto, helper, numpy_helper

    from asymtrack_deploy.export.qdq import quantize_qdq

    weight = numpy_helper.from_array(np.random.default_rng(0).normal(size=(8, 4, 3, 3)).astype(np.float32), "w")
    graph = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 6, 6])], [weight])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(tmp_path / "conv.onnx"))
    feeds = [{"x": np.random.default_rng(k).normal(size=(1, 4, 8, 8)).astype(np.float32)} for k in range(2)]
    handlers = list(logging.getLogger().handlers)
    with caplog.at_level(logging.DEBUG):
        record = quantize_qdq(tmp_path / "conv.onnx", tmp_path / "conv.int8.onnx", feeds, nodes=["conv"])
    assert record["ops"] == "1 nodes: conv" and _ops(tmp_path / "conv.int8.onnx")["QuantizeLinear"] >= 1
    assert not [r for r in caplog.records if r.name == "root"], [r.getMessage() for r in caplog.records]
    assert capfd.readouterr() == ("", "") and logging.getLogger().handlers == handlers
