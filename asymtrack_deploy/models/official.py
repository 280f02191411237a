"""The official per-frame computation, rebuilt from our modules, as the benchmark baseline.

The official tracker caches, per target, the template *features* (ETM template kernels and the
stage-3 template tokens) and then, every frame: derives the dynamic-conv weights from the
cached kernels again, applies them with a per-sample ``conv1d`` loop, and runs the stage-3
attention block over [search; template] tokens with ``scaled_dot_product_attention``, dropping
the template outputs afterwards. This module reproduces that order of work (same weights, same
results within float rounding) so that ``bench`` can put the official way of running AsymTrack
beside our split, in one run, on the same machine. The walk through the backbone is the
model's own (``Backbone.walk``); only the ETM and attention steps are the official ones.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .asymtrack import ETM, AsymTrack, AttentionBlock

__all__ = ["official_template_cache", "official_search"]


@torch.no_grad()
def official_template_cache(model: AsymTrack, z: torch.Tensor) -> dict[str, torch.Tensor]:
    """What the official model keeps after the first frame: ETM kernels and template tokens."""
    cache: dict[str, torch.Tensor] = {}

    def etm_step(i: int, etm: ETM, z: torch.Tensor) -> torch.Tensor:
        cache[f"stage{i}_kernels"] = etm.template_kernels(z)
        return z

    def attention_step(i: int, block: AttentionBlock, z: torch.Tensor) -> torch.Tensor:
        cache[f"stage{i}_tokens"] = z.flatten(1, 2)
        return z

    model.backbone.walk(z, etm_step, attention_step, last_downsample=False)
    return cache


def _official_etm(etm: ETM, x: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    x_proj, kernels_x = etm.search_kernels(x)
    att = etm.conv_att
    w = att.weight_linear(kernels)
    n = att.num_proposals
    outs = []
    for i in range(x.shape[0]):  # the official loop over samples, with dynamic conv1d weights
        out = F.relu(F.conv1d(kernels_x[i : i + 1], w[i, :, :3].reshape(n, 1, 3), groups=n, padding="same"))
        outs.append(F.conv1d(out, w[i, :, 3:].reshape(n, n, 1), padding="same"))
    return etm.modulate(x, x_proj, att.norm(torch.cat(outs, dim=0)))


def _official_attention(block: AttentionBlock, x: torch.Tensor, z_tokens: torch.Tensor) -> torch.Tensor:
    b, h, w, c = x.shape
    tokens = torch.cat([x.reshape(b, h * w, c), z_tokens], dim=1)
    q, k, v = block.attn.qkv_heads(block.norm1(tokens)).unbind(0)
    a = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, tokens.shape[1], -1)
    tokens = tokens + block.attn.proj(a)
    tokens = tokens + block.mlp(block.norm2(tokens))
    return tokens[:, : h * w].reshape(b, h, w, c)


@torch.no_grad()
def official_search(model: AsymTrack, x: torch.Tensor, cache: dict[str, torch.Tensor]):
    """One official tracking step: backbone (template cached) + neck + head -> (box, score).

    (The official head has no score; ours costs one 3x3 pooling of two 8x8 maps.)"""

    def etm_step(i: int, etm: ETM, t: torch.Tensor) -> torch.Tensor:
        return _official_etm(etm, t, cache[f"stage{i}_kernels"])

    def attention_step(i: int, block: AttentionBlock, t: torch.Tensor) -> torch.Tensor:
        return _official_attention(block, t, cache[f"stage{i}_tokens"])

    return model.head(model.backbone.walk(x, etm_step, attention_step))
