from __future__ import annotations

import json

from typer.testing import CliRunner

from asymtrack_deploy.cli.main import app
from tests.conftest import reference_checkpoint

runner = CliRunner()


def test_info_table_for_tiny():
    result = runner.invoke(app, ["info", "--variant", "tiny"])
    assert result.exit_code == 0, result.output
    for text in ("AsymTrack-tiny", "search branch", "template branch", "stage2_attn_key", "1x8x64x32"):
        assert text in result.output


def test_info_json_with_checkpoint():
    result = runner.invoke(app, ["info", "--variant", "small", "--checkpoint", str(reference_checkpoint("small")), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["variant"] == "small" and data["template_state"]["stage2_attn_key"] == [1, 8, 64, 32]
    assert 1.0e9 < data["flops"]["search"] < 1.6e9


def test_info_with_mismatched_checkpoint_exits_2():
    result = runner.invoke(app, ["info", "--variant", "tiny", "--checkpoint", str(reference_checkpoint("small"))])
    assert result.exit_code == 2
    assert "not tiny" in result.output


def test_info_identifies_a_downloaded_checkpoint_by_form_and_sha256():
    from asymtrack_deploy.bundle import file_sha256
    from asymtrack_deploy.demo_weights import DEMO_CHECKPOINT

    official = reference_checkpoint("tiny")  # official-format: the training form, as released
    for path, form in ((official, "training"), (DEMO_CHECKPOINT, "deploy")):
        result = runner.invoke(app, ["info", "--checkpoint", str(path), "--json"])
        assert result.exit_code == 0, result.output
        data = json.loads(result.output)
        assert data["variant"] == "tiny" and data["parameters"]["total"] > 3e6
        assert data["checkpoint_form"].startswith(form) and data["checkpoint_sha256"] == file_sha256(path)
    table = runner.invoke(app, ["info", "--checkpoint", str(official)]).output
    assert "checkpoint sha256" in table and file_sha256(official) in table
