"""FLOPs per branch, reproducible with torch's FlopCounterMode (multiply-add = 2)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from asymtrack_deploy.models import build_model, count_flops
from asymtrack_deploy.models.summary import model_summary


def _official_frame(model, x, z_tokens):
    """The official per-frame computation (template cached, search tokens attend over
    [search; template] tokens with scaled_dot_product_attention), built from our modules."""
    layers = model.backbone.layers
    t = model.backbone.patch_embed(x.permute(0, 2, 3, 1))
    t = layers[0].downsample(layers[0].ope(layers[0].run_modulation(t)))
    state = model.template(torch.zeros(1, 3, 128, 128))
    for i in (1, 2):
        t = layers[i].run_modulation(t)
        t = layers[i].etm(t, state[f"stage{i}_etm_depth"], state[f"stage{i}_etm_point"])
        t = layers[i].ope(t)
        if i == 1:
            t = layers[1].downsample(t)
    block = layers[2].attention
    b, h, w, c = t.shape
    tokens = torch.cat([t.reshape(b, h * w, c), z_tokens], dim=1)
    q, k, v = block.attn.qkv_heads(block.norm1(tokens)).unbind(0)
    a = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, tokens.shape[1], -1)
    tokens = tokens + block.attn.proj(a)
    tokens = tokens + block.mlp(block.norm2(tokens))
    t = layers[2].downsample(tokens[:, : h * w].reshape(b, h, w, c))
    return model.box_head(model.bottleneck(t).permute(0, 3, 1, 2))


def test_official_per_frame_count_is_reproduced_and_the_split_costs_less():
    model = build_model("tiny")
    x = torch.zeros(1, 3, 256, 256)
    official = count_flops(_official_frame, model, x, torch.zeros(1, 64, 128))
    official -= count_flops(model.template, torch.zeros(1, 3, 128, 128))  # the helper re-derives the state
    assert abs(official / 1e9 - 1.18) < 0.01  # the figure the official tiny is quoted at
    summary = model_summary(model)
    assert summary["flops"]["search (official convention)"] < official
    assert summary["flops"]["search"] > summary["flops"]["search (official convention)"]
