"""A checkpoint written by `train` exports to ONNX and passes `parity` against itself."""
from __future__ import annotations

import json

from train_fixtures import make_tree
from typer.testing import CliRunner

from asymtrack_deploy.cli.main import app
from tests.conftest import reference_file

runner = CliRunner()


def test_trained_checkpoint_exports_and_passes_parity(tmp_path):
    root = make_tree("got10k", tmp_path / "got")
    args = ["train", "--data", f"got10k={root}", "--epochs", "1", "--batch-size", "2", "--samples-per-epoch", "4",
            "--workers", "0", "--out", str(tmp_path / "run"), "--no-progress", "--no-amp", "--threads", "1"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    checkpoint = tmp_path / "run" / "checkpoints" / "AsymTrack_ep0001.pth.tar"
    assert checkpoint.is_file()
    bundle = tmp_path / "bundle"
    result = runner.invoke(app, ["export", "--target", "onnx", "--variant", "tiny", "--checkpoint", str(checkpoint), "--out", str(bundle)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["parity", "--bundle", str(bundle), "--checkpoint", str(checkpoint), "--frames",
                                 str(reference_file("frames")), "--init", "410,130,80,120", "--max-frames", "8", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["passed"] and report["notes"] == []
