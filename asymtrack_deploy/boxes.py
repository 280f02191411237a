"""Boxes (x, y, w, h in pixels): validation, jitter and overlap, in numpy only."""
from __future__ import annotations

import math

import numpy as np

__all__ = ["check_box", "jitter_box", "box_iou"]


def check_box(box, what: str = "box") -> tuple[float, float, float, float]:
    """Four finite numbers with w, h > 0, as floats; a ValueError saying what is wrong otherwise."""
    try:
        values = tuple(float(v) for v in box)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be four numbers (x, y, w, h), got {box!r}") from None
    if len(values) != 4:
        raise ValueError(f"{what} must be four numbers (x, y, w, h), got {len(values)}: {box!r}")
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"{what} values must be finite, got {values}")
    if values[2] <= 0 or values[3] <= 0:
        raise ValueError(f"{what} width and height must be > 0, got w={values[2]}, h={values[3]}")
    return values


def jitter_box(box, rng: np.random.Generator, center: float, scale: float, law: str = "official") -> list[float]:
    """A randomly moved and rescaled copy of ``box``.

    ``law="official"``: AsymTrack's training jitter (size times exp(N(0, scale)) per side, centre
    moved uniformly within +-center/2 of the new box's sqrt(area)). ``law="uniform"``: a gentler
    one for test crops (centre moved by up to +-center of each side, both sides times
    exp(U(-scale, scale)))."""
    x, y, w, h = (float(v) for v in box)
    if law == "official":
        size = np.array([w, h]) * np.exp(rng.standard_normal(2) * scale)
        offset = math.sqrt(size[0] * size[1]) * center * (rng.random(2) - 0.5)
    elif law == "uniform":
        offset = rng.uniform(-center, center, 2) * (w, h)
        size = np.array([w, h]) * float(np.exp(rng.uniform(-scale, scale)))
    else:
        raise ValueError(f"jitter law must be 'official' or 'uniform', got {law!r}")
    cx, cy = x + w / 2 + offset[0], y + h / 2 + offset[1]
    return [float(cx - size[0] / 2), float(cy - size[1] / 2), float(size[0]), float(size[1])]


def box_iou(a, b) -> float:
    """IoU of two (x, y, w, h) boxes (continuous coordinates)."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return float(inter / union) if union > 0 else 0.0
