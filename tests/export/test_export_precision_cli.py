"""``asymtrack-deploy export --precision/--calib*``: usage errors, calibration errors, no bundle."""
from __future__ import annotations

from typer.testing import CliRunner

from asymtrack_deploy.bundle import load_bundle
from asymtrack_deploy.cli.main import app
from tests.conftest import reference_checkpoint

runner = CliRunner()


def _run(*args):
    return runner.invoke(app, ["export", "--checkpoint", str(reference_checkpoint("tiny")), *map(str, args)])


def test_help_lists_the_precision_and_calibration_options():
    result = runner.invoke(app, ["export", "--help"])
    assert result.exit_code == 0
    for option in ("--precision", "--calib", "--calib-count", "--calib-seed", "--calib-box", "openvino", "onnxruntime", "tensorrt"):
        assert option in result.output


def test_onnx_target_is_fp32_only(tmp_path):
    result = _run("--out", tmp_path / "b", "--precision", "int8")
    assert result.exit_code == 2 and "fp32 only" in " ".join(result.output.split())


def test_calib_without_int8_is_a_usage_error(tmp_path):
    result = _run("--out", tmp_path / "b", "--target", "openvino", "--calib", tmp_path)
    assert result.exit_code == 2 and "int8" in result.output


def test_bad_calibration_box_is_a_usage_error(tmp_path):
    result = _run("--out", tmp_path / "b", "--target", "openvino", "--precision", "int8", "--calib-box", "1,2,3")
    assert result.exit_code == 2


def _assert_calibration_fails(tmp_path, source, message):
    out = tmp_path / "bundle"
    for target in ("openvino", "onnxruntime"):
        result = _run("--out", out, "--target", target, "--precision", "int8", "--calib", source)
        assert result.exit_code == 2, result.output
        assert message in " ".join(result.output.split())
        assert not out.exists()


def test_missing_calibration_source_writes_no_bundle(tmp_path):
    _assert_calibration_fails(tmp_path, tmp_path / "nowhere.mp4", "no such file or folder")


def test_empty_calibration_folder_writes_no_bundle(tmp_path):
    (tmp_path / "empty").mkdir()
    _assert_calibration_fails(tmp_path, tmp_path / "empty", "no images")


def test_unreadable_calibration_frames_write_no_bundle(tmp_path):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "0001.jpg").write_bytes(b"garbage")
    _assert_calibration_fails(tmp_path, tmp_path / "bad", "no readable frame")


def test_int8_export_with_few_pairs_warns_and_records_them(tmp_path):
    out = tmp_path / "bundle"
    result = _run("--out", out, "--target", "onnxruntime", "--precision", "int8", "--calib-count", 4, "--calib-seed", 7)
    assert result.exit_code == 0, result.output
    assert "too few" in result.output and "calibration" in result.output and "4 pairs" in result.output
    # calibration shows its progress, counted (a log: a line per tenth of the count)
    assert "export: int8 calibration: template states of 4 crop pairs (4)" in result.stderr
    assert "export: int8 calibration: template states of 4 crop pairs 4/4" in result.stderr
    assert "export: int8 calibration and conversion to onnxruntime int8 4/4" in result.stderr
    calibration = load_bundle(out).manifest.calibration
    assert (calibration["count"], calibration["seed"]) == (4, 7)
