"""bf16: OpenVINO's fp32 IR computed in bf16 on CPUs with AMX or AVX512-BF16, with its own
tolerance; what the runtime executes is reported; refused, with the reason, on other CPUs."""
from __future__ import annotations

import json
from pathlib import Path

import openvino as ov
import pytest
from typer.testing import CliRunner

from asymtrack_deploy import catalogue
from asymtrack_deploy.bundle import load_bundle
from asymtrack_deploy.cli.main import app
from asymtrack_deploy.parity import tolerance_for
from asymtrack_deploy.runtimes import load_backend
from asymtrack_deploy.runtimes.openvino_backend import check_bf16
from tests.conftest import reference_checkpoint
from tests.export.derived_bundles import demo_checkpoint, executed_precisions_in_a_subprocess, shared_derived_bundle

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
HAS_BF16 = "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
needs_bf16 = pytest.mark.skipif(not HAS_BF16, reason="this CPU has no bf16 arithmetic (AMX or AVX512-BF16)")
runner = CliRunner()
_Core = ov.Core


class _CoreWithout:
    """An OpenVINO core that reports a CPU without bf16 arithmetic (the rest is the real one)."""

    def __init__(self):
        self._core = _Core()

    def get_property(self, device, name):
        value = self._core.get_property(device, name)
        return [c for c in value if c != "BF16"] if name == "OPTIMIZATION_CAPABILITIES" else value

    def __getattr__(self, name):
        return getattr(self._core, name)


def test_bf16_is_offered_by_openvino_only():
    assert "bf16" in catalogue.PRECISIONS and "bf16" in catalogue.target_entry("openvino").precisions
    assert catalogue.bench_target("openvino", "bf16") == "openvino"
    for target in ("onnxruntime", "tensorrt", "onnx"):
        assert "bf16" not in catalogue.target_entry(target).precisions
    assert tolerance_for("bf16").box == 5e-2 and tolerance_for("bf16").min_iou == 0.90


@needs_bf16
@pytest.mark.parametrize("weights", ["demo", "reference"])
def test_bf16_bundle_executes_bf16_within_its_tolerance(tmp_path_factory, weights):
    bundle = shared_derived_bundle(tmp_path_factory, "openvino", "bf16", demo=weights == "demo")
    manifest = load_bundle(bundle).manifest
    assert (manifest.precision, manifest.inference.arithmetic, manifest.inference.openvino_precision_hint) == ("bf16",) * 3
    assert manifest.export["ir_weights"] == "fp32" and manifest.export["search_layout"] == "channels_last"
    assert manifest.parity["passed"] and manifest.parity["box_tolerance"] == tolerance_for("bf16").box
    assert manifest.parity["max_abs_box_diff"] > tolerance_for("fp32").box  # it really ran in bf16
    with load_backend("openvino", bundle=bundle) as backend:
        extra = backend.info.extra
    assert extra["inference_precision"] == "bf16" and extra["executes"] == "bf16"
    executed = executed_precisions_in_a_subprocess(bundle)
    assert executed["bf16"] > 4 * executed.get("f32", 0)


@needs_bf16
@pytest.mark.skipif(not VTEST.is_file(), reason="vtest.avi (Debian package opencv-doc) not installed")
def test_bf16_tracks_vtest_within_its_threshold_with_trained_weights(tmp_path_factory):
    bundle = shared_derived_bundle(tmp_path_factory, "openvino", "bf16", demo=True)
    result = runner.invoke(app, ["parity", "--bundle", str(bundle), "--checkpoint", str(demo_checkpoint()), "--video",
                                 str(VTEST), "--init", "638,240,50,82", "--max-frames", "60", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["precision"] == "bf16" and report["min_iou_threshold"] == tolerance_for("bf16").min_iou
    assert report["passed"] and report["teacher_forced_min_iou"] < tolerance_for("fp16").min_iou  # not fp16-exact


def test_bf16_is_refused_on_a_cpu_without_it(tmp_path, monkeypatch, tmp_path_factory):
    with pytest.raises(ValueError, match="bf16 inference needs a CPU with bf16 arithmetic \\(AMX or AVX512-BF16\\)"):
        check_bf16(_CoreWithout(), "CPU", "bf16")
    check_bf16(_CoreWithout(), "CPU", "f32")  # other hints pass
    monkeypatch.setattr(ov, "Core", _CoreWithout)
    out = tmp_path / "bundle"
    result = runner.invoke(app, ["export", "--target", "openvino", "--precision", "bf16", "--variant", "tiny",
                                 "--checkpoint", str(reference_checkpoint("tiny")), "--out", str(out)])
    assert result.exit_code == 2 and "AMX or AVX512-BF16" in " ".join(result.output.split()) and not out.exists()
    fp32 = shared_derived_bundle(tmp_path_factory, "openvino", "fp32")
    with pytest.raises(ValueError, match="AMX or AVX512-BF16"):
        load_backend("openvino", bundle=fp32, inference_precision="bf16")
