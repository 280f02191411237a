"""The official training recipe (experiments/AsymTrack/*.yaml): optimiser, schedule, initialisation.

* AdamW, lr 4e-4, weight decay 1e-4; parameters whose name contains "backbone" get lr x0.1
  for tiny and base, x1 for small (BACKBONE_MULTIPLIER).
* Step decay x0.1 after 400 of 500 epochs; with fewer epochs the drop keeps the 4/5 proportion.
* Gradient clipping at norm 0.1; loss GIoU x2 + L1 x5 (see ``losses``).
* FREEZE_BACKBONE_BN: the official config defines it but no code reads it, the backbone has no
  BatchNorm (LayerNorm only) and the head is built with trainable BatchNorm. The equivalent is
  to leave every BatchNorm training; ``freeze_backbone_batchnorm`` freezes BatchNorm layers under
  ``backbone.``, and there are none, which the tests check.
* Initialisation: the official backbone applies truncated-normal (std 0.02) to Linear weights,
  zero biases, and LayerNorm (1, 0); the neck and head keep PyTorch defaults.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["Recipe", "RECIPES", "build_optimizer", "lr_scale", "set_epoch_lr", "drop_epoch", "init_weights",
           "freeze_backbone_batchnorm"]  # fmt: skip


@dataclass(frozen=True)
class Recipe:
    batch_size: int
    backbone_lr_multiplier: float
    datasets: tuple[str, ...]
    lr: float = 4e-4
    weight_decay: float = 1e-4
    epochs: int = 500
    lr_drop_epoch: int = 400
    lr_decay: float = 0.1
    grad_clip_norm: float = 0.1
    samples_per_epoch: int = 60000
    max_gap: int = 200
    workers: int = 8


_FULL_MIX = ("lasot", "got10k", "coco", "trackingnet")
# base.yaml says BATCH_SIZE 4 (per GPU); it is kept as published, pass --batch-size to change it.
RECIPES: dict[str, Recipe] = {
    "tiny": Recipe(batch_size=64, backbone_lr_multiplier=0.1, datasets=("lasot",)),
    "small": Recipe(batch_size=64, backbone_lr_multiplier=1.0, datasets=_FULL_MIX),
    "base": Recipe(batch_size=4, backbone_lr_multiplier=0.1, datasets=_FULL_MIX),
}


def build_optimizer(model: nn.Module, recipe: Recipe, lr: float | None = None,
                    backbone_lr_multiplier: float | None = None) -> torch.optim.AdamW:  # fmt: skip
    """AdamW with two groups: the rest (base lr) and the backbone (lr x multiplier). The recipe's
    x0.1 assumes an ImageNet-pretrained backbone; from scratch, x1 learns far faster."""
    lr = recipe.lr if lr is None else lr
    multiplier = recipe.backbone_lr_multiplier if backbone_lr_multiplier is None else backbone_lr_multiplier
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    groups = [
        {"params": [p for n, p in named if "backbone" not in n], "lr": lr, "base_lr": lr},
        {
            "params": [p for n, p in named if "backbone" in n],
            "lr": lr * multiplier,
            "base_lr": lr * multiplier,
        },
    ]
    return torch.optim.AdamW(groups, lr=lr, weight_decay=recipe.weight_decay)


def drop_epoch(epochs: int, recipe: Recipe) -> int:
    """The epoch after which lr drops: 400 of 500, or the same 4/5 of a shorter run."""
    return max(1, round(epochs * recipe.lr_drop_epoch / recipe.epochs))


def lr_scale(epoch: int, epochs: int, recipe: Recipe) -> float:
    """Multiplier for epoch ``epoch`` (1-based), as StepLR stepped once per finished epoch."""
    return recipe.lr_decay ** ((epoch - 1) // drop_epoch(epochs, recipe))


def set_epoch_lr(optimizer: torch.optim.Optimizer, epoch: int, epochs: int, recipe: Recipe) -> None:
    scale = lr_scale(epoch, epochs, recipe)
    for group in optimizer.param_groups:
        group["lr"] = group["base_lr"] * scale


@torch.no_grad()
def init_weights(model: nn.Module) -> nn.Module:
    """The official backbone initialisation (the neck and head keep PyTorch defaults)."""
    for module in model.backbone.modules():
        if isinstance(module, nn.Linear):
            nn.init.trunc_normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    return model


def freeze_backbone_batchnorm(model: nn.Module) -> list[str]:
    """Put BatchNorm layers of the backbone in eval mode with frozen affine parameters.

    Call after every ``model.train()``. Returns the names frozen (empty for AsymTrack, whose
    only BatchNorm layers are in the head and train normally, as in the official code).
    """
    frozen = []
    for name, module in model.named_modules():
        if name.startswith("backbone") and isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()
            for p in module.parameters():
                p.requires_grad_(False)
            frozen.append(name)
    return frozen
