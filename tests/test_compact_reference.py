"""The official vectors that ship in tests/data/reference, checked on every clone: the fp16
training-form checkpoint, and the demo weights' official outputs (trained: realistic boxes)."""
from __future__ import annotations

import numpy as np
import pytest

from asymtrack_deploy.runtimes import load_backend
from asymtrack_deploy.tracker import Tracker
from tests.conftest import COMPACT_REFERENCE_DIR
from tests.test_tracker import replay_steps as replay_tracker_steps

BOX_TOL = 1e-5
FEATURE_TOL = 1e-4
STEP_TOL_PX = 0.05
DEMO_SHA256 = "de01b500c0cfb50b2c26d094c08e7d1d9ffc4a96a768cc6dbbcda9b4a45fe441"


def _demo_weights():
    from asymtrack_deploy.bundle import file_sha256
    from asymtrack_deploy.runtimes.torch_backend import default_checkpoint

    path = default_checkpoint()
    if path is None or file_sha256(path) != DEMO_SHA256:
        pytest.fail("the trained vectors were made with the demo weights of sha256 " + DEMO_SHA256[:12] + "...; "
                    "keep that file in the test data if the shipped weights change")
    return path


def _model(checkpoint, train: bool = False):
    from asymtrack_deploy.models import build_model, load_checkpoint

    return load_checkpoint(build_model("tiny", train=train), checkpoint).eval()


def _boxes_and_features(model, pairs):
    import torch

    with torch.no_grad():
        z = model.normalize(torch.from_numpy(pairs["template"]))
        x = model.normalize(torch.from_numpy(pairs["search"]))
        state = model.template(z)
        box, _ = model.search(x, state)
        return box.numpy(), model.search_features(x, state).numpy()


@pytest.mark.parametrize("train", [False, True], ids=["deploy-form", "training-form"])
def test_fp16_checkpoint_reproduces_the_official_boxes(train):
    """The file stores float16 values; the loader must fuse the OPE branches in float32."""
    pairs = np.load(COMPACT_REFERENCE_DIR / "pairs_tiny.npz")
    box, feat = _boxes_and_features(_model(COMPACT_REFERENCE_DIR / "asymtrack_tiny_random_seed2.pth.tar", train), pairs)
    np.testing.assert_allclose(box, pairs["pred_boxes"], rtol=0, atol=BOX_TOL)
    np.testing.assert_allclose(feat, pairs["backbone_out"], rtol=0, atol=FEATURE_TOL)


def test_demo_weights_reproduce_the_official_boxes():
    pairs = np.load(COMPACT_REFERENCE_DIR / "trained" / "pairs_tiny.npz")
    box, feat = _boxes_and_features(_model(_demo_weights()), pairs)
    np.testing.assert_allclose(box, pairs["pred_boxes"], rtol=0, atol=BOX_TOL)
    np.testing.assert_allclose(feat, pairs["backbone_out"], rtol=0, atol=FEATURE_TOL)


def replay_steps(tracker: Tracker, steps_file) -> float:
    return replay_tracker_steps(tracker, steps_file, COMPACT_REFERENCE_DIR / "frames")


def test_demo_weights_reproduce_the_official_tracker_steps():
    backend = load_backend("torch", variant="tiny", checkpoint=_demo_weights())
    assert replay_steps(Tracker(backend), COMPACT_REFERENCE_DIR / "trained" / "track_tiny.json") < STEP_TOL_PX


def test_fp16_checkpoint_reproduces_the_official_tracker_steps():
    backend = load_backend("torch", variant="tiny", checkpoint=COMPACT_REFERENCE_DIR / "asymtrack_tiny_random_seed2.pth.tar")
    assert replay_steps(Tracker(backend), COMPACT_REFERENCE_DIR / "track_tiny.json") < STEP_TOL_PX


@pytest.mark.parametrize("target", ["onnx", "openvino"])
def test_exported_demo_weights_reproduce_the_official_tracker_steps(target, tmp_path):
    from asymtrack_deploy.export import export_bundle
    from asymtrack_deploy.runtimes import load_bundle_backend

    bundle = export_bundle(target, checkpoint=_demo_weights(), variant="tiny", out_dir=tmp_path / "b").root
    with load_bundle_backend(bundle) as backend:
        assert replay_steps(Tracker(backend), COMPACT_REFERENCE_DIR / "trained" / "track_tiny.json") < STEP_TOL_PX
