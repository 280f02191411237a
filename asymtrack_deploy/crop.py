"""Crop arithmetic of the official tracker, in numpy and OpenCV only.

Shared by the tracker, export-time parity and calibration, benchmarks and the training pipeline,
so every crop in the toolkit is made the same way (``crop_rgb``: the crop in the graphs' RGB).
The rules (from the official ``sample_target``):

* side = ceil(sqrt(w * h) * factor); the crop is centred on the box centre with
  x1 = round(cx - side / 2) (Python's round: halves to even), likewise y1;
* outside the frame the crop is zero; on the right and bottom one more real pixel is dropped
  than needed (the official pad is ``x1 + side - W + 1``), a quirk kept for exact parity;
* the square is resized to ``out_size`` with bilinear interpolation: OpenCV's uint8
  INTER_LINEAR as x86 builds compute it (``resize_linear_u8``), and the resize factor is
  out_size / side.

The resize is defined here, not left to OpenCV: the aarch64 OpenCV wheels compute INTER_LINEAR
differently (off by 1 in 16-19 % of pixels), so a crop, and with it every box, would depend on the
CPU. ``resize_linear_u8`` states x86 OpenCV's arithmetic in numpy (float32 source coordinates,
11-bit weights, its integer rounding), which gives the same bytes on every CPU; where OpenCV's own
resize is proven to give those bytes (x86-64, checked at first use), it is called instead, being
several times faster (see ``resize_linear_u8``).

``crop_rgb``, ``map_box_back`` and ``clip_box`` take the rules record (``tracker_spec.StepRules``:
the manifest's, or the model config's), never loose constants; ``crop_square`` is the geometry
under them, by factor and size. ``crop_square`` builds the zero-padded square as written (the reference). The tracker passes a
``CropCanvas``, which gives the resize the same pixels without allocating and zeroing the square
for every frame: the per-frame cost no longer grows with the box (see ``CropCanvas``).
"""
from __future__ import annotations

import functools
import math
import platform

import cv2
import numpy as np

from .tracker_spec import CropRule, StepRules

__all__ = ["crop_rgb", "crop_square", "crop_window", "to_rgb", "map_box_back", "clip_box", "CropCanvas", "rows_read",
           "resize_linear_u8"]


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
    return resize_linear_u8(window, out_size, out_size), out_size / side


def _inside(frame: np.ndarray, x1: int, y1: int, side: int) -> bool:
    """The window lies in the frame short of its last row and column (the official crop drops
    those whenever the window reaches them): a view, no padding."""
    return x1 >= 0 and y1 >= 0 and x1 + side < frame.shape[1] and y1 + side < frame.shape[0]


@functools.lru_cache(maxsize=64)
def rows_read(side: int, out_size: int) -> np.ndarray | None:
    """The window rows (or columns) that the uint8 INTER_LINEAR resize from ``side`` to
    ``out_size`` reads, sorted; None when it reads all of them (``side <= 2 * out_size``: the
    two rows under each output row cover the window, and an exact 2x downscale averages them
    all). Output row d reads rows floor(f) and floor(f) + 1 (clamped), f = float32((d + 0.5) *
    side / out_size - 0.5): the coordinates cv::resize computes (and runtime-c reproduces)."""
    if side <= 2 * out_size:
        return None
    first, _ = _source_coordinates(side, out_size)
    read = np.zeros(side + 1, dtype=bool)
    read[np.clip(first, 0, side - 1)] = True
    read[np.clip(first + 1, 0, side - 1)] = True
    rows = np.flatnonzero(read[:side])
    rows.flags.writeable = False
    return rows


# ---- the resize ---------------------------------------------------------------------------------

_COEF_ONE = np.float32(1 << 11)  # OpenCV's INTER_RESIZE_COEF_BITS = 11


def resize_linear_u8(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """``cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)`` for uint8 images,
    with the bytes x86 OpenCV gives, on every CPU.

    OpenCV's aarch64 build gives other bytes (off by 1 in 16-19 % of pixels), so the definition
    is ``_resize_linear_numpy``, whose integer and single-rounding float steps are the same on
    every CPU. OpenCV's own resize, several times faster, is used where it is shown to give the
    definition's bytes: on x86-64, when a probe at first use agrees (``_opencv_is_exact``; the
    tests compare the two over thousands of random sizes). Shapes as cv2.resize returns them
    (an (h, w, 1) image gives (height, width)).
    """
    if image.dtype != np.uint8:
        raise ValueError(f"resize_linear_u8 takes uint8 images, got {image.dtype}")
    if _opencv_is_exact():
        return cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)
    return _resize_linear_numpy(image, width, height)


