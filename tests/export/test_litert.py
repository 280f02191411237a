"""The litert target and backend: LiteRT models converted from PyTorch (litert-torch in its own
virtual environment), fp32 and fp16 with the trained demo weights, export-time and tracking
parity, the backend's promises, and a conversion that never reaches the network."""
from __future__ import annotations

import numpy as np
import pytest

from asymtrack_deploy.bundle import load_bundle
from asymtrack_deploy.parity import ParityThresholds, run_parity, tolerance_for
from asymtrack_deploy.runtimes import load_backend, load_bundle_backend
from asymtrack_deploy.sources import builtin_sequence
from tests.export.derived_bundles import demo_checkpoint, shared_derived_bundle
from tests.runtimes.backend_contract import (assert_bundle_backend_contract, assert_runs_without_torch,
                                             assert_two_threads_get_the_boxes_each_gets_alone)

pytest.importorskip("ai_edge_litert")


def _require_toolkit():
    from asymtrack_deploy.export.litert_target import TOOLKIT, TOOLKIT_ENV
    from asymtrack_deploy.export.toolkit_process import toolkit_python

    if toolkit_python(TOOLKIT, TOOLKIT_ENV) is None:
        pytest.skip(f"litert-torch's virtual environment is not installed (README, LiteRT row; or set {TOOLKIT_ENV})")


FRAMES = 8


@pytest.fixture(scope="module", params=["fp32", "fp16"])
def demo_bundle(request, tmp_path_factory):
    _require_toolkit()
    return shared_derived_bundle(tmp_path_factory, "litert", request.param, demo=True)


@pytest.fixture(scope="module")
def reference_fp32(tmp_path_factory):
    _require_toolkit()
    return shared_derived_bundle(tmp_path_factory, "litert", "fp32")


@pytest.fixture(scope="module")
def pairs():
    from tests.conftest import reference_file

    return dict(np.load(reference_file("pairs_tiny.npz")))


def test_bundle_files_manifest_and_export_parity(demo_bundle):
    m = load_bundle(demo_bundle).manifest
    assert m.target == "litert"
    for graph in ("template", "search"):
        assert m.graph(graph).files == {"source_onnx": f"{graph}.onnx", "tflite_model": f"{graph}.{m.precision}.tflite"}
        names = m.runtime["signatures"][graph]
        assert len(names["inputs"]) == len(m.graph(graph).inputs) and len(names["outputs"]) == len(m.graph(graph).outputs)
    assert m.export["converter"].startswith("litert-torch ")
    assert m.parity["passed"] and m.parity["box_tolerance"] == tolerance_for(m.precision).box
    # fp32 is the same arithmetic (measured 2.8e-7); fp16 weights: well inside 1e-2
    assert m.parity["max_abs_box_diff"] < {"fp32": 1e-5, "fp16": 2e-3}[m.precision]
    assert "XNNPACK" in m.parity["runtime"]


def test_fp16_files_are_half_the_size(tmp_path_factory, demo_bundle):
    m = load_bundle(demo_bundle).manifest
    if m.precision != "fp16":
        pytest.skip("fp32 is the reference size")
    fp32 = shared_derived_bundle(tmp_path_factory, "litert", "fp32", demo=True)
    assert (demo_bundle / "search.fp16.tflite").stat().st_size < 0.6 * (fp32 / "search.fp32.tflite").stat().st_size


def test_tracking_parity_on_the_builtin_sequence(demo_bundle):
    sequence = builtin_sequence()
    frames, box = sequence.frames()[:FRAMES], tuple(sequence.boxes[0])
    with load_bundle_backend(demo_bundle) as candidate, \
            load_backend("torch", variant="tiny", checkpoint=demo_checkpoint()) as reference:
        report = run_parity(reference, candidate, frames, box, ParityThresholds(candidate.info.precision))
    assert report.passed, report.to_dict()


def test_backend_contract_and_no_torch(reference_fp32, pairs):
    from asymtrack_deploy.runtimes.litert_backend import LiteRtBackend

    assert_bundle_backend_contract(LiteRtBackend, reference_fp32, pairs)
    assert_runs_without_torch("litert", reference_fp32, 1e-4)


def test_xnnpack_and_builtin_kernels_agree(reference_fp32, pairs):
    outputs = []
    for xnnpack in (True, False):
        with load_backend("litert", bundle=reference_fp32, xnnpack=xnnpack) as backend:
            outputs.append(backend.search(pairs["search"][:1], backend.template(pairs["template"][:1]))[0])
    assert np.abs(outputs[0] - outputs[1]).max() < 1e-5


def test_a_manifest_without_signatures_is_refused(reference_fp32, tmp_path):
    import json
    import shutil

    copy = shutil.copytree(reference_fp32, tmp_path / "b")
    manifest = json.loads((copy / "manifest.json").read_text())
    del manifest["runtime"]["signatures"]
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="runtime.signatures"):
        load_backend("litert", bundle=copy, verify=False)


def test_threads_get_their_own_interpreters(reference_fp32):
    with load_backend("litert", bundle=reference_fp32) as backend:
        assert_two_threads_get_the_boxes_each_gets_alone(backend)

def test_missing_toolkit_is_a_clear_error(monkeypatch, tmp_path):
    from asymtrack_deploy.export import export_bundle
    from asymtrack_deploy.runtimes import BackendUnavailable

    monkeypatch.setenv("ASYMTRACK_TOOLKITS_HOME", str(tmp_path))
    monkeypatch.delenv("ASYMTRACK_LITERT_TORCH_PYTHON", raising=False)
    with pytest.raises(BackendUnavailable, match="litert-torch in its own virtual environment"):
        export_bundle("litert", checkpoint=None, random_weights=True, variant="tiny", out_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()
