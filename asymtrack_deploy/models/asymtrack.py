"""AsymTrack: the asymmetric Siamese tracker of Zhu et al., AAAI 2025.

"Two-stream Beats One-stream: Asymmetric Siamese Network for Efficient Visual Tracking".
Official code: github.com/jiawen-zhu/AsymTrack (MIT). This is an independent re-implementation
whose module tree reproduces the official state-dict key names, so official checkpoints load
unchanged (see ``checkpoint.py``).

The network is written as two branches instead of the official single forward that caches
template results inside modules:

* ``AsymTrack.template(z)`` runs the template stream once and returns a *template state*, a plain
  dict of tensors (names and shapes in ``AsymTrack.state_spec``): the ETM modulation weights of
  stages 2 and 3 and the template keys/values of the stage-3 attention block.
* ``AsymTrack.search(x, state)`` runs the search stream, the linear neck and the corner head.

Both are batched (no Python loop over samples) and trace to static ONNX graphs without
dynamic-weight convolutions, which is what TensorRT and OpenVINO want.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..bundle import VARIANT_CROP_SIZES

__all__ = ["AsymTrack", "VariantConfig", "VARIANTS", "TemplateState", "GraphForm", "EAGER", "COUNTED"]

TemplateState = dict[str, torch.Tensor]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class GraphForm:
    """How the search branch writes its computation, passed call by call (nothing is stored on
    the model): ``explicit_attention``, the plain MatMul/Softmax attention instead of the fused
    kernel (the form an ONNX trace must record and FlopCounterMode can count);
    ``etm_mix_scale``, a power of two the ETM's point-wise mix is computed on (exact in fp32,
    ``DySepConvAtten._apply_scaled``), so that a graph converted to fp16 stays inside fp16's
    range. Eager PyTorch uses ``EAGER``; the export wrappers pass their own."""

    explicit_attention: bool = False
    etm_mix_scale: float = 1.0

    def __post_init__(self) -> None:
        if not (self.etm_mix_scale > 0 and math.frexp(self.etm_mix_scale)[0] == 0.5):
            raise ValueError(f"the ETM mix scale must be a power of two, got {self.etm_mix_scale!r}")


EAGER = GraphForm()
COUNTED = GraphForm(explicit_attention=True)  # what count_flops runs


@dataclass(frozen=True)
class VariantConfig:
    """Everything that tells tiny, small and base apart (the rest is shared)."""

    name: str
    depths: tuple[int, int, int]
    search_size: int
    template_size: int
    search_factor: float = 4.0
    template_factor: float = 2.0
    embed_dims: tuple[int, int, int, int] = (32, 64, 128, 256)
    hidden_dim: int = 256
    head_channels: int = 256
    stride: int = 32
    context_size: int = 7
    attention_heads: int = 8
    attention_mlp_ratio: float = 4.0
    layerscale_init: float = 1e-4
    mean: tuple[float, float, float] = field(default=IMAGENET_MEAN)
    std: tuple[float, float, float] = field(default=IMAGENET_STD)

    @property
    def feat_size(self) -> int:
        return self.search_size // self.stride

    def mlp_ratios(self, stage: int) -> list[int]:
        """EfficientMod-xxs alternates expansion 1 and 6 inside every stage."""
        return [1 if i % 2 == 0 else 6 for i in range(self.depths[stage])]


VARIANTS: dict[str, VariantConfig] = {
    name: VariantConfig(name, depths=depths, template_size=VARIANT_CROP_SIZES[name][0],
                        search_size=VARIANT_CROP_SIZES[name][1])
    for name, depths in (("tiny", (2, 2, 1)), ("small", (2, 2, 3)), ("base", (2, 2, 3)))
}


# --------------------------------------------------------------------------------------------
# Blocks. Feature maps are channels-last (B, H, W, C) inside the backbone, as in EfficientMod.
# --------------------------------------------------------------------------------------------


class PatchEmbed(nn.Module):
    """Strided conv + LayerNorm: the stem and every down-sampling step."""

    def __init__(self, in_chans: int, embed_dim: int, patch_size: int, stride: int, padding: int):
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, patch_size, stride=stride, padding=padding)
        self.norm = nn.LayerNorm(embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return self.norm(x)


class ContextLayer(nn.Module):
    """EfficientMod's context branch: project, depth-wise 7x7, GELU, project back."""

    def __init__(self, dim: int, conv_dim: int, kernel_size: int):
        super().__init__()
        self.f = nn.Linear(dim, conv_dim)
        self.g = nn.Linear(conv_dim, dim)
        self.act = nn.GELU()
        self.context_list = nn.ModuleList(
            [nn.Conv2d(conv_dim, conv_dim, kernel_size, padding=kernel_size // 2, groups=conv_dim)]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.f(x).permute(0, 3, 1, 2)
        x = self.act(self.context_list[0](x))
        return self.g(x.permute(0, 2, 3, 1))


class ModulationMlp(nn.Module):
    """Convolutional modulation: fc1(x) gated by the context branch, then fc2."""

    def __init__(self, dim: int, ratio: int, kernel_size: int):
        super().__init__()
        self.ratio = ratio
        self.fc1 = nn.Linear(dim, dim * ratio)
        self.context_layer = ContextLayer(dim, dim, kernel_size)
        self.fc2 = nn.Linear(dim * ratio, dim)
        # With no expansion the official block skips the activation.
        self.act = nn.GELU() if ratio > 1 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        context = self.context_layer(x)
        x = self.act(self.fc1(x))
        if self.ratio > 1:
            context = context.repeat(1, 1, 1, self.ratio)
        return self.fc2(x * context)


class ModulationBlock(nn.Module):
    """EfficientMod basic block (pre-norm residual with layer scale)."""

    def __init__(self, dim: int, ratio: int, kernel_size: int, layerscale_init: float):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.mlp = ModulationMlp(dim, ratio, kernel_size)
        self.gamma_1 = nn.Parameter(torch.full((dim,), layerscale_init))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.gamma_1 * self.mlp(self.norm(x))


class OPE(nn.Module):
    """Overlapped patch enhancement: three 3x3 convs with a learnt centre-difference term.

    Training form: sum_i conv_i(x) - sigmoid(theta) * sum_i conv1x1(x, sum_hw W_i).
    The centre-difference term is a 1x1 conv, i.e. a 3x3 conv whose kernel is zero but at the
    centre, so the whole branch folds into one 3x3 conv (``reparameterize``).
    """

    num_branches = 3

    def __init__(self, dim: int, deploy: bool = True):
        super().__init__()
        if deploy:
            self.rbr_reparam = nn.Conv2d(dim, dim, 3, padding=1, bias=False)
        else:
            self.rbr_conv = nn.ModuleList(
                [nn.Conv2d(dim, dim, 3, padding=1, bias=False) for _ in range(self.num_branches)]
            )
            self.theta = nn.Parameter(torch.zeros(1))
        self.ln = nn.LayerNorm(dim)
        self.act = nn.ReLU()
        self.ibe_scale = nn.Parameter(torch.zeros(dim))

    @property
    def deployed(self) -> bool:
        return hasattr(self, "rbr_reparam")

    def _conv(self, x: torch.Tensor) -> torch.Tensor:
        if self.deployed:
            return self.rbr_reparam(x)
        theta = torch.sigmoid(self.theta)
        out = sum(conv(x) for conv in self.rbr_conv)
        diff = sum(F.conv2d(x, conv.weight.sum(dim=(2, 3), keepdim=True)) for conv in self.rbr_conv)
        return out - theta * diff

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self._conv(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return self.ibe_scale * self.act(self.ln(y)) + x

    @staticmethod
    def fused_weight(branch_weights: list[torch.Tensor], theta: torch.Tensor) -> torch.Tensor:
        """The deploy kernel from the training-form parameters (also used on raw state dicts)."""
        total = torch.zeros_like(branch_weights[0])
        scale = torch.sigmoid(theta)
        for w in branch_weights:
            centre = scale * w.sum(dim=(2, 3))
            total = total + w - F.pad(centre[:, :, None, None], (1, 1, 1, 1))
        return total

    @torch.no_grad()
    def reparameterize(self) -> None:
        if self.deployed:
            return
        weight = self.fused_weight([c.weight for c in self.rbr_conv], self.theta)
        dim = weight.shape[0]
        self.rbr_reparam = nn.Conv2d(dim, dim, 3, padding=1, bias=False).to(weight)
        self.rbr_reparam.weight.copy_(weight)
        del self.rbr_conv
        del self.theta

    @staticmethod
    def unfused_weights(fused: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Training-form parameters whose ``fused_weight`` is ``fused``: theta = 0 (sigmoid 0.5)
        and three equal branches S/3. ``fused_weight`` gives S - pad(0.5 * sum_hw(S)), and with
        S = F + pad(sum_hw(F)) (sum_hw(S) = 2 sum_hw(F)) that is F again. The original split
        among the branches and the learnt theta cannot be recovered from F; this is one exact
        preimage, so a deploy-form model can be fine-tuned from the same function."""
        centre = fused.sum(dim=(2, 3))[:, :, None, None]
        total = fused + F.pad(centre, (1, 1, 1, 1))
        return [total / OPE.num_branches for _ in range(OPE.num_branches)], fused.new_zeros(1)

    @torch.no_grad()
    def unfuse(self) -> None:
        """The inverse of ``reparameterize`` (``unfused_weights``): a no-op in training form."""
        if not self.deployed:
            return
        weights, theta = self.unfused_weights(self.rbr_reparam.weight)
        self.rbr_conv = nn.ModuleList([nn.Conv2d(*w.shape[:2], 3, padding=1, bias=False).to(w) for w in weights])
        for conv, weight in zip(self.rbr_conv, weights):
            conv.weight.copy_(weight)
        self.theta = nn.Parameter(theta)
        del self.rbr_reparam


class DySepConvAtten(nn.Module):
    """Dynamic separable 1-D convolution along channels, its weights generated from a query.

    The official module loops over the batch and calls ``conv1d`` with per-sample weights.
    Here the weights are produced once (``weights``) and applied as three shifted products and
    one batched matmul (``apply``): identical arithmetic, batched, and no dynamic-weight
    convolution in the exported graph.
    """

    kernel_size = 3

    def __init__(self, dim: int, num_proposals: int):
        super().__init__()
        self.num_proposals = num_proposals
        self.weight_linear = nn.Linear(dim, num_proposals + self.kernel_size)
        self.norm = nn.LayerNorm(dim)

    def weights(self, query: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """query (B, n, C) -> depth-wise taps (B, n, 3) and point-wise mixing (B, n, n)."""
        w = self.weight_linear(query)
        return w[..., : self.kernel_size], w[..., self.kernel_size :]

    def apply(self, value: torch.Tensor, depth: torch.Tensor, point: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
        """``scale``: the mix runs on ``value * scale`` (``GraphForm.etm_mix_scale``, export graphs)."""
        if value.dtype == torch.float16:
            return self._apply_in_fp32(value, depth, point)
        if scale != 1.0:
            return self._apply_scaled(value, depth, point, scale)
        return self.norm(self._mix(value, depth, point))

    def _apply_scaled(self, value: torch.Tensor, depth: torch.Tensor, point: torch.Tensor, scale: float) -> torch.Tensor:
        """The same result with the mix computed on ``value * scale``: the mix is linear
        in ``value`` up to the ReLU (which commutes with a positive scale), and LayerNorm of
        ``s * y`` with epsilon ``eps * s**2`` is LayerNorm of ``y`` with ``eps``. With ``s`` a
        power of two every step is exact in fp32, so the graph computes the same bits, while a
        graph run in fp16 keeps the mix inside fp16's range (``GraphForm``)."""
        norm = self.norm
        out = self._mix(value * scale, depth, point)
        return F.layer_norm(out, norm.normalized_shape, norm.weight, norm.bias, norm.eps * scale * scale)

    def _mix(self, value: torch.Tensor, depth: torch.Tensor, point: torch.Tensor) -> torch.Tensor:
        channels = value.shape[-1]
        padded = F.pad(value, (1, 1))
        out = sum(depth[..., k : k + 1] * padded[..., k : k + channels] for k in range(3))
        return torch.matmul(point, F.relu(out))

    def _apply_in_fp32(self, value: torch.Tensor, depth: torch.Tensor, point: torch.Tensor) -> torch.Tensor:
        """Half precision (``.half()``, fp16 autocast) overflows here: with the trained demo
        weights the point-wise mix reaches ~7e5, past fp16's 65504, and the LayerNorm of inf is
        NaN. So the mix runs in fp32 (autocast off) and only its normalised output, O(1), goes
        back to fp16."""
        with torch.autocast(value.device.type, enabled=False):
            out = self._mix(value.float(), depth.float(), point.float())
            norm = self.norm
            out = F.layer_norm(out, norm.normalized_shape, norm.weight.float(), norm.bias.float(), norm.eps)
        return out.half()


class ETM(nn.Module):
    """Efficient template modulation: template kernels modulate the search features.

    ``post_kernels``, ``downsample`` exist only so that official checkpoints load strictly; the
    official forward never calls them.
    """

    def __init__(self, dim: int):
        super().__init__()
        hidden = dim // 32
        self.pre_kernels = nn.Linear(dim, hidden)
        self.pre_kernels_x = nn.Linear(dim, hidden)
        self.post_kernels = nn.Linear(hidden, dim)
        self.downsample = PatchEmbed(dim, dim, 3, 2, 1)
        self.proj_Cto1 = nn.Linear(dim, 1)
        self.ln = nn.LayerNorm(dim)
        self.act = nn.ReLU()
        self.conv_att = DySepConvAtten(dim, hidden)

    def template_kernels(self, z: torch.Tensor) -> torch.Tensor:
        """Template features (B, H, W, C) -> the template kernels (B, n, C)."""
        return torch.einsum("bhwn,bhwc->bnc", self.pre_kernels(z), z)

    def modulation(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Template features (B, H, W, C) -> the dynamic conv weights, once per target.

        The official code detaches the template kernels (it caches a detached clone and uses
        the clone even in training); so do we, to train the same model.
        """
        return self.conv_att.weights(self.template_kernels(z).detach())

    def search_kernels(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Search features -> their projection (B, H, W, n) and kernels (B, n, C)."""
        x_proj = self.pre_kernels_x(x)
        return x_proj, torch.einsum("bhwn,bhwc->bnc", x_proj, x)

    def modulate(self, x: torch.Tensor, x_proj: torch.Tensor, kernels_x: torch.Tensor) -> torch.Tensor:
        """The search features modulated by the (template-convolved) search kernels."""
        correlated = torch.einsum("bnc,bhwn->bhwc", kernels_x, x_proj)
        prototype = torch.einsum("bnd,bnc->bdc", self.proj_Cto1(kernels_x), kernels_x)
        correlated = correlated * torch.sigmoid(prototype).unsqueeze(1)
        return x + self.act(self.ln(correlated))

    def forward(self, x: torch.Tensor, depth: torch.Tensor, point: torch.Tensor, mix_scale: float = 1.0) -> torch.Tensor:
        x_proj, kernels_x = self.search_kernels(x)
        return self.modulate(x, x_proj, self.conv_att.apply(kernels_x, depth, point, mix_scale))


class Attention(nn.Module):
    """Multi-head attention whose head width is at least 32 (EfficientMod's choice).

    Eager PyTorch uses the fused ``scaled_dot_product_attention`` (markedly faster on CPU).
    ``explicit=True`` selects the plain MatMul/Softmax form instead, which every ONNX converter
    parses and FlopCounterMode counts; the export wrappers and ``count_flops`` pass it
    (``GraphForm.explicit_attention``), call by call: nothing is stored on the model.
    """

    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = max(dim // num_heads, 32)
        self.scale = self.head_dim**-0.5
        self.qkv = nn.Linear(dim, 3 * num_heads * self.head_dim, bias=False)
        self.proj = nn.Linear(num_heads * self.head_dim, dim)

    def qkv_heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, N, C) -> (3, B, heads, N, head_dim)."""
        b, n, _ = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, self.head_dim)
        return qkv.permute(2, 0, 3, 1, 4)

    def forward(self, x: torch.Tensor, extra_k: torch.Tensor, extra_v: torch.Tensor, explicit: bool = False) -> torch.Tensor:
        """Queries from x; keys and values from x followed by the extra (template) tokens."""
        q, k, v = self.qkv_heads(x).unbind(0)
        k = torch.cat([k, extra_k], dim=2)
        v = torch.cat([v, extra_v], dim=2)
        if explicit:
            attn = torch.softmax(torch.matmul(q * self.scale, k.transpose(-2, -1)), dim=-1)
            out = torch.matmul(attn, v).transpose(1, 2)
        else:
            out = F.scaled_dot_product_attention(q, k, v, scale=self.scale).transpose(1, 2)
        return self.proj(out.reshape(x.shape[0], x.shape[1], -1))


class AttMlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class AttentionBlock(nn.Module):
    """Stage-3 block: search tokens attend over [search; template] tokens.

    The official block concatenates the template tokens, runs the whole block on both and drops
    the template outputs. Only the template keys and values reach the search outputs, so the
    template branch computes them once (``template_kv``).
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = AttMlp(dim, int(dim * mlp_ratio))

    def template_kv(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _, k, v = self.attn.qkv_heads(self.norm1(z.flatten(1, 2))).unbind(0)
        return k, v

    def forward(self, x: torch.Tensor, key: torch.Tensor, value: torch.Tensor, explicit: bool = False) -> torch.Tensor:
        b, h, w, c = x.shape
        t = x.reshape(b, h * w, c)
        t = t + self.attn(self.norm1(t), key, value, explicit)
        t = t + self.mlp(self.norm2(t))
        return t.reshape(b, h, w, c)


class Stage(nn.Module):
    """One backbone stage. ``blocks`` keeps the official order so that indices match the keys:
    modulation blocks, then ETM (stages 2 and 3), OPE, and the attention block (stage 3)."""

    def __init__(self, cfg: VariantConfig, index: int, deploy: bool):
        super().__init__()
        dim = cfg.embed_dims[index]
        blocks: list[nn.Module] = [
            ModulationBlock(dim, r, cfg.context_size, cfg.layerscale_init) for r in cfg.mlp_ratios(index)
        ]
        self.num_modulation = len(blocks)
        self.has_etm = index in (1, 2)
        self.has_attention = index == 2
        if self.has_etm:
            blocks.append(ETM(dim))
        blocks.append(OPE(dim, deploy=deploy))
        if self.has_attention:
            blocks.append(AttentionBlock(dim, cfg.attention_heads, cfg.attention_mlp_ratio))
        self.blocks = nn.ModuleList(blocks)
        self.downsample = PatchEmbed(dim, cfg.embed_dims[index + 1], 3, 2, 1)

    @property
    def etm(self) -> ETM:
        return self.blocks[self.num_modulation]

    @property
    def ope(self) -> OPE:
        return self.blocks[self.num_modulation + int(self.has_etm)]

    @property
    def attention(self) -> AttentionBlock:
        return self.blocks[-1]

    def run_modulation(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks[: self.num_modulation]:
            x = block(x)
        return x


EtmStep = Callable[[int, ETM, torch.Tensor], torch.Tensor]
AttentionStep = Callable[[int, AttentionBlock, torch.Tensor], torch.Tensor]


class Backbone(nn.Module):
    """EfficientMod-xxs cut to three stages, with ETM, OPE and template-search attention."""

    def __init__(self, cfg: VariantConfig, deploy: bool):
        super().__init__()
        self.patch_embed = PatchEmbed(3, cfg.embed_dims[0], 7, 4, 3)
        self.layers = nn.ModuleList([Stage(cfg, i, deploy) for i in range(3)])

    def walk(
        self, x: torch.Tensor, etm_step: EtmStep, attention_step: AttentionStep, last_downsample: bool = True
    ) -> torch.Tensor:
        """The one pass through the stem and the stages, shared by the template and search
        branches and the official baseline: they differ only in what happens at each ETM and
        at the attention block, so those two steps are theirs, called as ``step(stage index,
        block, features) -> features``. The template stops before the last down-sampling.

        Normalised crop (B, 3, H, W) -> channels-last features.
        """
        x = self.patch_embed(x.permute(0, 2, 3, 1))
        for i, stage in enumerate(self.layers):
            x = stage.run_modulation(x)
            if stage.has_etm:
                x = etm_step(i, stage.etm, x)
            x = stage.ope(x)
            if stage.has_attention:
                x = attention_step(i, stage.attention, x)
            if last_downsample or i < len(self.layers) - 1:
                x = stage.downsample(x)
        return x


class CornerHead(nn.Module):
    """Two conv towers give top-left and bottom-right heatmaps; soft-argmax gives the corners."""

    def __init__(self, in_channels: int, channels: int, feat_size: int, stride: int):
        super().__init__()
        self.feat_size = feat_size
        self.img_size = feat_size * stride
        widths = [in_channels, channels, channels // 2, channels // 4, channels // 8]
        for corner in ("tl", "br"):
            for i in range(4):
                setattr(self, f"conv{i + 1}_{corner}", self._conv_bn_relu(widths[i], widths[i + 1]))
            setattr(self, f"conv5_{corner}", nn.Conv2d(widths[4], 1, 1))
        coords = torch.arange(feat_size, dtype=torch.float32) * stride
        self.register_buffer("coord_x", coords.repeat(feat_size), persistent=False)
        self.register_buffer("coord_y", coords.repeat_interleave(feat_size), persistent=False)

    @staticmethod
    def _conv_bn_relu(cin: int, cout: int) -> nn.Sequential:
        return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))

    def _heatmap(self, x: torch.Tensor, corner: str) -> torch.Tensor:
        for i in range(1, 6):
            x = getattr(self, f"conv{i}_{corner}")(x)
        return x

    def _soft_argmax(self, heatmap: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        prob = torch.softmax(heatmap.flatten(1), dim=1)
        return (prob * self.coord_x).sum(1), (prob * self.coord_y).sum(1), prob

    def _peak_mass(self, prob: torch.Tensor) -> torch.Tensor:
        """Largest probability mass in any 3x3 window: near 1 for a sharp, single peak."""
        grid = prob.reshape(-1, 1, self.feat_size, self.feat_size)
        window = F.avg_pool2d(grid, 3, stride=1, padding=1, count_include_pad=True) * 9.0
        return window.flatten(1).amax(dim=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Features (B, C, h, w) -> box (B, 4) as normalised (cx, cy, w, h), and score (B,)."""
        x1, y1, p_tl = self._soft_argmax(self._heatmap(x, "tl"))
        x2, y2, p_br = self._soft_argmax(self._heatmap(x, "br"))
        xyxy = torch.stack([x1, y1, x2, y2], dim=1) / self.img_size
        box = torch.cat([(xyxy[:, :2] + xyxy[:, 2:]) / 2, xyxy[:, 2:] - xyxy[:, :2]], dim=1)
        score = torch.sqrt(self._peak_mass(p_tl) * self._peak_mass(p_br))
        return box, score


# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------


class AsymTrack(nn.Module):
    """The tracker network, split into a once-per-target template branch and a per-frame
    search branch. Inputs are normalised crops (B, 3, H, W); see ``normalize``."""

    def __init__(self, cfg: VariantConfig, deploy: bool = True):
        super().__init__()
        self.cfg = cfg
        self.backbone = Backbone(cfg, deploy)
        self.bottleneck = nn.Linear(cfg.embed_dims[3], cfg.hidden_dim)
        self.box_head = CornerHead(cfg.hidden_dim, cfg.head_channels, cfg.feat_size, cfg.stride)
        self.register_buffer("pixel_mean", torch.tensor(cfg.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(cfg.std).view(1, 3, 1, 1), persistent=False)

    @property
    def device(self) -> torch.device:
        return self.bottleneck.weight.device

    @property
    def deployed(self) -> bool:
        return all(stage.ope.deployed for stage in self.backbone.layers)

    def normalize(self, crops_uint8_nhwc: torch.Tensor) -> torch.Tensor:
        """RGB uint8 crops (B, H, W, 3) -> the normalised (B, 3, H, W) float input."""
        x = crops_uint8_nhwc.permute(0, 3, 1, 2).to(self.pixel_mean.dtype) / 255.0
        return (x - self.pixel_mean) / self.pixel_std

    # -- template branch ---------------------------------------------------------------------
    def template(self, z: torch.Tensor) -> TemplateState:
        """Normalised template crop (B, 3, Ht, Wt) -> template state (see ``state_spec``)."""
        state: TemplateState = {}

        def etm_step(i: int, etm: ETM, z: torch.Tensor) -> torch.Tensor:
            state[f"stage{i}_etm_depth"], state[f"stage{i}_etm_point"] = etm.modulation(z)
            return z

        def attention_step(i: int, block: AttentionBlock, z: torch.Tensor) -> torch.Tensor:
            state[f"stage{i}_attn_key"], state[f"stage{i}_attn_value"] = block.template_kv(z)
            return z

        self.backbone.walk(z, etm_step, attention_step, last_downsample=False)
        return state

    # -- search branch -----------------------------------------------------------------------
    def search_features(self, x: torch.Tensor, state: TemplateState, form: GraphForm = EAGER) -> torch.Tensor:
        """Normalised search crop -> last backbone output (B, Hs/32, Ws/32, 256), channels last."""

        def etm_step(i: int, etm: ETM, x: torch.Tensor) -> torch.Tensor:
            return etm(x, state[f"stage{i}_etm_depth"], state[f"stage{i}_etm_point"], form.etm_mix_scale)

        def attention_step(i: int, block: AttentionBlock, x: torch.Tensor) -> torch.Tensor:
            return block(x, state[f"stage{i}_attn_key"], state[f"stage{i}_attn_value"], form.explicit_attention)

        return self.backbone.walk(x, etm_step, attention_step)

    def head(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Last backbone output (channels last) -> neck and corner head -> (box, score)."""
        return self.box_head(self.bottleneck(features).permute(0, 3, 1, 2))

    def search(self, x: torch.Tensor, state: TemplateState, form: GraphForm = EAGER) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised search crop (B, 3, Hs, Ws) + state -> (box (B, 4) normalised cx, cy, w, h;
        score (B,) in [0, 1]); ``form``: how to write the computation (eager, or a graph's)."""
        return self.head(self.search_features(x, state, form))

    def forward(self, template: torch.Tensor, search: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Both branches in one call, for training."""
        return self.search(search, self.template(template))

    # -- deploy ------------------------------------------------------------------------------
    def reparameterize(self) -> "AsymTrack":
        """Fuse every OPE into one conv; a no-op on a model already in deploy form."""
        for module in self.modules():
            if isinstance(module, OPE):
                module.reparameterize()
        return self

    def unfuse(self) -> "AsymTrack":
        """Every fused OPE back in training form (``OPE.unfuse``), e.g. to fine-tune a deploy-form
        model; a no-op on a model already in training form."""
        for module in self.modules():
            if isinstance(module, OPE):
                module.unfuse()
        return self

    def state_spec(self, batch: int = 1) -> dict[str, tuple[int, ...]]:
        """Names and shapes of the template-state tensors for a given batch size."""
        cfg = self.cfg
        spec: dict[str, tuple[int, ...]] = {}
        for i in (1, 2):
            n = cfg.embed_dims[i] // 32
            spec[f"stage{i}_etm_depth"] = (batch, n, DySepConvAtten.kernel_size)
            spec[f"stage{i}_etm_point"] = (batch, n, n)
        attn = self.backbone.layers[2].attention.attn
        tokens = (cfg.template_size // 16) ** 2
        for name in ("key", "value"):
            spec[f"stage2_attn_{name}"] = (batch, attn.num_heads, tokens, attn.head_dim)
        return spec


def build_model(variant: str = "tiny", train: bool = False) -> AsymTrack:
    """A randomly initialised AsymTrack: deploy form in eval mode, or training form (OPE unfused)
    in train mode with ``train=True``. Load weights with ``load_checkpoint``."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}: expected one of {', '.join(VARIANTS)}")
    model = AsymTrack(VARIANTS[variant], deploy=not train)
    return model.train() if train else model.eval()


def count_flops(fn, *args, **kwargs) -> int:
    """FLOPs of one call, counting a multiply-add as 2 (torch's FlopCounterMode). Pass the
    search branch ``form=COUNTED`` so its attention products are counted (FlopCounterMode skips
    CPU ``scaled_dot_product_attention``)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter, torch.no_grad():
        fn(*args, **kwargs)
    return int(counter.get_total_flops())


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())