@functools.lru_cache(maxsize=256)
def _source_coordinates(size: int, out_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Per output index d: floor(f) and the float32 fraction f - floor(f), f = float32((d + 0.5)
    * scale - 0.5) with scale = 1 / (out_size / size) in double, as cv::resize computes them
    (numpy rounds each operation once: no fused multiply-add, which would change f)."""
    scale = 1.0 / (out_size / size)
    f = ((np.arange(out_size) + 0.5) * scale - 0.5).astype(np.float32)
    first = np.floor(f)
    return first.astype(np.intp), f - first


def _fixed_weights(fraction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 11-bit weights of (1 - f, f), rounded half to even from float32 as OpenCV does."""
    return (np.rint((np.float32(1) - fraction) * _COEF_ONE).astype(np.int32),
            np.rint(fraction * _COEF_ONE).astype(np.int32))


@functools.lru_cache(maxsize=64)
def _column_plan(size: int, out_size: int, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Byte offsets (within a row) of the two pixels under each output column, both taps
    side by side, and their weights: columns past the edges clamp with fraction 0."""
    first, fraction = _source_coordinates(size, out_size)
    fraction = np.where((first < 0) | (first >= size - 1), np.float32(0), fraction)
    first = np.clip(first, 0, size - 1)
    second = np.minimum(first + 1, size - 1)
    alpha0, alpha1 = _fixed_weights(fraction)
    channel = np.arange(channels)
    offsets = np.concatenate([(first[:, None] * channels + channel).ravel(),
                              (second[:, None] * channels + channel).ravel()])
    weights = np.concatenate([np.repeat(alpha0, channels), np.repeat(alpha1, channels)])
    return offsets, weights


@functools.lru_cache(maxsize=64)
def _row_plan(size: int, out_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The rows read (sorted), and per output row the index among them of its two rows (clamped)
    and their weights (rows keep the unclamped fraction, as OpenCV does)."""
    first, fraction = _source_coordinates(size, out_size)
    upper, lower = np.clip(first, 0, size - 1), np.clip(first + 1, 0, size - 1)
    rows, index = np.unique(np.concatenate([upper, lower]), return_inverse=True)
    beta0, beta1 = _fixed_weights(fraction)
    return rows, index[:out_size], index[out_size:], beta0[:, None], beta1[:, None]


def _resize_linear_numpy(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """x86 OpenCV's uint8 INTER_LINEAR, step for step: a copy at the same size; an exact 2x
    downscale averaged over 2 x 2 pixels with (sum + 2) >> 2 (OpenCV hands it to INTER_AREA);
    otherwise a horizontal pass in int32 (a0 * p0 + a1 * p1) over only the rows read, then the
    vertical pass of its SIMD code, ((b0 * (h0 >> 4)) >> 16) + ((b1 * (h1 >> 4)) >> 16) + 2 >> 2."""
    in_height, in_width = image.shape[:2]
    channels = image.shape[2] if image.ndim == 3 else 1
    out_shape = (height, width, channels) if channels > 1 else (height, width)
    if (in_width, in_height) == (width, height):
        return image.reshape(in_height, in_width, channels).reshape(out_shape).copy()
    if 1.0 / (width / in_width) == 2.0 and 1.0 / (height / in_height) == 2.0:
        blocks = image.reshape(height, 2, width, 2, channels).astype(np.uint16).sum(axis=(1, 3))
        return ((blocks + 2) >> 2).astype(np.uint8).reshape(out_shape)
    offsets, weights = _column_plan(in_width, width, channels)
    rows, upper, lower, beta0, beta1 = _row_plan(in_height, height)
    pixel_rows = image.reshape(in_height, in_width * channels) if image.flags.c_contiguous else None
    if pixel_rows is None:  # a view into a frame: its rows as byte rows, without a copy
        pixel_rows = _byte_rows(image, channels)
    taps = np.multiply(np.take(pixel_rows[rows], offsets, axis=1), weights, dtype=np.int32)
    horizontal = taps[:, : width * channels]
    horizontal += taps[:, width * channels :]
    horizontal >>= 4
    top = horizontal[upper]
    top *= beta0
    top >>= 16
    bottom = horizontal[lower]
    bottom *= beta1
    bottom >>= 16
    top += bottom
    top += 2
    top >>= 2
    return top.astype(np.uint8).reshape(out_shape)


def _byte_rows(image: np.ndarray, channels: int) -> np.ndarray:
    """(height, width * channels) rows of an image whose pixels lie contiguous within a row
    (a window cut from a frame); other layouts are copied first."""
    if image.strides[1] != channels or (image.ndim == 3 and image.strides[2] != 1) or image.strides[0] < 0:
        image = np.ascontiguousarray(image)
        return image.reshape(image.shape[0], -1)
    return np.lib.stride_tricks.as_strided(image, shape=(image.shape[0], image.shape[1] * channels),
                                           strides=(image.strides[0], 1), writeable=False)


_PROBES = ((700, 256, 3), (301, 256, 3), (97, 256, 3), (59, 128, 3), (513, 256, 3), (1000, 384, 3),
           (300, 7, 3), (255, 128, 1), (333, 256, 4), (130, 128, 3))


@functools.lru_cache(maxsize=1)
def _opencv_is_exact() -> bool:
    """Whether this OpenCV's INTER_LINEAR gives the definition's bytes: on x86-64 only (where the
    tests show it over thousands of random sizes), confirmed once per process on probes of
    downscales, upscales and channel counts, so a build that differs falls back to numpy."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    rng = np.random.default_rng(0)
    for side, out_size, channels in _PROBES:
        image = rng.integers(0, 256, size=(side + 3, side, channels), dtype=np.uint8)
        want = _resize_linear_numpy(image, out_size, out_size + 1)
        if not np.array_equal(cv2.resize(image, (out_size, out_size + 1), interpolation=cv2.INTER_LINEAR), want):
            return False
    return True


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
