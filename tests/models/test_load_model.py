"""``load_model``: the one way export and the torch backend get a model."""
from __future__ import annotations

import pytest
import torch

from asymtrack_deploy.models import CheckpointError, load_model
from tests.conftest import reference_checkpoint


def _same_weights(a, b) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_random_weights_are_reproducible_and_leave_the_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    a = load_model("tiny", random_weights=True, seed=7)
    assert torch.equal(torch.rand(1), expected)
    assert _same_weights(a, load_model("tiny", random_weights=True, seed=7))
    assert not _same_weights(a, load_model("tiny", random_weights=True, seed=8))


def test_a_checkpoint_gives_the_deploy_form_in_eval_mode():
    model = load_model("small", reference_checkpoint("small"))
    assert model.cfg.name == "small" and model.deployed
    assert not any(m.training for m in model.modules())
    assert next(model.parameters()).dtype == torch.float32


@pytest.mark.parametrize(
    "kwargs, message",
    [({}, "no weights given"), ({"random_weights": True, "checkpoint": "x.pth"}, "not both")],
)
def test_both_or_neither_source_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_model("tiny", **kwargs)


def test_a_checkpoint_of_another_variant_is_the_checkpoint_error():
    with pytest.raises(CheckpointError, match="it is tiny, not base"):
        load_model("base", reference_checkpoint("tiny"))
