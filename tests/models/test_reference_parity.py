"""The reference model against vectors produced by the official implementation."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from asymtrack_deploy.models import build_model, load_checkpoint, save_checkpoint
from tests.conftest import VARIANTS, reference_checkpoint, reference_file

BOX_TOL = 1e-5
FEATURE_TOL = 1e-4


def _load(variant: str, train: bool = False):
    model = build_model(variant, train=train)
    load_checkpoint(model, reference_checkpoint(variant))
    return model.eval()


def _pairs(variant: str):
    data = np.load(reference_file(f"pairs_{variant}.npz"))
    return data


def _run(model, template_uint8, search_uint8):
    z = model.normalize(torch.from_numpy(template_uint8))
    x = model.normalize(torch.from_numpy(search_uint8))
    with torch.no_grad():
        state = model.template(z)
        box, score = model.search(x, state)
        feat = model.search_features(x, state)
    return box.numpy(), score.numpy(), feat.numpy()


@pytest.mark.parametrize("variant", VARIANTS)
def test_each_pair_matches_official_boxes_and_features(variant):
    model, data = _load(variant), _pairs(variant)
    for k in range(len(data["template"])):
        box, score, feat = _run(model, data["template"][k : k + 1], data["search"][k : k + 1])
        np.testing.assert_allclose(box[0], data["pred_boxes"][k], rtol=0, atol=BOX_TOL)
        np.testing.assert_allclose(feat[0], data["backbone_out"][k], rtol=0, atol=FEATURE_TOL)
        assert 0.0 <= score[0] <= 1.0


@pytest.mark.parametrize("variant", VARIANTS)
def test_batch_of_four_in_one_pass(variant):
    model, data = _load(variant), _pairs(variant)
    box, score, feat = _run(model, data["template"][:4], data["search"][:4])
    assert box.shape == (4, 4) and score.shape == (4,)
    np.testing.assert_allclose(box, data["pred_boxes"][:4], rtol=0, atol=BOX_TOL)
    np.testing.assert_allclose(feat, data["backbone_out"][:4], rtol=0, atol=FEATURE_TOL)


@pytest.mark.parametrize("variant", VARIANTS)
def test_training_form_gives_the_same_boxes(variant):
    model, data = _load(variant, train=True), _pairs(variant)
    box, _, _ = _run(model, data["template"], data["search"])
    np.testing.assert_allclose(box, data["pred_boxes"], rtol=0, atol=BOX_TOL)


@pytest.mark.parametrize("variant", ["tiny", "small"])
def test_own_checkpoint_round_trip(variant, tmp_path):
    model, data = _load(variant), _pairs(variant)
    path = save_checkpoint(model, tmp_path / "own.pth")
    again = build_model(variant)
    load_checkpoint(again, path)
    box, _, _ = _run(again, data["template"][:4], data["search"][:4])
    np.testing.assert_allclose(box, data["pred_boxes"][:4], rtol=0, atol=BOX_TOL)


def test_training_checkpoint_reparameterizes_to_deploy_checkpoint(tmp_path):
    data = _pairs("tiny")
    trained = _load("tiny", train=True)
    path = save_checkpoint(trained, tmp_path / "train_form.pth", epoch=3)
    deploy = build_model("tiny")
    load_checkpoint(deploy, path)  # training form -> deploy form at load time
    fused = trained.reparameterize()
    assert fused.deployed
    a, _, _ = _run(deploy, data["template"][:2], data["search"][:2])
    b, _, _ = _run(fused, data["template"][:2], data["search"][:2])
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
