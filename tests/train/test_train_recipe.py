"""Loss, optimiser groups, learning-rate schedule, initialisation and BatchNorm handling."""
from __future__ import annotations

import pytest
import torch

from asymtrack_deploy.models import build_model
from asymtrack_deploy.train import (
    RECIPES,
    build_optimizer,
    drop_epoch,
    generalized_iou,
    init_weights,
    lr_scale,
    tracking_loss,
)
from asymtrack_deploy.train.recipe import freeze_backbone_batchnorm


def test_giou_of_known_boxes():
    a = torch.tensor([[0.0, 0.0, 2.0, 2.0], [0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]])
    b = torch.tensor([[0.0, 0.0, 2.0, 2.0], [1.0, 0.0, 2.0, 1.0], [0.5, 0.0, 1.5, 1.0]])
    giou, iou = generalized_iou(a, b)
    torch.testing.assert_close(iou, torch.tensor([1.0, 0.0, 1 / 3]), atol=1e-5, rtol=0)
    torch.testing.assert_close(giou, torch.tensor([1.0, 0.0, 1 / 3]), atol=1e-5, rtol=0)
    far = generalized_iou(torch.tensor([[0.0, 0.0, 1.0, 1.0]]), torch.tensor([[2.0, 0.0, 3.0, 1.0]]))[0]
    torch.testing.assert_close(far, torch.tensor([-1 / 3]), atol=1e-5, rtol=0)


def test_loss_is_weighted_and_handles_inverted_predictions():
    gt = torch.tensor([[0.25, 0.25, 0.5, 0.5]])  # x, y, w, h
    loss, stats = tracking_loss(torch.tensor([[0.5, 0.5, 0.5, 0.5]]), gt)  # cx, cy, w, h: the same box
    assert float(loss) == pytest.approx(0.0, abs=1e-6) and float(stats["iou"]) == pytest.approx(1.0)
    pred = torch.tensor([[0.5, 0.5, -0.2, 0.3]], requires_grad=True)  # x2 < x1
    loss, stats = tracking_loss(pred, gt)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(pred.grad).all()
    inverted, target = torch.tensor([[0.6, 0.35, 0.4, 0.65]]), torch.tensor([[0.25, 0.25, 0.75, 0.75]])
    expected = 2.0 * (1 - generalized_iou(inverted, target)[0])
    expected += 5.0 * torch.tensor([0.35, 0.10, 0.35, 0.10]).mean()
    assert float(loss.detach()) == pytest.approx(float(expected), abs=1e-5)


def test_loss_refuses_nan():
    with pytest.raises(RuntimeError, match="NaN"):
        tracking_loss(torch.full((1, 4), float("nan")), torch.zeros(1, 4))


@pytest.mark.parametrize("variant, multiplier", [("tiny", 0.1), ("small", 1.0), ("base", 0.1)])
def test_backbone_learning_rate_multiplier(variant, multiplier):
    model = build_model(variant, train=True)
    opt = build_optimizer(model, RECIPES[variant])
    head, backbone = opt.param_groups
    assert head["lr"] == pytest.approx(4e-4) and backbone["lr"] == pytest.approx(4e-4 * multiplier)
    assert head["weight_decay"] == backbone["weight_decay"] == pytest.approx(1e-4)
    n_backbone = sum(1 for n, _ in model.named_parameters() if n.startswith("backbone."))
    assert len(backbone["params"]) == n_backbone
    assert len(head["params"]) + n_backbone == len(list(model.parameters()))


def test_step_schedule_keeps_the_four_fifths_proportion():
    r = RECIPES["tiny"]
    assert drop_epoch(500, r) == 400
    assert [lr_scale(e, 500, r) for e in (1, 400, 401, 500)] == pytest.approx([1, 1, 0.1, 0.1])
    assert drop_epoch(10, r) == 8
    assert [lr_scale(e, 10, r) for e in (8, 9)] == pytest.approx([1, 0.1])
    assert lr_scale(1, 1, r) == 1


def test_official_backbone_initialisation():
    torch.manual_seed(0)
    model = init_weights(build_model("tiny", train=True))
    qkv = model.backbone.layers[2].attention.attn.qkv.weight
    assert 0.018 < float(qkv.detach().std()) < 0.022  # timm's trunc_normal_ cuts at +-2 absolute: no real cut
    assert torch.all(model.backbone.patch_embed.norm.weight == 1)


def test_no_backbone_batchnorm_to_freeze_and_the_head_keeps_learning_statistics():
    model = build_model("tiny", train=True)
    assert freeze_backbone_batchnorm(model) == []
    bn = model.box_head.conv1_tl[1]
    assert bn.training and bn.weight.requires_grad
    before = bn.running_mean.clone()
    model(torch.randn(2, 3, 128, 128), torch.randn(2, 3, 256, 256))
    assert not torch.equal(before, bn.running_mean)
