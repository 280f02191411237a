"""``asymtrack-deploy eval`` with the real Tracker: a random-weight tiny torch model, and two
exported bundles compared side by side (dataset-level parity)."""
from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from asymtrack_deploy.cli.main import app

from eval_fixtures import folder_dataset

runner = CliRunner()


def test_eval_torch_random_weights_table_json_and_resume(tmp_path):
    pytest.importorskip("torch")
    folder_dataset(tmp_path / "data", count=3, frames=4)
    args = ["eval", "--dataset", "folder", "--root", str(tmp_path / "data"), "--random-weights",
            "--limit-sequences", "2", "--out", str(tmp_path / "out")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    for text in ("folder: 2 sequences", "AUC", "P_norm", "AO", "FPS", "torch-tiny-random", "summary.json"):
        assert text in result.output
    assert "eval: torch-tiny-random on folder 2/2" in result.stderr  # not a terminal: a line per sequence
    summary = json.loads((tmp_path / "out" / "folder" / "torch-tiny-random" / "summary.json").read_text())
    assert summary["sequences"] == 2 and summary["speed"]["frames"] == 8
    resumed = runner.invoke(app, args + ["--json"])
    assert resumed.exit_code == 0, resumed.output
    assert "2 of 2 sequences resumed" in resumed.stderr
    data = json.loads(resumed.stdout)
    assert data["runs"][0]["metrics"] == summary["metrics"]


def test_eval_bad_input_exits_2(tmp_path):
    (tmp_path / "empty").mkdir()
    result = runner.invoke(app, ["eval", "--dataset", "folder", "--root", str(tmp_path / "empty"), "--random-weights"])
    assert result.exit_code == 2 and "empty folder" in " ".join(result.stderr.split())  # rich wraps lines
    folder_dataset(tmp_path / "data", count=1, frames=3)
    result = runner.invoke(app, ["eval", "--dataset", "folder", "--root", str(tmp_path / "data"), "--bundle", str(tmp_path),
                                 "--checkpoint", str(tmp_path / "c.pth"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "c.pth" in " ".join(result.output.split())  # the missing checkpoint is named


@pytest.mark.slow
def test_eval_two_bundles_side_by_side(tmp_path, tmp_path_factory):
    pytest.importorskip("onnxruntime")
    from tests.export.conftest import shared_bundle

    bundle = shared_bundle(tmp_path_factory)
    copy = shutil.copytree(bundle, tmp_path / "bundle_copy")
    folder_dataset(tmp_path / "data", count=2, frames=4)
    result = runner.invoke(app, ["eval", "--dataset", "folder", "--root", str(tmp_path / "data"), "--bundle", str(bundle),
                                 "--bundle", str(copy), "--out", str(tmp_path / "out"), "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["metric"]: r for r in json.loads(result.stdout)["comparison"]}
    assert [r["label"] for r in json.loads(result.stdout)["runs"]] == [bundle.name, "bundle_copy"]
    for metric in ("AUC", "P", "P_norm", "AO"):
        assert rows[metric]["diff"] == [0.0, 0.0]  # same graphs, same runtime: identical tracks
