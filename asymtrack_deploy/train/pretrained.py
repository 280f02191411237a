"""ImageNet-pretrained EfficientMod-xxs weights into AsymTrack's 3-stage backbone.

EfficientMod-xxs has four stages: 2, 2, 6 modulation blocks (the third followed by one attention
block, index 6) and 2 more in the fourth. AsymTrack keeps the first three stages; in the third it
keeps the first ``depths[2]`` modulation blocks (1 for tiny, 3 for small and base), then adds ETM
and OPE (initialised fresh) and places the pretrained attention block after them. So, as in the
official ``load_pretrained_partial``:

* ``layers.2.blocks.6.*`` -> ``backbone.layers.2.blocks.{depth + 2}.*`` (3 for tiny, 5 otherwise);
* ``layers.2.blocks.{depth}..5`` are dropped; so are the fourth stage, the final norm and the
  classifier;
* everything else keeps its name under ``backbone.``.

(For small and base the official code then loads the raw state dict a second time, unmapped and
non-strict; that would put a modulation block into the attention block's place and fails on the
shape of ``mlp.fc1`` in PyTorch, so only the mapped load is done here.)
"""
from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

import torch

__all__ = ["PretrainedError", "map_efficientmod_keys", "load_pretrained_backbone"]

_PRETRAINED_ATTENTION = 6
_STAGE3_BLOCK = re.compile(r"^layers\.2\.blocks\.(\d+)\.(.*)$")


class PretrainedError(ValueError):
    def __init__(self, path, problem: str):
        super().__init__(f"{path}: {problem}")


def map_efficientmod_keys(state_dict: dict[str, torch.Tensor], stage3_depth: int) -> dict[str, torch.Tensor]:
    """EfficientMod-xxs classifier keys -> AsymTrack backbone keys (see the module docstring)."""
    out = {}
    for key, value in state_dict.items():
        key = key.removeprefix("module.")
        if key.startswith(("layers.3.", "norm.", "head.")) or not key.startswith(("patch_embed.", "layers.")):
            continue
        m = _STAGE3_BLOCK.match(key)
        if m:
            block = int(m.group(1))
            if block == _PRETRAINED_ATTENTION:
                key = f"layers.2.blocks.{stage3_depth + 2}.{m.group(2)}"
            elif block >= stage3_depth:
                continue
        out["backbone." + key] = value
    return out


def _read(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise PretrainedError(path, "no such file")
    try:
        # timm training checkpoints store their argparse namespace next to the weights.
        with torch.serialization.safe_globals([argparse.Namespace]):
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise PretrainedError(path, f"cannot be read as a weights-only PyTorch file ({reason})") from exc
    for key in ("state_dict", "model", "net"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise PretrainedError(path, "expected a state dict ({name: tensor}, or one under 'state_dict')")
    return obj


def load_pretrained_backbone(model: torch.nn.Module, path: str | os.PathLike) -> dict[str, list[str]]:
    """Copy EfficientMod-xxs weights into ``model``'s backbone. Returns {'loaded': [...],
    'ignored': [...]} (file keys that have no place in AsymTrack, e.g. from another EfficientMod size).

    Raises ``PretrainedError`` when nothing fits or a matching key has another shape (not xxs).
    """
    path = Path(path)
    mapped = map_efficientmod_keys(_read(path), model.cfg.depths[2])
    own = model.state_dict()
    loaded = [k for k in mapped if k in own]
    ignored = [k for k in mapped if k not in own]
    wrong = [f"{k}: file {tuple(mapped[k].shape)} vs model {tuple(own[k].shape)}" for k in loaded
             if mapped[k].shape != own[k].shape]  # fmt: skip
    if wrong:
        first = "; ".join(wrong[:3])
        raise PretrainedError(path, f"not EfficientMod-xxs: {len(wrong)} shape mismatches (first: {first})")
    if not loaded:
        raise PretrainedError(path, "no EfficientMod backbone keys (expected patch_embed.*, layers.*)")
    with torch.no_grad():
        for k in loaded:
            own[k].copy_(mapped[k].to(own[k].dtype))
    return {"loaded": loaded, "ignored": ignored}
