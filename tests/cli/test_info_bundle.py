"""``asymtrack-deploy info --bundle DIR``: a bundle's manifest as tables or JSON."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from asymtrack_deploy.cli.main import app
from tests.conftest import reference_checkpoint
from tests.export.derived_bundles import shared_derived_bundle

runner = CliRunner()


def test_tables_show_every_section(tmp_path_factory):
    bundle = shared_derived_bundle(tmp_path_factory, "onnxruntime", "int8")
    result = runner.invoke(app, ["info", "--bundle", str(bundle)])
    assert result.exit_code == 0, result.output
    for text in ("onnxruntime / int8", "search.int8.onnx", "source_onnx", "stage2_attn_key", "1x8x64x32",
                 "Export", "Parity", "Runtime", "Calibration", "ORT_ENABLE_EXTENDED", "max_abs_box_diff",
                 "search_center_jitter", reference_checkpoint("tiny").name, "On this machine", "int8+f32"):
        assert text in result.output, text


def test_json_is_the_manifest(tmp_path_factory):
    bundle = shared_derived_bundle(tmp_path_factory, "onnxruntime", "int8")
    result = runner.invoke(app, ["info", "--bundle", str(bundle), "--json"])
    assert result.exit_code == 0
    assert json.loads(result.output) == json.loads((Path(bundle) / "manifest.json").read_text())


def test_not_a_bundle_and_damaged_bundle_exit_2(tmp_path, tmp_path_factory):
    result = runner.invoke(app, ["info", "--bundle", str(tmp_path)])
    assert result.exit_code == 2 and "not an asymtrack-deploy bundle" in " ".join(result.output.split())
    copy = Path(shutil.copytree(shared_derived_bundle(tmp_path_factory, "onnxruntime", "int8"), tmp_path / "b"))
    (copy / "search.int8.onnx").write_bytes(b"changed")
    result = runner.invoke(app, ["info", "--bundle", str(copy)])
    assert result.exit_code == 2 and "sha256 mismatch" in result.output


def test_bundle_and_checkpoint_together_is_a_usage_error(tmp_path):
    result = runner.invoke(app, ["info", "--bundle", str(tmp_path), "--checkpoint", str(reference_checkpoint("tiny"))])
    assert result.exit_code == 2


def test_an_edited_variant_is_refused(tmp_path, tmp_path_factory):
    """variant tiny -> base in manifest.json: info used to report a base network over tiny graphs."""
    copy = Path(shutil.copytree(shared_derived_bundle(tmp_path_factory, "onnxruntime", "int8"), tmp_path / "b"))
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["model"]["variant"] = "base"
    (copy / "manifest.json").write_text(json.dumps(manifest))
    result = runner.invoke(app, ["info", "--bundle", str(copy)])
    assert result.exit_code == 2, result.output
    assert "model.variant 'base' takes 192 / 384 pixel crops, but the graphs take 128 / 256" in " ".join(result.output.split())
