"""The torch backends: the split reference and the official baseline, on the reference weights."""
from __future__ import annotations

import functools
import subprocess
import sys

import numpy as np
import pytest
import torch

from asymtrack_deploy import demo_weights as demo
from asymtrack_deploy.export.model_source import prepare_model
from asymtrack_deploy.runtimes import load_backend
from asymtrack_deploy.runtimes.torch_backend import OfficialTorchBackend, TorchBackend
from tests.conftest import reference_checkpoint, reference_file
from tests.runtimes import backend_contract as contract
from tests.runtimes.backend_contract import ROOT

BOX_TOL = 1e-5


@pytest.fixture(scope="module")
def pairs():
    return np.load(reference_file("pairs_tiny.npz"))


@pytest.mark.parametrize("name", ["torch", "torch-official"])
def test_both_reproduce_the_official_boxes(name, pairs):
    with load_backend(name, variant="tiny", checkpoint=reference_checkpoint("tiny"), threads=2) as backend:
        assert backend.info.target == name
        for k in range(3):
            boxes, _ = backend.search(pairs["search"][k : k + 1], backend.template(pairs["template"][k : k + 1]))
            np.testing.assert_allclose(boxes[0], pairs["pred_boxes"][k], rtol=0, atol=BOX_TOL)


@pytest.mark.parametrize("backend_class", [TorchBackend, OfficialTorchBackend])
def test_closed_backend_says_so(backend_class, pairs):
    """The torch backends open a variant and a checkpoint where the others open a bundle."""
    opened = functools.partial(backend_class, checkpoint=reference_checkpoint("tiny"))
    contract.assert_closed_backend_says_so(opened, "tiny", pairs)


def test_the_official_baseline_has_no_cuda_graph():
    with pytest.raises(ValueError, match="runs eagerly"):
        OfficialTorchBackend(random_weights=True, cuda_graph=True)
    with pytest.raises(ValueError, match="needs a CUDA device"):
        TorchBackend(random_weights=True, cuda_graph=True)


def test_random_weights_are_the_exports_and_leave_the_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    backend = TorchBackend(random_weights=True, seed=3)
    assert torch.equal(torch.rand(1), expected)
    exported, _ = prepare_model("tiny", random_weights=True, seed=3)
    for a, b in zip(backend.model.state_dict().values(), exported.state_dict().values()):
        assert torch.equal(a, b)


def test_without_a_checkpoint_the_demo_weights_load(monkeypatch, tmp_path):
    if demo.default_checkpoint() is not None:
        with TorchBackend() as backend:
            assert backend.info.extra["checkpoint"] == str(demo.DEMO_CHECKPOINT)
    monkeypatch.setattr(demo, "DEMO_CHECKPOINT", tmp_path / "absent.pth")
    with pytest.raises(ValueError, match="no demo weights installed"):
        TorchBackend()


def test_finding_the_demo_weights_imports_no_torch():
    code = (
        "import sys\n"
        "from asymtrack_deploy.runtimes.torch_backend import default_checkpoint\n"
        "default_checkpoint()\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
