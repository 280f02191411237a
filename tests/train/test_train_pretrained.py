"""EfficientMod-xxs ImageNet weights into the 3-stage backbone, with a fake checkpoint that has
the classifier's key names and shapes (built here from the same block definitions)."""
from __future__ import annotations

import argparse

import pytest
import torch

from asymtrack_deploy.models import build_model
from asymtrack_deploy.models.asymtrack import AttentionBlock, ModulationBlock, PatchEmbed
from asymtrack_deploy.train import PretrainedError, load_pretrained_backbone, map_efficientmod_keys

DIMS = (32, 64, 128, 256)
DEPTHS = (2, 2, 6, 2)  # EfficientMod-xxs
ATTENTION = (0, 0, 1, 2)


def _prefixed(prefix, module):
    return {f"{prefix}.{k}": v for k, v in module.state_dict().items()}


def fake_efficientmod_xxs(dims=DIMS) -> dict[str, torch.Tensor]:
    """The classifier's state dict: 4 stages, attention blocks after the modulation blocks,
    a down-sampling PatchEmbed after stages 1-3, the final norm and the 1000-class head."""
    torch.manual_seed(1)
    sd = _prefixed("patch_embed", PatchEmbed(3, dims[0], 7, 4, 3))
    for stage, (depth, n_att) in enumerate(zip(DEPTHS, ATTENTION)):
        for i in range(depth):
            sd |= _prefixed(f"layers.{stage}.blocks.{i}", ModulationBlock(dims[stage], 1 if i % 2 == 0 else 6, 7, 1e-4))
        for j in range(n_att):
            sd |= _prefixed(f"layers.{stage}.blocks.{depth + j}", AttentionBlock(dims[stage], 8, 4.0))
        if stage < 3:
            sd |= _prefixed(f"layers.{stage}.downsample", PatchEmbed(dims[stage], dims[stage + 1], 3, 2, 1))
    sd |= _prefixed("norm", torch.nn.LayerNorm(dims[3]))
    sd |= _prefixed("head", torch.nn.Linear(dims[3], 1000))
    return {k: v + torch.rand_like(v) if v.is_floating_point() else v for k, v in sd.items()}


@pytest.fixture
def pretrained_file(tmp_path):
    path = tmp_path / "model_best.pth.tar"
    sd = {f"module.{k}": v for k, v in fake_efficientmod_xxs().items()}
    torch.save({"epoch": 300, "arch": "efficientMod_xxs", "state_dict": sd, "args": argparse.Namespace(lr=4e-3)}, path)
    return path


@pytest.mark.parametrize("variant, kept, attention", [("tiny", 1, 3), ("small", 3, 5)])
def test_blocks_are_mapped_as_the_official_loader_does(pretrained_file, variant, kept, attention):
    source = fake_efficientmod_xxs()
    model = build_model(variant, train=True)
    etm_before = {k: v.clone() for k, v in model.state_dict().items() if ".blocks.%d." % kept in k}
    report = load_pretrained_backbone(model, pretrained_file)
    own = model.state_dict()
    same = ["patch_embed.proj.weight", "layers.1.blocks.1.mlp.fc1.weight", "layers.2.downsample.norm.weight"]
    same += [f"layers.2.blocks.{i}.gamma_1" for i in range(kept)]
    for key in same:  # kept under the same name
        torch.testing.assert_close(own[f"backbone.{key}"], source[key])
    for name in ("attn.qkv.weight", "attn.proj.bias", "mlp.fc1.weight", "norm2.weight"):  # block 6 moved
        moved = own[f"backbone.layers.2.blocks.{attention}.{name}"]
        torch.testing.assert_close(moved, source[f"layers.2.blocks.6.{name}"])
    for k, v in etm_before.items():  # the ETM right after the kept blocks stays fresh
        if k.startswith("backbone.layers.2."):
            assert torch.equal(own[k], v), k
    assert not any(".blocks.6." in k or k.startswith(("backbone.layers.3", "backbone.head")) for k in report["loaded"])
    assert len(report["loaded"]) > 50


def test_mapping_drops_the_unused_stage_three_blocks():
    keys = ["layers.2.blocks.4.gamma_1", "layers.2.blocks.0.gamma_1", "layers.2.blocks.6.norm1.weight", "head.weight",
            "layers.3.blocks.0.gamma_1"]  # fmt: skip
    mapped = map_efficientmod_keys({k: torch.zeros(1) for k in keys}, stage3_depth=3)
    assert sorted(mapped) == ["backbone.layers.2.blocks.0.gamma_1", "backbone.layers.2.blocks.5.norm1.weight"]


def test_other_efficientmod_sizes_are_refused(tmp_path):
    path = tmp_path / "xs.pth"
    torch.save({"state_dict": fake_efficientmod_xxs(dims=(32, 64, 192, 384))}, path)
    with pytest.raises(PretrainedError, match="not EfficientMod-xxs: .* shape mismatches"):
        load_pretrained_backbone(build_model("tiny", train=True), path)


def test_unrelated_files_are_refused(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"fc.weight": torch.zeros(2, 2)}, path)
    with pytest.raises(PretrainedError, match="no EfficientMod backbone keys"):
        load_pretrained_backbone(build_model("tiny", train=True), path)
    with pytest.raises(PretrainedError, match="no such file"):
        load_pretrained_backbone(build_model("tiny", train=True), tmp_path / "missing.pth")
