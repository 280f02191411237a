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

``crop_rgb``, ``map_box_back`` and ``clip_box`` take the rules record (``tracker_spec.StepRules``:
the manifest's, or the model config's), never loose constants; ``crop_square`` is the geometry
under them, by factor and size. ``crop_square`` builds the zero-padded square as written (the reference). The tracker passes a
``CropCanvas``, which gives the resize the same pixels without allocating and zeroing the square
for every frame: the per-frame cost no longer grows with the box (see ``CropCanvas``).
"""
from __future__ import annotations

import functools
import math

import cv2
import numpy as np

from .tracker_spec import CropRule, StepRules

__all__ = ["crop_rgb", "crop_square", "crop_window", "to_rgb", "map_box_back", "clip_box", "CropCanvas", "rows_read"]


def crop_window(box_xywh, factor: float) -> tuple[int, int, int]:
    """(x1, y1, side) of the square crop around a box."""
    x, y, w, h = (float(v) for v in box_xywh)
    side = max(1, math.ceil(math.sqrt(w * h) * factor))
    x1 = round(x + 0.5 * w - side * 0.5)
    y1 = round(y + 0.5 * h - side * 0.5)
    return x1, y1, side


def crop_square(frame: np.ndarray, box_xywh, factor: float, out_size: int,
                canvas: CropCanvas | None = None) -> tuple[np.ndarray, float]:
    """Square crop around ``box_xywh`` (x, y, w, h in pixels), resized to out_size.

    Works on any channel count (the caller converts colours on the small crop, not the frame).
    Returns the crop and the resize factor. A box partly or wholly outside the frame gives a
    zero-padded crop, never an error. ``canvas``: where a window that reaches past the frame is
    read from (the same pixels, bit for bit, without building the padded square).
    """
    x1, y1, side = crop_window(box_xywh, factor)
    if _inside(frame, x1, y1, side):
        window = frame[y1 : y1 + side, x1 : x1 + side]  # a view, no copy
    elif canvas is not None:
        window = canvas.window(frame, x1, y1, side, out_size)
    else:
        window = _padded_window(frame, x1, y1, side)
    crop = cv2.resize(window, (out_size, out_size), interpolation=cv2.INTER_LINEAR)
    return crop, out_size / side


def _inside(frame: np.ndarray, x1: int, y1: int, side: int) -> bool:
    """The window lies in the frame short of its last row and column (the official crop drops
    those whenever the window reaches them): a view, no padding."""
    return x1 >= 0 and y1 >= 0 and x1 + side < frame.shape[1] and y1 + side < frame.shape[0]


@functools.lru_cache(maxsize=64)
def rows_read(side: int, out_size: int) -> np.ndarray | None:
    """The window rows (or columns) that OpenCV's uint8 INTER_LINEAR resize from ``side`` to
    ``out_size`` reads, sorted; None when it reads all of them (``side <= 2 * out_size``: the
    two rows under each output row cover the window, and an exact 2x downscale averages them
    all). Output row d reads rows floor(f) and floor(f) + 1 (clamped), f = float32((d + 0.5) *
    side / out_size - 0.5): the coordinates cv::resize computes (and runtime-c reproduces)."""
    if side <= 2 * out_size:
        return None
    scale = 1.0 / (out_size / side)
    first = np.floor(((np.arange(out_size) + 0.5) * scale - 0.5).astype(np.float32)).astype(np.intp)
    read = np.zeros(side + 1, dtype=bool)
    read[np.clip(first, 0, side - 1)] = True
    read[np.clip(first + 1, 0, side - 1)] = True
    rows = np.flatnonzero(read[:side])
    rows.flags.writeable = False
    return rows


class CropCanvas:
    """The zero-padded frame that every padded window is a view of, kept between frames.

    Without it, a window that reaches past the frame is a new zero array of side x side pixels
    (side = 4 x the box's geometric mean size: 2600 x 2600 x 3 bytes for a big box in a VGA
    frame) into which the frame's part is copied, every frame. The canvas holds the frame minus
    its last row and column (the official crop never shows them: see the module docstring) at a
    fixed place inside zero margins as wide as the windows have needed, so a window is a view
    into it, and the only per-frame work is copying in the frame rows that the resize will read
    (``rows_read``), at most 2 x out_size of them. Rows not copied this frame may hold an
    earlier frame, but the resize never reads them; the margins are never written, so they
    stay zero (and, allocated lazily by the OS, cost no memory until read).

    One canvas per tracker (not thread-safe); ``max_bytes`` bounds its size, past which a
    window is built the reference way.
    """

    def __init__(self, max_bytes: int = 512 * 2**20):
        self.max_bytes = max_bytes
        self._canvas: np.ndarray | None = None
        self._margins = (0, 0, 0, 0)  # top, left, bottom, right
        self._made_for: tuple | None = None  # the frames' shape and dtype

    def window(self, frame: np.ndarray, x1: int, y1: int, side: int, out_size: int) -> np.ndarray:
        """The padded side x side window at (x1, y1), as the resize to ``out_size`` reads it."""
        valid_h, valid_w = frame.shape[0] - 1, frame.shape[1] - 1
        canvas = self._fit(frame, x1, y1, side)
        if canvas is None:  # beyond max_bytes: the reference square
            return _padded_window(frame, x1, y1, side)
        top, left = self._margins[:2]
        ys, ye = max(y1, 0), min(y1 + side, valid_h)
        xs, xe = max(x1, 0), min(x1 + side, valid_w)
        if ye > ys and xe > xs:
            rows = rows_read(side, out_size)
            if rows is not None:
                rows = rows[(rows >= ys - y1) & (rows < ye - y1)] + y1
            if rows is None or 2 * len(rows) > ye - ys:  # dense: one block copy is faster
                canvas[top + ys : top + ye, left + xs : left + xe] = frame[ys:ye, xs:xe]
            else:
                canvas[top + rows, left + xs : left + xe] = frame[rows, xs:xe]
        return canvas[top + y1 : top + y1 + side, left + x1 : left + x1 + side]

    def _fit(self, frame: np.ndarray, x1: int, y1: int, side: int) -> np.ndarray | None:
        """The canvas, reallocated (zero) if the frame's shape changed or the window needs wider
        margins; None if that would exceed ``max_bytes``."""
        valid_h, valid_w = frame.shape[0] - 1, frame.shape[1] - 1
        need = (max(0, -y1), max(0, -x1), max(0, y1 + side - valid_h), max(0, x1 + side - valid_w))
        same_frames = self._made_for == (frame.shape, frame.dtype)
        if same_frames and all(have >= want for have, want in zip(self._margins, need)):
            return self._canvas
        margins = tuple(map(max, self._margins, need)) if same_frames else need
        size = (margins[0] + valid_h + margins[2], margins[1] + valid_w + margins[3]) + frame.shape[2:]
        if math.prod(size) * frame.itemsize > self.max_bytes:
            return None
        self._canvas, self._margins = np.zeros(size, dtype=frame.dtype), margins
        self._made_for = (frame.shape, frame.dtype)
        return self._canvas


def _padded_window(frame: np.ndarray, x1: int, y1: int, side: int) -> np.ndarray:
    """The reference zero-padded square (see ``crop_square``)."""
    height, width = frame.shape[:2]
    xs, ys = max(x1, 0), max(y1, 0)
    xe = min(x1 + side, width - 1) if x1 + side >= width else x1 + side
    ye = min(y1 + side, height - 1) if y1 + side >= height else y1 + side
    window = np.zeros((side, side) + frame.shape[2:], dtype=frame.dtype)
    if xe > xs and ye > ys:
        window[ys - y1 : ye - y1, xs - x1 : xe - x1] = frame[ys:ye, xs:xe]
    return window


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


def crop_rgb(frame: np.ndarray, box_xywh, rule: CropRule, color_order: str = "bgr",
             canvas: CropCanvas | None = None):
    """The crop the graphs take, by one branch's ``rule`` (``StepRules.template`` or
    ``.search``; training passes jittered ones): ``crop_square`` of a frame in ``color_order``
    ("bgr" as OpenCV reads, or "rgb"), converted to contiguous RGB uint8 (size, size, 3) on the
    small crop. Returns (crop, resize factor)."""
    crop, resize_factor = crop_square(frame, box_xywh, rule.factor, rule.size, canvas)
    return to_rgb(crop, color_order), resize_factor


def map_box_back(pred_cxcywh, prev_xywh, rules: StepRules, resize_factor: float) -> list[float]:
    """A (cx, cy, w, h) normalised by the search size (``rules.tracker.box_normalized_by``),
    predicted in the search crop cut around ``prev_xywh`` -> (x, y, w, h) in the frame."""
    search_size = rules.search.size
    cx, cy, w, h = (float(v) * search_size / resize_factor for v in pred_cxcywh)
    half = 0.5 * search_size / resize_factor
    cx += float(prev_xywh[0]) + 0.5 * float(prev_xywh[2]) - half
    cy += float(prev_xywh[1]) + 0.5 * float(prev_xywh[3]) - half
    return [cx - 0.5 * w, cy - 0.5 * h, w, h]


def clip_box(box_xywh, height: int, width: int, rules: StepRules) -> list[float]:
    """Keep at least ``rules.clip_margin`` pixels of the box inside the frame (the official
    clip, ``keep_margin_in_frame``). In a frame narrower or lower than the margin the margin is
    the frame's side, so the box stays inside it (the official clip would put it outside)."""
    margin = min(float(rules.clip_margin), float(width), float(height))
    x, y, w, h = (float(v) for v in box_xywh)
    x1 = min(max(0.0, x), width - margin)
    x2 = min(max(margin, x + w), width)
    y1 = min(max(0.0, y), height - margin)
    y2 = min(max(margin, y + h), height)
    return [x1, y1, max(margin, x2 - x1), max(margin, y2 - y1)]
