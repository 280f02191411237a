"""The openvino target: IR bundles per precision, their manifests and parity, tiny and small."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from asymtrack_deploy import Tracker
from asymtrack_deploy.bundle import load_bundle
from asymtrack_deploy.export import export_bundle, target_names
from asymtrack_deploy.export.openvino_target import isolate_einsum_operands
from asymtrack_deploy.runtimes import load_backend
from tests.conftest import reference_checkpoint, reference_file
from tests.export.derived_bundles import TEST_CALIB_COUNT, shared_derived_bundle
from tests.test_tracker import STEP_TOL_PX, replay_reference_steps

ov = pytest.importorskip("openvino")


@pytest.fixture(scope="module")
def fp32(tmp_path_factory):
    return shared_derived_bundle(tmp_path_factory, "openvino", "fp32")


@pytest.fixture(scope="module")
def fp16(tmp_path_factory):
    return shared_derived_bundle(tmp_path_factory, "openvino", "fp16")


@pytest.fixture(scope="module")
def int8(tmp_path_factory):
    return shared_derived_bundle(tmp_path_factory, "openvino", "int8")


def _element_types(xml_path) -> set[str]:
    """Element types of the IR's constants (the weights)."""
    root = ET.parse(xml_path).getroot()
    return {d.get("element_type") for layer in root.iter("layer") if layer.get("type") == "Const" for d in layer.iter("data")}


def test_targets_are_registered():
    assert {"onnx", "openvino", "onnxruntime", "tensorrt"} <= set(target_names())


def test_fp32_bundle_layout_and_manifest(fp32):
    b = load_bundle(fp32)
    m = b.manifest
    assert (m.target, m.precision, m.model.variant) == ("openvino", "fp32", "tiny")
    for graph in ("template", "search"):
        files = m.graph(graph).files
        assert files == {"source_onnx": f"{graph}.onnx", "openvino_xml": f"{graph}.xml", "openvino_bin": f"{graph}.bin"}
        assert all((fp32 / name).is_file() for name in files.values())
    assert m.runtime["inference_precision_hint"] == "f32" and m.runtime["performance_hint"] == "LATENCY"
    assert m.export["einsum_operands_isolated"] == {"template": 2, "search": 0}  # channels-first search: no Einsum
    assert m.export["source_onnx_parity"]["passed"] and m.calibration is None
    assert m.parity["passed"] and m.parity["box_tolerance"] == 1e-4 and m.parity["max_abs_box_diff"] < 1e-4
    assert "openvino" in m.parity["runtime"] and "f32" in m.parity["runtime"] and m.parity["pairs"] == 8
    assert _element_types(fp32 / "search.xml") >= {"f32"} and "f16" not in _element_types(fp32 / "search.xml")


def test_fp32_reproduces_the_official_boxes(fp32):
    pairs = np.load(reference_file("pairs_tiny.npz"))
    with load_backend("openvino", bundle=fp32, threads=1) as backend:
        for k in range(len(pairs["template"])):
            boxes, _ = backend.search(pairs["search"][k : k + 1], backend.template(pairs["template"][k : k + 1]))
            np.testing.assert_allclose(boxes[0], pairs["pred_boxes"][k], rtol=0, atol=1e-4)


@pytest.mark.parametrize("variant", ["tiny", "small"])
def test_fp32_reproduces_the_official_tracker_steps(tmp_path_factory, variant):
    bundle = shared_derived_bundle(tmp_path_factory, "openvino", "fp32", variant)
    with load_backend("openvino", bundle=bundle) as backend:
        assert replay_reference_steps(Tracker(backend), variant) < STEP_TOL_PX


