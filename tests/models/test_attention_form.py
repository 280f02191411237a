"""Which attention form runs where: fused in eager PyTorch, explicit where the export wrappers
and the FLOP count ask for it, per model and only while they ask."""
from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from asymtrack_deploy.export import onnx_graphs
from asymtrack_deploy.export.wrappers import SearchGraph
from asymtrack_deploy.models import build_model, count_flops, explicit_attention
from asymtrack_deploy.models.asymtrack import Attention
from asymtrack_deploy.models.summary import attention_product_flops


def _attention_flags(model) -> list[bool]:
    return [m.explicit for m in model.modules() if isinstance(m, Attention)]


def _inputs(model, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(1, 3, 128, 128, generator=generator)
    x = torch.randn(1, 3, 256, 256, generator=generator)
    with torch.no_grad():
        return x, model.template(z)


def test_the_switch_is_per_model_and_restored_even_on_error():
    model, other = build_model("tiny"), build_model("tiny")
    assert _attention_flags(model) == [False]
    with pytest.raises(KeyError), explicit_attention(model):
        assert _attention_flags(model) == [True] and _attention_flags(other) == [False]
        raise KeyError("inside")
    assert _attention_flags(model) == [False]


def test_both_forms_give_the_same_boxes():
    model = build_model("tiny")
    x, state = _inputs(model)
    with torch.no_grad():
        fused = model.search(x, state)
        with explicit_attention(model):
            explicit = model.search(x, state)
    for a, b in zip(fused, explicit):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5)


def test_the_search_wrapper_traces_the_explicit_form_and_leaves_the_model_fused():
    model = build_model("tiny")
    seen = []
    block = next(m for m in model.modules() if isinstance(m, Attention))
    block.register_forward_pre_hook(lambda module, args: seen.append(module.explicit))
    onnx_graphs.trace(SearchGraph(model), batch=1, opset=17)
    assert seen and all(seen)
    assert _attention_flags(model) == [False]


def test_flop_count_includes_exactly_the_attention_products():
    """FlopCounterMode does not count the fused CPU attention; ``count_flops`` runs the model's
    explicit form, so the difference is the attention products and nothing else."""
    model = build_model("tiny")
    x, state = _inputs(model)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model.search(x, state)
    assert count_flops(model.search, x, state) - counter.get_total_flops() == attention_product_flops(model)
    assert _attention_flags(model) == [False]
