"""The search branch in channels-first form: the export-side rewrite that removes layout switches.

The model (``models/asymtrack.py``) keeps EfficientMod's channels-last backbone: LayerNorm and
Linear on (B, H, W, C), convolutions on (B, C, H, W), a permute around every convolution. Traced
as it is, the search graph holds 28 Transposes and Gemms over flattened (B*H*W, C) rows; the
runtimes pay for them as layout reorders (OpenVINO's CPU plugin keeps convolutions in a blocked
channels-first layout and reorders to plain rows and back for every fully-connected layer).

This form runs the same arithmetic on (B, C, H, W) throughout, reusing the model's parameters:

* a Linear on channels is a 1x1 convolution with the same weight, viewed (out, in, 1, 1);
* LayerNorm over channels is written out (mean, centred variance, scale, shift over axis 1),
  which OpenVINO fuses into one MVN node; ONNX's LayerNormalization only normalises trailing axes;
* the modulation's ``context.repeat`` over channels stays a repeat (a Tile): OpenVINO ran the
  broadcast product over a (B, ratio, C, H, W) view no faster (0.98x, 0.90-1.23, 14 interleaved
  rounds, one thread, CPU time, shared Intel Xeon at load 20; same outputs), while ONNX Runtime's
  channels-last graph gains from it (``ort_rewrites``);
* the ETM's einsums over (h, w) become batched matrix products of (B, C, HW) and (B, n, HW);
* attention runs on tokens (B, N, C) as in the model, between one transpose in and one out at the
  single stage-3 block, on the already small 16x16 map.

The template branch and the state it hands over are unchanged: only the search graph is
rewritten, and it takes the same inputs and gives the same outputs.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..models import EAGER, AsymTrack, GraphForm
from ..models.asymtrack import ETM, OPE, AttentionBlock, ModulationBlock, PatchEmbed

__all__ = ["ChannelsFirstSearch", "channel_layer_norm", "pointwise"]


def channel_layer_norm(x: torch.Tensor, norm: nn.LayerNorm) -> torch.Tensor:
    """``norm`` (a LayerNorm over C) applied to (B, C, H, W) over axis 1."""
    mean = x.mean(1, keepdim=True)
    centred = x - mean
    var = (centred * centred).mean(1, keepdim=True)
    scaled = centred / torch.sqrt(var + norm.eps)
    return scaled * norm.weight[:, None, None] + norm.bias[:, None, None]


def pointwise(x: torch.Tensor, linear: nn.Linear) -> torch.Tensor:
    """``linear`` over the channels of (B, C, H, W): a 1x1 convolution with its weight."""
    return F.conv2d(x, linear.weight[:, :, None, None], linear.bias)


def _patch_embed(embed: PatchEmbed, x: torch.Tensor) -> torch.Tensor:
    return channel_layer_norm(embed.proj(x), embed.norm)


def _modulation_block(block: ModulationBlock, x: torch.Tensor) -> torch.Tensor:
    mlp = block.mlp
    y = channel_layer_norm(x, block.norm)
    context = mlp.context_layer
    ctx = pointwise(context.act(context.context_list[0](pointwise(y, context.f))), context.g)
    hidden = mlp.act(pointwise(y, mlp.fc1))
    if mlp.ratio > 1:  # fc1's channel k*C + c is gated by context channel c, as the model's repeat
        ctx = ctx.repeat(1, mlp.ratio, 1, 1)
    return x + block.gamma_1[:, None, None] * pointwise(hidden * ctx, mlp.fc2)


def _ope(ope: OPE, x: torch.Tensor) -> torch.Tensor:
    y = ope.act(channel_layer_norm(ope._conv(x), ope.ln))
    return ope.ibe_scale[:, None, None] * y + x


def _etm(etm: ETM, x: torch.Tensor, depth: torch.Tensor, point: torch.Tensor, mix_scale: float) -> torch.Tensor:
    """The ETM with its (h, w) contractions as broadcast products and sums over (H, W): with
    n = 2 or 4 kernels these are a few element-wise passes, and no (B, C, HW) reshape (which
    would force a planar layout and a reorder in OpenVINO) is needed."""
    proj = pointwise(x, etm.pre_kernels_x)  # (B, n, H, W)
    n = proj.shape[1]
    kernels = torch.stack([(x * proj[:, k : k + 1]).sum((2, 3)) for k in range(n)], 1)  # (B, n, C)
    modulated = etm.conv_att.apply(kernels, depth, point, mix_scale)  # (B, n, C)
    correlated = sum(modulated[:, k, :, None, None] * proj[:, k : k + 1] for k in range(n))  # (B, C, H, W)
    prototype = torch.matmul(etm.proj_Cto1(modulated).transpose(1, 2), modulated)  # (B, 1, C)
    correlated = correlated * torch.sigmoid(prototype).transpose(1, 2)[..., None]
    return x + etm.act(channel_layer_norm(correlated, etm.ln))


def _attention(block: AttentionBlock, x: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
               explicit: bool) -> torch.Tensor:
    b, c, h, w = x.shape
    tokens = x.flatten(2).transpose(1, 2)
    tokens = tokens + block.attn(block.norm1(tokens), key, value, explicit)
    tokens = tokens + block.mlp(block.norm2(tokens))
    return tokens.transpose(1, 2).reshape(b, c, h, w)


class ChannelsFirstSearch(nn.Module):
    """``model.search`` computed on (B, C, H, W) throughout (see the module docstring): a
    normalised search crop (B, 3, Hs, Ws) + the template state -> (box, score)."""

    def __init__(self, model: AsymTrack, form: GraphForm = EAGER):
        super().__init__()
        self.model = model
        self.form = form

    def features(self, x: torch.Tensor, state: dict[str, torch.Tensor]) -> torch.Tensor:
        backbone = self.model.backbone
        x = _patch_embed(backbone.patch_embed, x)
        for i, stage in enumerate(backbone.layers):
            for block in stage.blocks[: stage.num_modulation]:
                x = _modulation_block(block, x)
            if stage.has_etm:
                x = _etm(stage.etm, x, state[f"stage{i}_etm_depth"], state[f"stage{i}_etm_point"], self.form.etm_mix_scale)
            x = _ope(stage.ope, x)
            if stage.has_attention:
                x = _attention(stage.attention, x, state[f"stage{i}_attn_key"], state[f"stage{i}_attn_value"],
                               self.form.explicit_attention)
            x = _patch_embed(stage.downsample, x)
        return x

    def forward(self, x: torch.Tensor, state: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model.box_head(pointwise(self.features(x, state), self.model.bottleneck))
