"""Every loader error with a real bad file: the message names the file and the problem."""
from __future__ import annotations

import os
import pickle
import random
import zipfile

import pytest
import torch

from asymtrack_deploy.models import CheckpointError, build_model, load_checkpoint, save_checkpoint
from tests.conftest import reference_checkpoint


def _assert_refused(path, *fragments, variant="tiny"):
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(build_model(variant), path)
    message = str(info.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_missing_file(tmp_path):
    _assert_refused(tmp_path / "nope.pth", "no such file")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.pth"
    path.write_bytes(b"")
    _assert_refused(path, "empty")


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.pth"
    path.write_bytes(bytes(random.Random(0).getrandbits(8) for _ in range(4096)))
    message = _assert_refused(path, "not a PyTorch checkpoint")
    assert "weights_only" not in message and "\n" not in message  # no advice to load it unsafely


def test_truncated_checkpoint(tmp_path):
    data = reference_checkpoint("tiny").read_bytes()
    path = tmp_path / "truncated.pth"
    path.write_bytes(data[: len(data) // 2])
    _assert_refused(path, "truncated or corrupt")


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_pickle_that_would_run_code_is_refused(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"net": {"x": torch.zeros(1)}, "payload": _RunsCode()}, path)
    _assert_refused(path, "refused", "could run code", "posix.system")


def test_plain_pickle_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "plain.pkl"
    path.write_bytes(pickle.dumps({"a": 1}))
    message = _assert_refused(path, "a raw Python pickle, not a checkpoint written by torch.save")
    assert "weights_only" not in message and "\n" not in message  # issue 15, case 9


def test_non_finite_weights_are_refused_at_load(tmp_path):
    """Issue 15, case 4: NaN weights tracked with exit 0, every box 0,0,10,10 and score NaN."""
    model = build_model("tiny")
    with torch.no_grad():
        next(model.parameters())[0] = float("nan")
    path = save_checkpoint(model, tmp_path / "nan.pth")
    name = next(iter(dict(model.named_parameters())))
    _assert_refused(path, "1 tensors hold NaN or infinite values", name, "diverged training run")


def test_recorded_variant_is_checked(tmp_path):
    """Issue 15, case 4: small and base share every key and shape; train records the variant."""
    path = save_checkpoint(build_model("small"), tmp_path / "small.pth")
    _assert_refused(path, "trained as AsymTrack-small (its recorded variant), not base", "--variant small",
                    variant="base")
    load_checkpoint(build_model("small"), path)  # and loads as what it is


def test_tiny_checkpoint_loaded_as_small(tmp_path):
    _assert_refused(reference_checkpoint("tiny"), "1 blocks in stage 3", "it is tiny", "not small", variant="small")


def test_small_checkpoint_loaded_as_tiny():
    _assert_refused(reference_checkpoint("small"), "3 blocks in stage 3", "small or base", "not tiny", variant="tiny")


def test_missing_and_unexpected_keys_are_listed(tmp_path):
    state = torch.load(reference_checkpoint("tiny"), weights_only=True)["net"]
    state.pop("bottleneck.weight")
    state["extra.layer.weight"] = torch.zeros(2)
    path = tmp_path / "edited.pth"
    torch.save({"net": state}, path)
    _assert_refused(path, "1 keys missing", "bottleneck.weight", "1 unexpected keys", "extra.layer.weight")


def test_shape_mismatch_is_listed(tmp_path):
    state = torch.load(reference_checkpoint("tiny"), weights_only=True)["net"]
    state["bottleneck.weight"] = torch.zeros(128, 256)
    path = tmp_path / "shape.pth"
    torch.save({"net": state}, path)
    _assert_refused(path, "shape mismatch", "bottleneck.weight")


def test_not_a_state_dict(tmp_path):
    path = tmp_path / "list.pth"
    torch.save([1, 2, 3], path)
    _assert_refused(path, "not a state dict")


def test_deploy_checkpoint_into_training_model(tmp_path):
    path = save_checkpoint(build_model("tiny"), tmp_path / "deploy.pth")
    with pytest.raises(CheckpointError, match="deploy form"):
        load_checkpoint(build_model("tiny", train=True), path)


def test_half_precision_checkpoint_loads_as_fp32(tmp_path):
    model = load_checkpoint(build_model("tiny"), reference_checkpoint("tiny"))
    path = save_checkpoint(model, tmp_path / "half.pth", half=True)
    with zipfile.ZipFile(path) as archive:  # it really is a torch zip file
        assert archive.namelist()
    again = load_checkpoint(build_model("tiny"), path)
    assert again.bottleneck.weight.dtype == torch.float32
    assert torch.allclose(again.bottleneck.weight, model.bottleneck.weight, atol=1e-2)
