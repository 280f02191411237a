"""The mnn target and backend: bundles per precision with the trained demo weights, their
export-time parity, tracking parity on the built-in sequence, the backend's promises."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from asymtrack_deploy.bundle import load_bundle
from asymtrack_deploy.parity import ParityThresholds, run_parity, tolerance_for
from asymtrack_deploy.runtimes import load_backend, load_bundle_backend
from asymtrack_deploy.sources import builtin_sequence
from tests.export.derived_bundles import demo_checkpoint, shared_derived_bundle
from tests.runtimes.backend_contract import assert_bundle_backend_contract, assert_two_threads_get_the_boxes_each_gets_alone

pytest.importorskip("MNN")

ROOT = Path(__file__).resolve().parents[2]
FRAMES = 8  # of the built-in sequence, for the tracking parity (the whole of it: `parity` in the README)


@pytest.fixture(scope="module", params=["fp32", "fp16", "int8"])
def demo_bundle(request, tmp_path_factory):
    return shared_derived_bundle(tmp_path_factory, "mnn", request.param, demo=True)


@pytest.fixture(scope="module")
def fp32(tmp_path_factory):
    return shared_derived_bundle(tmp_path_factory, "mnn", "fp32", demo=True)


@pytest.fixture(scope="module")
def pairs():
    from asymtrack_deploy.parity import parity_crops
    from asymtrack_deploy.models import VARIANTS

    crops = parity_crops(VARIANTS["tiny"], pairs=2)
    return {"template": crops.templates, "search": crops.searches}


def test_bundle_files_manifest_and_export_parity(demo_bundle):
    m = load_bundle(demo_bundle).manifest
    precision = m.precision
    assert m.target == "mnn"
    for graph in ("template", "search"):
        assert m.graph(graph).files == {"source_onnx": f"{graph}.onnx", "mnn_model": f"{graph}.{precision}.mnn"}
    assert m.runtime["mnn"] and m.export["converter"].startswith("MNN ")
    assert m.parity["passed"] and m.parity["pairs"] == 8
    assert m.parity["box_tolerance"] == tolerance_for(precision, "mnn").box
    assert m.parity["max_abs_box_diff"] <= m.parity["box_tolerance"]
    assert "mnn" in m.parity["runtime"]


def test_reduced_precision_files_are_smaller(tmp_path_factory, demo_bundle):
    m = load_bundle(demo_bundle).manifest
    if m.precision == "fp32":
        pytest.skip("fp32 is the reference size")
    fp32 = shared_derived_bundle(tmp_path_factory, "mnn", "fp32", demo=True)
    size = (demo_bundle / f"search.{m.precision}.mnn").stat().st_size
    full = (fp32 / "search.fp32.mnn").stat().st_size
    assert size < {"fp16": 0.6, "int8": 0.35}[m.precision] * full


def test_tracking_parity_on_the_builtin_sequence(demo_bundle):
    """`parity` at the precision's threshold (mnn's own for fp32), on the first frames."""
    sequence = builtin_sequence()
    frames, box = sequence.frames()[:FRAMES], tuple(sequence.boxes[0])
    with load_bundle_backend(demo_bundle) as candidate, \
            load_backend("torch", variant="tiny", checkpoint=demo_checkpoint()) as reference:
        thresholds = ParityThresholds(candidate.info.precision, target=candidate.info.target)
        report = run_parity(reference, candidate, frames, box, thresholds)
    assert report.passed, report.to_dict()
    assert report.min_iou_threshold == tolerance_for(report.precision, "mnn").min_iou


def test_mnn_fp32_declares_its_own_tolerance():
    assert tolerance_for("fp32", "mnn").box == 5e-4 and tolerance_for("fp32").box == 1e-4
    assert tolerance_for("fp16", "mnn") == tolerance_for("fp16")


def test_backend_contract(fp32, pairs):
    from asymtrack_deploy.runtimes.mnn_backend import MnnBackend

    assert_bundle_backend_contract(MnnBackend, fp32, pairs)
    with pytest.raises(ValueError, match="precision_mode must be one of"):
        MnnBackend(fp32, precision_mode="fast")


def test_a_bundle_without_mnn_models_is_refused(tmp_path_factory):
    onnx_bundle = shared_derived_bundle(tmp_path_factory, "onnxruntime", "fp32")
    with pytest.raises(ValueError, match="has no MNN models.*--target mnn"):
        load_backend("mnn", bundle=onnx_bundle)


def test_precision_mode_follows_the_manifest(demo_bundle):
    with load_bundle_backend(demo_bundle) as backend:
        assert backend.precision_mode == ("low" if backend.info.precision == "fp16" else "high")
        assert "mnn" in backend.describe() and backend.info.extra["executes"].endswith("f32")  # x86: no fp16 arithmetic


def test_runs_without_torch_and_prints_nothing(fp32, pairs):
    """A fresh interpreter runs the bundle with no torch imported, and MNN's C++ banners stay off
    stdout (where `track` writes boxes and `--json` documents)."""
    with load_backend("mnn", bundle=fp32) as backend:
        expected = backend.search(pairs["search"][:1], backend.template(pairs["template"][:1]))[0]
    np.save(fp32.parent / "mnn_pair.npy", np.concatenate([pairs["template"][:1].reshape(-1), pairs["search"][:1].reshape(-1)]))
    code = textwrap.dedent(f"""
        import sys
        import numpy as np
        from asymtrack_deploy.runtimes import load_backend
        flat = np.load({str(fp32.parent / "mnn_pair.npy")!r})
        z, x = flat[:128 * 128 * 3].reshape(1, 128, 128, 3), flat[128 * 128 * 3:].reshape(1, 256, 256, 3)
        backend = load_backend("mnn", bundle={str(fp32)!r})
        boxes, _ = backend.search(x, backend.template(z))
        assert not [m for m in sys.modules if m == "torch" or m.startswith("torch.")]
        print(repr(boxes[0].tolist()))
        """)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == repr(expected[0].tolist())


def test_threads_get_their_own_module_clones(fp32):
    with load_backend("mnn", bundle=fp32) as backend:
        assert_two_threads_get_the_boxes_each_gets_alone(backend)
