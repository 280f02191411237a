"""What ``asymtrack-deploy info`` reports about a model: sizes, costs and the template state."""
from __future__ import annotations

import torch

from .asymtrack import COUNTED, AsymTrack, count_flops, parameter_count


def branch_parameters(model: AsymTrack) -> dict[str, int]:
    """Parameters each branch touches. The backbone weights are shared by both branches; the
    neck and head belong to search only."""
    backbone = parameter_count(model.backbone)
    head = parameter_count(model.bottleneck) + parameter_count(model.box_head)
    return {"total": parameter_count(model), "backbone (shared)": backbone, "search only (neck + head)": head}


def model_summary(model: AsymTrack, batch: int = 1) -> dict:
    """Sizes, parameter counts, FLOPs of each branch (multiply-add = 2) and the state spec."""
    cfg = model.cfg
    dev, dtype = model.device, model.bottleneck.weight.dtype
    z = torch.zeros(batch, 3, cfg.template_size, cfg.template_size, device=dev, dtype=dtype)
    x = torch.zeros(batch, 3, cfg.search_size, cfg.search_size, device=dev, dtype=dtype)
    with torch.no_grad():
        state = model.template(z)
    return {
        "variant": cfg.name,
        "form": "deploy (OPE fused)" if model.deployed else "training (OPE unfused)",
        "template_size": cfg.template_size,
        "search_size": cfg.search_size,
        "template_factor": cfg.template_factor,
        "search_factor": cfg.search_factor,
        "feature_size": cfg.feat_size,
        "parameters": branch_parameters(model),
        "flops": _branch_flops(model, z, x, state),
        "template_state": {k: list(v) for k, v in model.state_spec(batch).items()},
    }


def attention_product_flops(model: AsymTrack, batch: int = 1) -> int:
    """FLOPs of the stage-3 attention products (q.k^T and attn.v) of one search step.

    torch's FlopCounterMode does not count ``scaled_dot_product_attention`` on CPU, which the
    official model calls; the official 1.18 GFLOPs figure for tiny therefore leaves these out.
    Subtracting them puts our count on the same footing.
    """
    cfg = model.cfg
    attn = model.backbone.layers[2].attention.attn
    queries = (cfg.search_size // 16) ** 2
    keys = queries + (cfg.template_size // 16) ** 2
    return 2 * 2 * batch * attn.num_heads * queries * keys * attn.head_dim


def _branch_flops(model: AsymTrack, z: torch.Tensor, x: torch.Tensor, state) -> dict[str, int]:
    search = count_flops(model.search, x, state, form=COUNTED)
    return {
        "template": count_flops(model.template, z),
        "search": search,
        "search (official convention)": search - attention_product_flops(model, x.shape[0]),
    }
