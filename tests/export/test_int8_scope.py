"""int8 that passes parity with trained weights: the measured rule of what is quantized
(``export/int8_scope.py``) and the demo weights tracked on two real videos by both runtimes.
(That ONNX Runtime's int8 graph is not slower than its fp32 one is a speed target: ``bench``
measures it, benchmarks/RESULTS.md reports it.)"""
from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import onnx
import pytest
from typer.testing import CliRunner

from asymtrack_deploy.bundle import load_bundle
from asymtrack_deploy.cli.main import app
from asymtrack_deploy.export import int8_scope
from asymtrack_deploy.parity import tolerance_for
from tests.export.derived_bundles import demo_checkpoint, shared_derived_bundle

OPENCV_DOC = Path("/usr/share/doc/opencv-doc")
VIDEOS = {  # the README's starting boxes
    "vtest": (OPENCV_DOC / "examples" / "data" / "vtest.avi", "638,240,50,82"),
    "box": (OPENCV_DOC / "opencv4" / "html" / "box.mp4.gz", "298,15,297,227"),
}
runner = CliRunner()


@pytest.fixture(scope="module")
def search_graph(tmp_path_factory) -> onnx.ModelProto:
    bundle = shared_derived_bundle(tmp_path_factory, "onnxruntime", "int8", demo=True)
    return onnx.load(str(bundle / "search.onnx"))


def test_the_rule_quantizes_the_long_dense_ops_only(search_graph):
    chosen = int8_scope.onnx_int8_nodes(search_graph)
    assert len(chosen) == 13 and sum("/box_head/" in n for n in chosen) == 8
    for kept_float in ("/patch_embed/proj/Conv", "/blocks.3/attn/MatMul", "/blocks.3/attn/MatMul_1", "/blocks.2_1/MatMul",
                       "/blocks.0/mlp/context_layer/context_list.0/Conv", "/box_head/conv5_tl/Conv", "/bottleneck/MatMul_output_0"):
        assert kept_float not in chosen
    assert int8_scope.worth_int8(512, 64, 1) and not int8_scope.worth_int8(511, 64, 1)
    assert not int8_scope.worth_int8(None, None, 1) and not int8_scope.worth_int8(4096, 64, 64)


def test_openvino_keeps_the_same_ops_in_float(search_graph, tmp_path):
    import openvino as ov

    path = tmp_path / "search.onnx"
    onnx.save(search_graph, str(path))
    model = ov.convert_model(str(path))
    weighted = [op for op in model.get_ordered_ops() if op.get_type_name() in ("Convolution", "GroupConvolution", "MatMul")]
    float_ops = int8_scope.openvino_float_ops(model)
    assert len(weighted) - len(float_ops) == len(int8_scope.onnx_int8_nodes(search_graph))


def _video(name: str, tmp_path_factory) -> tuple[Path, str]:
    path, init = VIDEOS[name]
    if not path.is_file():
        pytest.skip(f"{path} not found (Debian package opencv-doc)")
    if path.suffix == ".gz":
        unpacked = tmp_path_factory.getbasetemp() / path.stem
        if not unpacked.is_file():
            with gzip.open(path) as src, open(unpacked, "wb") as dst:
                shutil.copyfileobj(src, dst)
        path = unpacked
    return path, init


@pytest.mark.slow
@pytest.mark.parametrize("target", ["onnxruntime", "openvino"])
@pytest.mark.parametrize("video", ["vtest", "box"])
def test_int8_with_trained_weights_passes_parity_on_real_video(tmp_path_factory, target, video):
    bundle = shared_derived_bundle(tmp_path_factory, target, "int8", demo=True)
    manifest = load_bundle(bundle).manifest
    assert manifest.export["quantizer"]["search"]["rule"] == int8_scope.RULE
    path, init = _video(video, tmp_path_factory)
    result = runner.invoke(app, ["parity", "--bundle", str(bundle), "--checkpoint", str(demo_checkpoint()),
                                 "--video", str(path), "--init", init, "--max-frames", "60", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["passed"] and report["teacher_forced_min_iou"] >= tolerance_for("int8").min_iou