def test_fp16_compresses_the_weights_and_keeps_fp32_io(fp16):
    m = load_bundle(fp16).manifest
    assert m.precision == "fp16" and m.runtime["inference_precision_hint"] == "f16"
    assert "f16" in _element_types(fp16 / "search.xml")
    assert m.parity["passed"] and m.parity["box_tolerance"] == 1e-2 and m.parity["max_abs_box_diff"] < 1e-2
    assert [t.dtype for t in m.graph("search").inputs] == ["uint8"] + ["float32"] * 6
    assert (fp16 / "search.bin").stat().st_size < 0.6 * (fp16 / "search.onnx").stat().st_size


def test_int8_is_quantized_on_recorded_calibration_crops(int8):
    m = load_bundle(int8).manifest
    assert m.precision == "int8"
    c = m.calibration
    assert (c["count"], c["pairs_used"], c["seed"], c["kind"]) == (TEST_CALIB_COUNT, TEST_CALIB_COUNT, 0, "builtin")
    assert "too few" in c["warning"] and "own template crop" in c["state"]
    quantizer = m.export["quantizer"]
    assert quantizer["search"]["model_type"] == "TRANSFORMER" and quantizer["search"]["bias_correction"] == "off"
    # 42 weighted ops left float in the channels-first search graph (40 in the channels-last one)
    assert quantizer["search"]["float_ops"] == 42 and quantizer["template"].startswith("not quantized")
    fake_quantize = {g: sum(layer.get("type") == "FakeQuantize" for layer in ET.parse(int8 / f"{g}.xml").getroot().iter("layer"))
                     for g in ("template", "search")}
    assert fake_quantize["template"] == 0 and fake_quantize["search"] >= 10
    assert m.parity["passed"] and m.parity["box_tolerance"] == 0.1
    # the spatial ReduceSums over axes (2, 3) are one-axis sums, which ARM CPUs compile
    assert m.export["reduce_sums_flattened"] == {"template": 0, "search": 6}
    sums = [n for n in ov.Core().read_model(str(int8 / "search.xml")).get_ordered_ops() if n.get_type_name() == "ReduceSum"]
    assert sums and all(n.input_value(1).get_node().get_data().size == 1 for n in sums)


def test_isolated_einsums_compute_the_same(fp32):
    """The OpenVINO workaround only adds exact power-of-two scalings (checked in ONNX Runtime)."""
    proto = onnx.load(str(fp32 / "template.onnx"))
    isolated, changed = isolate_einsum_operands(proto)
    assert changed == 2
    added = [n for n in isolated.graph.node if n.op_type == "Mul" and "/isolate" in n.name]
    assert len(added) == len(isolated.graph.node) - len(proto.graph.node) >= 2 * changed
    crop = np.load(reference_file("pairs_tiny.npz"))["template"][:1]
    before = ort.InferenceSession(proto.SerializeToString()).run(None, {"template": crop})
    after = ort.InferenceSession(isolated.SerializeToString()).run(None, {"template": crop})
    for a, b in zip(before, after):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


def test_template_state_matches_onnx_runtime(fp32):
    """The regression the workaround fixes: OpenVINO's template state equals ONNX Runtime's."""
    crop = np.load(reference_file("pairs_tiny.npz"))["template"][2:3]
    session = ort.InferenceSession(str(fp32 / "template.onnx"))
    expected = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"template": crop})))
    with load_backend("openvino", bundle=fp32) as backend:
        got = backend.template(crop).numpy()
    for name, value in expected.items():
        np.testing.assert_allclose(got[name], value, rtol=0, atol=1e-4, err_msg=name)


def test_unknown_precision_and_missing_calibration_source_write_nothing(tmp_path):
    common = dict(checkpoint=reference_checkpoint("tiny"), variant="tiny", out_dir=tmp_path / "b")
    with pytest.raises(ValueError, match="precision 'int4'"):
        export_bundle("openvino", precision="int4", **common)
    with pytest.raises(ValueError, match="no such file or folder"):
        export_bundle("openvino", precision="int8", calib=tmp_path / "missing", **common)
    assert not (tmp_path / "b").exists() and list(tmp_path.iterdir()) == []
