"""The tensorrt target. The support check of the graphs handed to TensorRT runs everywhere; the
engine build and the backend need TensorRT and a GPU (importorskip)."""
from __future__ import annotations

import importlib.util
import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from typer.testing import CliRunner

from asymtrack_deploy.bundle import load_bundle
from asymtrack_deploy.cli.main import app
from asymtrack_deploy.export.calibration import CalibrationWarning, calibration_set
from asymtrack_deploy.export.calibration_feeds import calibration_feeds
from asymtrack_deploy.export.qdq import quantize_qdq
from asymtrack_deploy.export.tensorrt_target import TENSORRT_ONNX_OPS, cast_uint8_inputs_first, tensorrt_problems
from asymtrack_deploy.models import VARIANTS
from tests.conftest import reference_checkpoint, reference_file
from tests.export.conftest import shared_bundle

HAVE_TENSORRT = importlib.util.find_spec("tensorrt") is not None


@pytest.fixture(scope="module")
def onnx_bundle(tmp_path_factory) -> Path:
    return shared_bundle(tmp_path_factory)


@pytest.fixture(scope="module")
def builder_graphs(onnx_bundle, tmp_path_factory) -> dict[str, Path]:
    """What the exporter hands to TensorRT: fp32 graphs with the uint8 cast first, and their
    int8 Q/DQ copies (TensorRT settings, a few calibration pairs)."""
    folder = tmp_path_factory.mktemp("trt_graphs")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        feeds = calibration_feeds(onnx_bundle, load_bundle(onnx_bundle).manifest, calibration_set(VARIANTS["tiny"], count=4))
    paths = {}
    for graph in ("template", "search"):
        proto, moved = cast_uint8_inputs_first(onnx.load(str(onnx_bundle / f"{graph}.onnx")))
        assert moved == 1
        paths[f"{graph}_fp32"] = folder / f"{graph}.tensorrt.onnx"
        onnx.save_model(proto, str(paths[f"{graph}_fp32"]))
        paths[f"{graph}_int8"] = folder / f"{graph}.qdq.onnx"
        quantize_qdq(paths[f"{graph}_fp32"], paths[f"{graph}_int8"], getattr(feeds, graph), for_tensorrt=True)
    return paths


@pytest.mark.parametrize("graph", ["template_fp32", "search_fp32", "template_int8", "search_int8"])
def test_graphs_handed_to_tensorrt_pass_the_support_check(builder_graphs, graph):
    model = onnx.load(str(builder_graphs[graph]))
    assert tensorrt_problems(model) == []
    used = {n.op_type for n in model.graph.node}
    assert used <= TENSORRT_ONNX_OPS and not used & {"Loop", "If", "Scan"}


def test_int8_graph_is_explicitly_quantized_the_way_tensorrt_wants(builder_graphs):
    graph = onnx.load(str(builder_graphs["search_int8"])).graph
    ops = {n.op_type for n in graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops and not ops & {"QLinearConv", "QLinearMatMul", "MatMulInteger"}
    initializers = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    zero_points = [initializers[n.input[2]] for n in graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")]
    assert zero_points and all(z.dtype == np.int8 and not z.any() for z in zero_points)
    dequantized = [initializers[n.input[0]] for n in graph.node if n.op_type == "DequantizeLinear" and n.input[0] in initializers]
    assert dequantized and all(w.dtype == np.int8 for w in dequantized)  # no int32 biases
    per_channel = [n for n in graph.node if n.op_type == "DequantizeLinear" and initializers.get(n.input[1], np.zeros(1)).size > 1]
    assert len(per_channel) > 20


def test_the_exported_graph_itself_is_refused_for_its_uint8_transpose(onnx_bundle):
    problems = tensorrt_problems(onnx.load(str(onnx_bundle / "search.onnx")))
    assert any("uint8 input 'search' feeds Transpose" in p for p in problems)


def test_moving_the_cast_first_changes_no_value(onnx_bundle, builder_graphs):
    data = np.load(reference_file("pairs_tiny.npz"))
    feed = {"template": data["template"][:1]}
    before = ort.InferenceSession(str(onnx_bundle / "template.onnx")).run(None, feed)
    after = ort.InferenceSession(str(builder_graphs["template_fp32"])).run(None, feed)
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)


def _model(nodes, inputs, outputs, initializers=(), opset=17):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _float(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def test_unsupported_operator_and_control_flow_are_named():
    x = _float("x", [4])
    unsupported = _model([helper.make_node("Det", ["m"], ["y"])], [_float("m", [3, 3])], [_float("y", [])])
    assert any("does not support Det" in p for p in tensorrt_problems(unsupported))
    cond = helper.make_tensor_value_info("c", TensorProto.BOOL, [])
    branch = helper.make_graph([helper.make_node("Identity", ["x"], ["z"])], "b", [], [_float("z", [4])])
    control = _model([helper.make_node("If", ["c"], ["y"], then_branch=branch, else_branch=branch)], [cond, x], [_float("y", [4])])
    assert any("control flow" in p for p in tensorrt_problems(control))


def test_dynamic_shape_dynamic_weight_and_custom_domain_are_named():
    dynamic = _model([helper.make_node("Relu", ["x"], ["y"])], [_float("x", ["n", 4])], [_float("y", ["n", 4])])
    assert any("dynamic shape" in p for p in tensorrt_problems(dynamic))
    conv = _model(
        [helper.make_node("Conv", ["x", "w"], ["y"])],
        [_float("x", [1, 2, 4, 4]), _float("w", [3, 2, 1, 1])],
        [_float("y", [1, 3, 4, 4])],
    )
    assert any("weight computed at run time" in p for p in tensorrt_problems(conv))
    custom = helper.make_model(
        helper.make_graph([helper.make_node("Gelu", ["x"], ["y"], domain="com.microsoft")], "g", [_float("x", [4])], [_float("y", [4])]),
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)],
    )
    assert any("domain 'com.microsoft'" in p for p in tensorrt_problems(custom))


