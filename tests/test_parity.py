"""The accuracy-parity check: an fp32 ONNX bundle passes, a perturbed one fails (exit 1)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper
from typer.testing import CliRunner

from asymtrack_deploy.bundle import file_sha256
from asymtrack_deploy.cli.main import app
from asymtrack_deploy.datasets import image_files
from asymtrack_deploy.export import export_bundle
from tests.conftest import REFERENCE_DIR, reference_checkpoint

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
runner = CliRunner()


@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("parity") / "tiny-onnx"
    export_bundle("onnx", checkpoint=reference_checkpoint("tiny"), variant="tiny", out_dir=out, batch=1)
    return out


@pytest.fixture(scope="module")
def perturbed_bundle(tiny_bundle, tmp_path_factory) -> Path:
    """A bundle as a broken converter would write it: weights changed, manifest hashes updated."""
    out = tmp_path_factory.mktemp("parity") / "perturbed"
    shutil.copytree(tiny_bundle, out)
    model = onnx.load(out / "search.onnx")
    rng = np.random.default_rng(0)
    for init in model.graph.initializer:
        array = numpy_helper.to_array(init)
        if array.dtype == np.float32 and array.size > 10000:
            noisy = array + rng.normal(0, 0.2 * float(array.std()), array.shape).astype(np.float32)
            init.CopyFrom(numpy_helper.from_array(noisy, init.name))
    onnx.save(model, out / "search.onnx")
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["files"]["search.onnx"] = {"sha256": file_sha256(out / "search.onnx"), "bytes": (out / "search.onnx").stat().st_size}
    (out / "manifest.json").write_text(json.dumps(manifest))
    return out


def _parity(bundle: Path, *args: str):
    return runner.invoke(app, ["parity", "--bundle", str(bundle), "--checkpoint", str(reference_checkpoint("tiny")), "--json", *args])


def test_fp32_bundle_passes_on_reference_frames(tiny_bundle):
    result = _parity(tiny_bundle, "--frames", str(REFERENCE_DIR / "frames"), "--init", "410,130,80,120")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["passed"] and report["teacher_forced_min_iou"] >= 0.999
    frames = len(image_files(REFERENCE_DIR / "frames"))  # 24 in the full set, 8 in the compact one
    assert report["frames"] == frames and report["smallest_passing_min_iou"] == report["teacher_forced_min_iou"]
    # progress goes to stderr (here not a terminal: plain lines), the report alone to stdout
    assert f"parity: frames, teacher-forced and free-running {frames - 1}/{frames - 1}" in result.stderr


def test_fp32_bundle_passes_on_a_real_video(tiny_bundle):
    if not VTEST.is_file():
        pytest.skip(f"{VTEST} missing: apt-get install opencv-doc (CI installs it)")
    result = _parity(tiny_bundle, "--video", str(VTEST), "--init", "638,240,50,82", "--max-frames", "60")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["passed"] and report["frames"] == 60


def test_builtin_sequence_is_the_default(tiny_bundle):
    result = runner.invoke(app, ["parity", "--bundle", str(tiny_bundle), "--checkpoint", str(reference_checkpoint("tiny"))])
    assert result.exit_code == 0, result.output
    assert "PASS" in result.output and "teacher-forced min IoU" in result.output


def test_perturbed_bundle_fails_with_exit_1(perturbed_bundle):
    result = _parity(perturbed_bundle, "--frames", str(REFERENCE_DIR / "frames"), "--init", "410,130,80,120")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert not report["passed"] and report["teacher_forced_min_iou"] < 0.999


def test_a_looser_threshold_is_honoured(perturbed_bundle):
    result = _parity(perturbed_bundle, "--frames", str(REFERENCE_DIR / "frames"), "--init", "410,130,80,120", "--min-iou", "0.0")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["--frames", "/nonexistent"], "no such file"),
        (["--video", str(REFERENCE_DIR / "README.md"), "--init", "1,1,5,5"], "not a video"),
        (["--frames", str(REFERENCE_DIR / "frames")], "--init"),
        (["--frames", str(REFERENCE_DIR / "frames"), "--init", "1,2,3"], "four numbers"),
    ],
)
def test_bad_input_exits_2(tiny_bundle, args, message):
    result = _parity(tiny_bundle, *args)
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_missing_bundle_exits_2(tmp_path):
    result = _parity(tmp_path / "none", "--frames", str(REFERENCE_DIR / "frames"), "--init", "1,1,5,5")
    assert result.exit_code == 2 and "no such bundle" in result.output
