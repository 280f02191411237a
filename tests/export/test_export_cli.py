"""``asymtrack-deploy export`` through typer's CliRunner: exit codes and output."""
from __future__ import annotations

import time

import pytest
from typer.testing import CliRunner

from asymtrack_deploy.bundle import load_bundle
from asymtrack_deploy.export import export_bundle
from asymtrack_deploy.cli.main import app
from tests.conftest import reference_checkpoint

runner = CliRunner()


def _run(*args):
    return runner.invoke(app, ["export", *map(str, args)])


def test_help_lists_targets_and_options():
    result = _run("--help")
    assert result.exit_code == 0
    for option in ("--target", "--variant", "--checkpoint", "--out", "--batch", "--force", "--random-weights", "--seed"):
        assert option in result.output


def test_no_checkpoint_exports_the_demo_weights_and_says_so(tmp_path):
    from asymtrack_deploy.bundle import file_sha256
    from asymtrack_deploy.demo_weights import DEMO_CHECKPOINT

    result = _run("--target", "onnx", "--out", tmp_path / "b")
    assert result.exit_code == 0, result.output
    assert "no --checkpoint: exporting the demo weights" in result.stderr
    source = load_bundle(tmp_path / "b").manifest.source
    assert source.checkpoint_sha256 == file_sha256(DEMO_CHECKPOINT)


def test_no_checkpoint_for_a_variant_without_demo_weights_is_exit_2(tmp_path):
    result = _run("--variant", "small", "--out", tmp_path / "b")
    assert result.exit_code == 2 and "demo weights are AsymTrack-tiny only" in " ".join(result.output.split())
    assert not (tmp_path / "b").exists()


def test_missing_checkpoint_is_exit_2(tmp_path):
    result = _run("--out", tmp_path / "b", "--checkpoint", tmp_path / "nope.pth")
    assert result.exit_code == 2 and "no such checkpoint file" in result.output


def test_wrong_variant_is_exit_2_with_the_checkpoint_error(tmp_path):
    result = _run("--out", tmp_path / "b", "--variant", "base", "--checkpoint", reference_checkpoint("tiny"))
    assert result.exit_code == 2
    assert "it is tiny, not base" in " ".join(result.output.split())
    assert not (tmp_path / "b").exists()


def test_a_batch_beyond_the_bound_is_refused_at_once(tmp_path):
    """--batch 100000 used to export for minutes and gigabytes, leaving a .partial folder."""
    started = time.monotonic()
    result = _run("--out", tmp_path / "b", "--random-weights", "--batch", 100000)
    assert result.exit_code == 2, result.output
    assert "--batch must be an integer from 1 to 64, got 100000" in " ".join(result.output.split())
    assert time.monotonic() - started < 30  # checked before torch or any model is loaded
    assert list(tmp_path.iterdir()) == []  # no bundle, no .partial folder
    with pytest.raises(ValueError, match="from 1 to 64, got 65"):
        export_bundle("onnx", checkpoint=None, random_weights=True, variant="tiny", out_dir=tmp_path / "b", batch=65)


def test_both_checkpoint_and_random_weights_is_a_usage_error(tmp_path):
    result = _run("--out", tmp_path / "b", "--checkpoint", reference_checkpoint("tiny"), "--random-weights")
    assert result.exit_code == 2


def test_bad_target_and_opset_are_usage_errors(tmp_path):
    assert _run("--out", tmp_path / "b", "--random-weights", "--target", "coreml").exit_code == 2
    assert _run("--out", tmp_path / "b", "--random-weights", "--opset", "13").exit_code == 2


def test_existing_bundle_without_force_is_exit_2(tiny_bundle):
    result = _run("--out", tiny_bundle, "--checkpoint", reference_checkpoint("tiny"))
    assert result.exit_code == 2 and "pass --force to replace it" in result.output
    assert "force=True" not in result.output  # the Python API's name stays out of the command line


def test_random_weights_export_prints_the_summary_and_records_the_weights(tmp_path):
    out = tmp_path / "bundle"
    result = _run("--out", out, "--random-weights", "--seed", 3, "--batch", 2)
    assert result.exit_code == 0, result.output
    for text in ("search.onnx", "template.onnx", "MB", "max |box diff|", "passed", "random weights (seed 3)"):
        assert text in result.output
    for stage in ("loading the model", "fp32 ONNX graphs", "parity of the ONNX graphs against PyTorch", "done in"):
        assert f"export: {stage}" in result.stderr  # not a terminal: one line per stage
    source = load_bundle(out).manifest.source
    assert source.random_weights and source.seed == 3 and source.checkpoint is None


def test_json_prints_the_manifest(tiny_bundle, tmp_path, monkeypatch):
    """Rendering only: the exporter (tested for real elsewhere) returns the shared bundle."""
    import json

    import asymtrack_deploy.export as export

    monkeypatch.setattr(export, "export_bundle", lambda target, **options: load_bundle(tiny_bundle))
    result = _run("--out", tmp_path / "b", "--checkpoint", reference_checkpoint("tiny"), "--json")
    assert result.exit_code == 0, result.output
    manifest = json.loads(result.stdout[result.stdout.index("{") :])
    assert manifest["target"] == "onnx" and manifest["parity"]["passed"]


def test_failed_parity_is_exit_1(tmp_path, monkeypatch):
    import asymtrack_deploy.export as export
    from asymtrack_deploy.parity import ParityError

    def fail(target, **options):
        raise ParityError("max box difference 0.5 > tolerance 0.0001")

    monkeypatch.setattr(export, "export_bundle", fail)
    result = _run("--out", tmp_path / "b", "--checkpoint", reference_checkpoint("tiny"))
    assert result.exit_code == 1 and "no bundle was written" in result.output
