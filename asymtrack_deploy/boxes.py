"""Boxes (x, y, w, h in pixels): the one input check, the validity rule and the jitter laws.

numpy only, so the tracker, export, evaluation and training all check and jitter boxes the
same way.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["check_box", "check_box_in_frame", "valid_boxes", "jitter_box", "box_iou", "CENTER_JITTER", "SCALE_JITTER",
           "MAX_BOX_TO_FRAME"]

CENTER_JITTER = 3.5  # official DATA.SEARCH.CENTER_JITTER
SCALE_JITTER = 0.5  # official DATA.SEARCH.SCALE_JITTER
# A starting box may be at most this many times the frame's width and height: a larger one is
# not a target in the picture, and its crop (4 times its side) would need gigabytes.
MAX_BOX_TO_FRAME = 2.0


def check_box(box, what: str = "box") -> tuple[float, float, float, float]:
    """``box`` as four floats, or a ValueError that starts with ``what`` and says what is wrong."""
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


def check_box_in_frame(box, width: int, height: int, what: str = "box") -> tuple[float, float, float, float]:
    """``check_box``, and the box overlaps the ``width`` x ``height`` frame and is at most
    ``MAX_BOX_TO_FRAME`` times its width and height: the rule for a box a tracker starts from
    (the C library applies the same one)."""
    x, y, w, h = values = check_box(box, what)
    if w > MAX_BOX_TO_FRAME * width or h > MAX_BOX_TO_FRAME * height:
        raise ValueError(f"{what} ({w:g} x {h:g}) is too large for the {width} x {height} frame: "
                         f"at most {MAX_BOX_TO_FRAME:g} times its width and height")
    if x >= width or y >= height or x + w <= 0 or y + h <= 0:
        raise ValueError(f"{what} ({x:g}, {y:g}, {w:g}, {h:g}) is outside the {width} x {height} frame: "
                         "it must overlap the frame")
    return values


def valid_boxes(boxes) -> np.ndarray:
    """Per row of an (N, 4) array: finite, with positive width and height (a frame a tracker
    or a training pair can use)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.isfinite(boxes).all(axis=1) & (boxes[:, 2] > 0) & (boxes[:, 3] > 0)


def jitter_box(
    box, rng: np.random.Generator, center: float = CENTER_JITTER, scale: float = SCALE_JITTER, uniform: bool = False
) -> np.ndarray:
    """A box moved and resized at random, as (x, y, w, h) float64.

    The default is the official training law (``DATA.SEARCH``): each side times
    exp(N(0, scale)), then the centre moved uniformly within +-center/2 of the new box's
    sqrt(area). Training pairs and int8 calibration crops use it.

    ``uniform=True`` is the gentle law of the export-time parity crops: the centre moved
    uniformly within +-center of the box's width and height, both sides times one factor
    exp(U(-scale, scale)).
    """
    if uniform:
        return _uniform_jitter(box, rng, center, scale)
    x, y, w, h = (float(v) for v in box)
    size = np.array([w, h]) * np.exp(rng.standard_normal(2) * scale)
    offset = math.sqrt(float(size[0] * size[1])) * center
    centre = np.array([x + 0.5 * w, y + 0.5 * h]) + offset * (rng.random(2) - 0.5)
    return np.concatenate([centre - 0.5 * size, size])


def _uniform_jitter(box, rng: np.random.Generator, center: float, scale: float) -> np.ndarray:
    x, y, w, h = (float(v) for v in box)
    dx, dy = rng.uniform(-center, center, 2) * (w, h)
    s = float(np.exp(rng.uniform(-scale, scale)))
    cx, cy = x + w / 2 + dx, y + h / 2 + dy
    return np.array([cx - w * s / 2, cy - h * s / 2, w * s, h * s])


def box_iou(a, b) -> float:
    """IoU of two (x, y, w, h) boxes (continuous coordinates)."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return float(inter / union) if union > 0 else 0.0
