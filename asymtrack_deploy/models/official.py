"""The official per-frame computation, rebuilt from our modules, as the benchmark baseline.

The official tracker caches, per target, the template *features* (ETM template kernels and the
stage-3 template tokens) and then, every frame: derives the dynamic-conv weights from the
cached kernels again, applies them with a per-sample ``conv1d`` loop, and runs the stage-3
attention block over [search; template] tokens with ``scaled_dot_product_attention``, dropping
the template outputs afterwards. This module reproduces that order of work (same weights, same
results within float rounding) so that ``bench`` can put the official way of running AsymTrack
beside our split, in one run, on the same machine.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .asymtrack import AsymTrack

__all__ = ["official_template_cache", "official_search"]


@torch.no_grad()
def official_template_cache(model: AsymTrack, z: torch.Tensor) -> dict[str, torch.Tensor]:
    """What the official model keeps after the first frame: ETM kernels and template tokens."""
    layers = model.backbone.layers
    z = model.backbone.patch_embed(z.permute(0, 2, 3, 1))
    z = layers[0].downsample(layers[0].ope(layers[0].run_modulation(z)))
    cache: dict[str, torch.Tensor] = {}
    for i in (1, 2):
        z = layers[i].run_modulation(z)
        etm = layers[i].etm
        cache[f"stage{i}_kernels"] = torch.einsum("bhwn,bhwc->bnc", etm.pre_kernels(z), z)
        z = layers[i].ope(z)
        if i == 1:
            z = layers[1].downsample(z)
    cache["stage2_tokens"] = z.flatten(1, 2)
    return cache


def _official_etm(etm, x: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    x_proj = etm.pre_kernels_x(x)
    kernels_x = torch.einsum("bhwn,bhwc->bnc", x_proj, x)
    att = etm.conv_att
    w = att.weight_linear(kernels)
    n = att.num_proposals
    outs = []
    for i in range(x.shape[0]):  # the official loop over samples, with dynamic conv1d weights
        out = F.relu(F.conv1d(kernels_x[i : i + 1], w[i, :, :3].reshape(n, 1, 3), groups=n, padding="same"))
        outs.append(F.conv1d(out, w[i, :, 3:].reshape(n, n, 1), padding="same"))
    kernels_x = att.norm(torch.cat(outs, dim=0))
    correlated = torch.einsum("bnc,bhwn->bhwc", kernels_x, x_proj)
    prototype = torch.einsum("bnd,bnc->bdc", etm.proj_Cto1(kernels_x), kernels_x)
    return x + etm.act(etm.ln(correlated * torch.sigmoid(prototype).unsqueeze(1)))


def _official_attention(block, x: torch.Tensor, z_tokens: torch.Tensor) -> torch.Tensor:
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
    layers = model.backbone.layers
    t = model.backbone.patch_embed(x.permute(0, 2, 3, 1))
    t = layers[0].downsample(layers[0].ope(layers[0].run_modulation(t)))
    for i in (1, 2):
        t = layers[i].run_modulation(t)
        t = _official_etm(layers[i].etm, t, cache[f"stage{i}_kernels"])
        t = layers[i].ope(t)
        if i == 2:
            t = _official_attention(layers[2].attention, t, cache["stage2_tokens"])
        t = layers[i].downsample(t)
    return model.box_head(model.bottleneck(t).permute(0, 3, 1, 2))
