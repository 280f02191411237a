"""Deploy form back to training form (``OPE.unfuse``, ``load_checkpoint(..., unfuse=True)``), so
the shipped demo weights (deploy form) can be fine-tuned: the un-fused model must compute what
the fused one does, and fuse back to the same kernels."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from asymtrack_deploy.models import CheckpointError, build_model, is_deploy_form, load_checkpoint, read_state_dict
from asymtrack_deploy.models.asymtrack import OPE
from asymtrack_deploy.runtimes.torch_backend import default_checkpoint
from tests.conftest import COMPACT_REFERENCE_DIR

BOX_TOL = 1e-5  # the official vectors' box tolerance
demo_weights = pytest.mark.skipif(default_checkpoint() is None, reason="no demo weights installed")


def test_unfused_weights_fuse_back_to_the_kernel():
    fused = torch.randn(64, 64, 3, 3, generator=torch.Generator().manual_seed(0))
    branches, theta = OPE.unfused_weights(fused)
    assert len(branches) == OPE.num_branches and float(theta) == 0.0
    assert all(torch.equal(b, branches[0]) for b in branches)  # three equal branches
    assert torch.allclose(OPE.fused_weight(branches, theta), fused, atol=1e-6)


def test_unfused_block_gives_the_same_outputs():
    torch.manual_seed(0)
    block = OPE(32, deploy=True).eval()
    torch.nn.init.normal_(block.ibe_scale)  # otherwise the conv branch does not reach the output
    x = torch.randn(2, 16, 16, 32)
    with torch.no_grad():
        expected = block(x)
        block.unfuse()
        got = block(x)
    assert not block.deployed and float(block.theta.detach()) == 0.0
    assert torch.allclose(got, expected, atol=1e-5)


@demo_weights
def test_demo_weights_unfused_reproduce_the_official_boxes():
    """The official outputs of the demo weights (tests/data/reference/trained), from the
    training-form model the demo weights un-fuse into."""
    assert is_deploy_form(read_state_dict(default_checkpoint()))
    model = load_checkpoint(build_model("tiny", train=True), default_checkpoint(), unfuse=True).eval()
    assert not model.deployed
    data = np.load(COMPACT_REFERENCE_DIR / "trained" / "pairs_tiny.npz")
    with torch.no_grad():
        z, x = (model.normalize(torch.from_numpy(data[k])) for k in ("template", "search"))
        boxes = model.search(x, model.template(z))[0].numpy()
    assert np.abs(boxes - data["pred_boxes"]).max() < BOX_TOL


@demo_weights
def test_unfused_then_fused_gives_the_deploy_weights_back():
    deploy = load_checkpoint(build_model("tiny"), default_checkpoint())
    again = load_checkpoint(build_model("tiny", train=True), default_checkpoint(), unfuse=True).reparameterize()
    expected = deploy.state_dict()
    assert again.state_dict().keys() == expected.keys()
    assert all(torch.allclose(v, expected[k], atol=1e-6) for k, v in again.state_dict().items())


def test_model_unfuse_is_the_loader_unfuse(tmp_path):
    """``AsymTrack.unfuse`` in memory and un-fusing a file at load give the same parameters."""
    torch.manual_seed(1)
    deploy = build_model("tiny")
    path = tmp_path / "deploy.pth"
    torch.save({"net": deploy.state_dict()}, path)
    loaded = load_checkpoint(build_model("tiny", train=True), path, unfuse=True).state_dict()
    in_memory = deploy.unfuse().state_dict()
    assert in_memory.keys() == loaded.keys()
    assert all(torch.equal(v, loaded[k]) for k, v in in_memory.items())


def test_without_unfuse_a_deploy_file_is_still_refused_with_the_way_out(tmp_path):
    path = tmp_path / "deploy.pth"
    torch.save({"net": build_model("tiny").state_dict()}, path)
    with pytest.raises(CheckpointError, match=r"deploy form .*unfuse=True"):
        load_checkpoint(build_model("tiny", train=True), path)
