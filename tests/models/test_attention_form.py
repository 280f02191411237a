"""Which attention form runs where: fused in eager PyTorch, explicit where the export wrappers
and the FLOP count ask for it, call by call (``GraphForm``): the model stores no export setting."""
from __future__ import annotations

import copy

import torch
from torch.utils.flop_counter import FlopCounterMode

from asymtrack_deploy.export import onnx_graphs
from asymtrack_deploy.export.wrappers import SEARCH_FORM, SearchGraph
from asymtrack_deploy.models import COUNTED, build_model, count_flops
from asymtrack_deploy.models.asymtrack import Attention
from asymtrack_deploy.models.summary import attention_product_flops


def _inputs(model, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(1, 3, 128, 128, generator=generator)
    x = torch.randn(1, 3, 256, 256, generator=generator)
    with torch.no_grad():
        return x, model.template(z)


def _settings(model) -> list[dict]:
    """Every submodule's plain attributes (what a stored switch would change)."""
    return [{k: v for k, v in vars(m).items() if not k.startswith("_")} for m in model.modules()]


def test_both_forms_give_the_same_boxes():
    model = build_model("tiny")
    x, state = _inputs(model)
    with torch.no_grad():
        fused = model.search(x, state)
        explicit = model.search(x, state, COUNTED)
    for a, b in zip(fused, explicit):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5)


def test_the_search_wrapper_traces_the_explicit_form_and_leaves_the_model_as_it_was():
    model = build_model("tiny")
    before = copy.deepcopy(_settings(model))
    seen = []
    block = next(m for m in model.modules() if isinstance(m, Attention))
    block.register_forward_pre_hook(lambda module, args: seen.append(args[3]))
    onnx_graphs.trace(SearchGraph(model), batch=1, opset=17)
    assert seen and all(seen) and SEARCH_FORM.explicit_attention
    assert _settings(model) == before
    seen.clear()
    with torch.no_grad():
        model.search(*_inputs(model))
    assert seen == [False]  # eager calls keep the fused kernel


def test_flop_count_includes_exactly_the_attention_products():
    """FlopCounterMode does not count the fused CPU attention; the explicit form's count differs
    by the attention products and nothing else."""
    model = build_model("tiny")
    x, state = _inputs(model)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model.search(x, state)
    assert count_flops(model.search, x, state, form=COUNTED) - counter.get_total_flops() == attention_product_flops(model)