def test_asymmetric_quantization_and_runtime_axes_are_named():
    scale = numpy_helper.from_array(np.array(0.1, np.float32), "s")
    zero = numpy_helper.from_array(np.array(128, np.uint8), "z")
    q = _model(
        [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"]), helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"])],
        [_float("x", [4])],
        [_float("y", [4])],
        [scale, zero],
    )
    problems = tensorrt_problems(q)
    assert any("zero point must be a constant int8 0" in p for p in problems)
    assert any("uint8 inside the graph" in p for p in problems)
    axes = helper.make_tensor_value_info("axes", TensorProto.INT64, [1])
    squeeze = _model([helper.make_node("Squeeze", ["x", "axes"], ["y"])], [_float("x", [1, 4]), axes], [_float("y", [4])])
    assert any("must be a constant" in p for p in tensorrt_problems(squeeze))


def test_operator_table_is_the_parsers():
    assert {"Conv", "Gemm", "MatMul", "LayerNormalization", "Einsum", "Erf", "QuantizeLinear", "DequantizeLinear"} <= TENSORRT_ONNX_OPS
    assert not {"QLinearConv", "QLinearMatMul", "MatMulInteger", "ConvInteger", "DynamicQuantizeLinear", "Unique"} & TENSORRT_ONNX_OPS


@pytest.mark.skipif(HAVE_TENSORRT, reason="TensorRT is installed here")
def test_export_without_tensorrt_names_the_extra_and_writes_nothing(tmp_path):
    out = tmp_path / "trt"
    result = CliRunner().invoke(
        app, ["export", "--target", "tensorrt", "--checkpoint", str(reference_checkpoint("tiny")), "--out", str(out)]
    )
    assert result.exit_code == 2  # a runtime library not installed: exit 2, as in every command
    text = " ".join(result.output.split())
    assert "asymtrack-deploy[tensorrt]" in text and "no bundle was written" in text
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_engine_for_another_gpu_or_version_is_refused_with_the_rebuild_command(onnx_bundle, tmp_path):
    """The refusal itself (TensorRT is not needed for it): a bundle whose manifest says another
    GPU and TensorRT version than the machine reports."""
    from asymtrack_deploy.runtimes.tensorrt_backend import TensorRTBackend

    copy = Path(shutil.copytree(onnx_bundle, tmp_path / "b"))
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["target"] = "tensorrt"
    manifest["runtime"] = {"tensorrt": "10.0.1", "gpu": "NVIDIA A100-SXM4-40GB", "compute_capability": "8.0"}
    (copy / "manifest.json").write_text(json.dumps(manifest))
    backend = TensorRTBackend.__new__(TensorRTBackend)
    backend.bundle = load_bundle(copy)
    backend.trt_version, backend.gpu = "10.7.0", {"gpu": "NVIDIA H100 80GB HBM3", "compute_capability": "9.0"}
    with pytest.raises(RuntimeError) as info:
        backend._check_compatible()
    message = str(info.value)
    for text in ("TensorRT 10.0.1 for NVIDIA A100", "TensorRT 10.7.0 and NVIDIA H100", "asymtrack-deploy export --target tensorrt",
                 "search.onnx"):
        assert text in message


# -- with TensorRT and a GPU -------------------------------------------------------------------


@pytest.fixture(scope="module")
def trt_fp32(tmp_path_factory):
    pytest.importorskip("tensorrt")
    pytest.importorskip("cuda")
    from asymtrack_deploy.export import export_bundle

    out = tmp_path_factory.getbasetemp() / "tiny_tensorrt_fp32"
    return export_bundle("tensorrt", checkpoint=reference_checkpoint("tiny"), variant="tiny", out_dir=out, force=True)


@pytest.mark.gpu
def test_tensorrt_fp32_bundle(trt_fp32):
    m = trt_fp32.manifest
    assert m.graph("search").files["tensorrt_engine"] == "search.engine" and "timing.cache" in m.files
    assert m.runtime["tensorrt"] and m.runtime["gpu"] and m.runtime["compute_capability"]
    assert m.parity["passed"] and m.parity["box_tolerance"] == 1e-4


@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_tensorrt_reduced_precision_bundles(tmp_path, precision):
    pytest.importorskip("tensorrt")
    from asymtrack_deploy.export import export_bundle

    bundle = export_bundle("tensorrt", checkpoint=reference_checkpoint("tiny"), variant="tiny", out_dir=tmp_path / "b",
                           precision=precision, calib_count=8)
    assert bundle.manifest.parity["passed"] and bundle.manifest.precision == precision
