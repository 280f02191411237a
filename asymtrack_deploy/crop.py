"""Crop arithmetic of the official tracker, in numpy and OpenCV only.

Shared by the tracker, export-time parity and calibration, benchmarks and the training pipeline,
so every crop in the toolkit is made the same way (``crop_rgb``: the crop in the graphs' RGB).
The rules (from the official ``sample_target``):

* side = ceil(sqrt(w * h) * factor); the crop is centred on the box centre with
  x1 = round(cx - side / 2) (Python's round: halves to even), likewise y1;
* outside the frame the crop is zero; on the right and bottom one more real pixel is dropped
  than needed (the official pad is ``x1 + side - W + 1``), a quirk kept for exact parity;
* the square is resized to ``out_size`` with bilinear interpolation (cv2.INTER_LINEAR), and the
  resize factor is out_size / side.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

__all__ = ["crop_rgb", "crop_square", "crop_window", "to_rgb", "map_box_back", "clip_box"]


def crop_window(box_xywh, factor: float) -> tuple[int, int, int]:
    """(x1, y1, side) of the square crop around a box."""
    x, y, w, h = (float(v) for v in box_xywh)
    side = max(1, math.ceil(math.sqrt(w * h) * factor))
    x1 = round(x + 0.5 * w - side * 0.5)
    y1 = round(y + 0.5 * h - side * 0.5)
    return x1, y1, side


def crop_square(frame: np.ndarray, box_xywh, factor: float, out_size: int) -> tuple[np.ndarray, float]:
    """Square crop around ``box_xywh`` (x, y, w, h in pixels), resized to out_size.

    Works on any channel count (the caller converts colours on the small crop, not the frame).
    Returns the crop and the resize factor. A box partly or wholly outside the frame gives a
    zero-padded crop, never an error.
    """
    x1, y1, side = crop_window(box_xywh, factor)
    height, width = frame.shape[:2]
    # The valid region, with the official one-pixel-short right/bottom edge.
    xs, ys = max(x1, 0), max(y1, 0)
    xe = min(x1 + side, width - 1) if x1 + side >= width else x1 + side
    ye = min(y1 + side, height - 1) if y1 + side >= height else y1 + side
    if xs == x1 and ys == y1 and xe == x1 + side and ye == y1 + side:
        window = frame[ys:ye, xs:xe]  # inside the frame: a view, no copy
    else:
        window = np.zeros((side, side) + frame.shape[2:], dtype=frame.dtype)
        if xe > xs and ye > ys:
            window[ys - y1 : ye - y1, xs - x1 : xe - x1] = frame[ys:ye, xs:xe]
    crop = cv2.resize(window, (out_size, out_size), interpolation=cv2.INTER_LINEAR)
    return crop, out_size / side


def to_rgb(crop: np.ndarray, color_order: str) -> np.ndarray:
    """A resized crop in the frame's colour layout -> contiguous RGB uint8 (H, W, 3)."""
    if crop.ndim == 2:
        return cv2.cvtColor(crop, cv2.COLOR_GRAY2RGB)
    channels = crop.shape[2]
    if channels == 1:
        return cv2.cvtColor(crop[:, :, 0], cv2.COLOR_GRAY2RGB)
    if channels == 4:
        code = cv2.COLOR_BGRA2RGB if color_order == "bgr" else cv2.COLOR_RGBA2RGB
        return cv2.cvtColor(crop, code)
    if color_order == "bgr":
        return cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)
    return np.ascontiguousarray(crop)


def crop_rgb(frame: np.ndarray, box_xywh, factor: float, out_size: int, color_order: str = "bgr"):
    """The crop the graphs take: ``crop_square`` of a frame in ``color_order`` ("bgr" as OpenCV
    reads, or "rgb"), converted to contiguous RGB uint8 (out_size, out_size, 3) on the small crop.
    Returns (crop, resize factor)."""
    crop, resize_factor = crop_square(frame, box_xywh, factor, out_size)
    return to_rgb(crop, color_order), resize_factor


def map_box_back(pred_cxcywh, prev_xywh, search_size: int, resize_factor: float) -> list[float]:
    """A normalised (cx, cy, w, h) in the search crop -> (x, y, w, h) in the frame."""
    cx, cy, w, h = (float(v) * search_size / resize_factor for v in pred_cxcywh)
    half = 0.5 * search_size / resize_factor
    cx += float(prev_xywh[0]) + 0.5 * float(prev_xywh[2]) - half
    cy += float(prev_xywh[1]) + 0.5 * float(prev_xywh[3]) - half
    return [cx - 0.5 * w, cy - 0.5 * h, w, h]


def clip_box(box_xywh, height: int, width: int, margin: float = 10) -> list[float]:
    """Keep at least ``margin`` pixels of the box inside the frame (the official clip). In a
    frame narrower or lower than ``margin`` the margin is the frame's side, so the box stays
    inside it (the official clip would put it outside)."""
    margin = min(float(margin), float(width), float(height))
    x, y, w, h = (float(v) for v in box_xywh)
    x1 = min(max(0.0, x), width - margin)
    x2 = min(max(margin, x + w), width)
    y1 = min(max(0.0, y), height - margin)
    y2 = min(max(margin, y + h), height)
    return [x1, y1, max(margin, x2 - x1), max(margin, y2 - y1)]
