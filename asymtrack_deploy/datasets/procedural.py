"""Procedural tracking sequences composed from real photographs, with exact ground truth.

A target cut from one photograph (a face, a coin, a cat's eye, a wheel, a rocket...) moves over
another photograph with a panning, zooming camera. Along the way it changes scale, aspect and
rotation, gets motion blur when it moves fast, the light changes (slow drifts and sudden steps,
white balance), the camera defocuses for a while, occluders cut from other photographs sweep across
it (at most about 70% of it is covered) and look-alike distractors (the same object recoloured, or
another member of its family: other coins, the other eye, the other wheel) move nearby.

The photographs are the sample images that ship inside scikit-image (no download). Everything is
a pure function of (seed, sequence index, frame index): a frame renders on its own, without its
predecessors, so the set serves both as a training source (``ProceduralDataset``, ``--data
procedural=SEED``) and as an evaluation set, in memory (``procedural_sequence``,
``generate_sequences``: sequences whose frames render on demand) or written as
``<seq>/img/00000001.jpg`` + ``<seq>/groundtruth.txt`` (``render_sequences``); an evaluation
root records the set it holds in ``procedural.json`` (``procedural_root``).

numpy and OpenCV; scikit-image is imported when the first photograph is needed.

The ground truth is the tight box (x, y, w, h) of the target's rendered mask (before motion
blur), clipped to the frame: exact to the pixel by construction.
"""
from __future__ import annotations

import functools
import json
import math
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..outputs import other_process_alive
from .errors import DatasetError
from .sequence import Sequence, SequenceList

__all__ = [
    "FRAME_SIZE",
    "SPRITES",
    "ProceduralDataset",
    "procedural_sequence",
    "generate_sequences",
    "render_sequences",
    "procedural_root",
    "ROOT_RECORD",
    "make_script",
    "render_frame",
    "target_box",
    "photo",
]

FRAME_SIZE = (640, 480)  # width, height
# Range of a target's side (square root of its area) at the start, drawn log-uniformly. Up to half
# the frame height, so that training also sees close-up targets whose search crop reaches far past
# the frame edge, as in real video (box.mp4's box is 260 px).
TARGET_SIDE = (36.0, 240.0)


@dataclass(frozen=True)
class SpriteSpec:
    """Where a target lies in a sample photograph, its outline, and its look-alike family."""

    image: str
    box: tuple[int, int, int, int]  # x, y, w, h in the photograph
    shape: str  # "ellipse", "rect" or "alpha" (the photograph's own alpha channel)
    family: str


_COINS = [
    (20, 30, 50, 45), (80, 35, 45, 45), (130, 25, 50, 50), (190, 28, 55, 50), (255, 33, 45, 45),
    (303, 10, 60, 70), (25, 100, 45, 50), (82, 100, 50, 50), (130, 105, 45, 45), (185, 100, 45, 50),
    (245, 93, 50, 52), (315, 100, 40, 45), (25, 175, 40, 45), (78, 172, 45, 50), (135, 175, 40, 45),
    (188, 165, 50, 55), (250, 170, 50, 55), (315, 155, 55, 65), (15, 230, 55, 55), (92, 245, 45, 45),
    (140, 235, 60, 55), (220, 240, 50, 50), (270, 238, 55, 55), (330, 245, 50, 45),
]  # fmt: skip

SPRITES: tuple[SpriteSpec, ...] = (
    SpriteSpec("astronaut", (150, 10, 160, 190), "ellipse", "face"),
    SpriteSpec("astronaut", (275, 340, 230, 172), "ellipse", "helmet"),
    SpriteSpec("astronaut", (132, 345, 82, 80), "ellipse", "patch"),
    SpriteSpec("astronaut", (350, 0, 120, 285), "rect", "shuttle"),
    SpriteSpec("chelsea", (133, 82, 78, 68), "ellipse", "eye"),
    SpriteSpec("chelsea", (296, 105, 50, 60), "ellipse", "eye"),
    SpriteSpec("chelsea", (195, 165, 120, 110), "ellipse", "nose"),
    SpriteSpec("coffee", (170, 15, 250, 230), "ellipse", "cup"),
    SpriteSpec("coffee", (75, 60, 405, 330), "ellipse", "saucer"),
    SpriteSpec("rocket", (302, 125, 42, 285), "rect", "rocket"),
    SpriteSpec("logo", (0, 0, 500, 500), "alpha", "logo"),
    SpriteSpec("colorwheel", (0, 0, 371, 370), "ellipse", "wheel"),
    SpriteSpec("motorcycle", (507, 122, 60, 68), "ellipse", "headlight"),
    SpriteSpec("motorcycle", (118, 245, 160, 160), "ellipse", "tyre"),
    SpriteSpec("motorcycle", (510, 265, 175, 190), "ellipse", "tyre"),
    SpriteSpec("motorcycle", (95, 75, 600, 370), "rect", "motorcycle"),
    *(SpriteSpec("coins", box, "ellipse", "coin") for box in _COINS),
)

BACKGROUNDS = (
    "astronaut", "coffee", "rocket", "chelsea", "motorcycle", "hubble_deep_field", "immunohistochemistry",
    "retina", "brick", "grass", "gravel", "moon", "camera", "coins", "page", "text", "clock",
)  # fmt: skip


# --------------------------------------------------------------------------------------------
# Photographs and sprites
# --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def photo(name: str) -> np.ndarray:
    """A scikit-image sample photograph as BGR uint8 (BGRA for 'logo'), loaded once per process."""
    try:
        from skimage import data
    except ImportError as exc:
        raise ImportError(
            "the procedural dataset composes scikit-image's sample photographs: pip install scikit-image "
            "(or pip install 'asymtrack-deploy[train]')"
        ) from exc
    image = data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(data, name)()
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = (image.astype(np.float64) * (255.0 / max(float(image.max()), 1e-8))).astype(np.uint8)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_RGBA2BGRA)
    return cv2.cvtColor(image, cv2.COLOR_RGB2BGR)


@functools.lru_cache(maxsize=None)
def _sprite(index: int, flip: bool) -> tuple[np.ndarray, np.ndarray]:
    """(image float32 BGR, mask float32 in [0, 1]) of one sprite."""
    spec = SPRITES[index]
    x, y, w, h = spec.box
    region = photo(spec.image)[y : y + h, x : x + w]
    if spec.shape == "alpha":
        image, mask = region[:, :, :3], region[:, :, 3].astype(np.float32) / 255.0
    else:
        image, mask = region[:, :, :3], _outline(spec.shape, region.shape[1], region.shape[0])
    if flip:
        image, mask = image[:, ::-1], mask[:, ::-1]
    return np.ascontiguousarray(image, dtype=np.float32), np.ascontiguousarray(mask)


def _outline(shape: str, w: int, h: int) -> np.ndarray:
    """An anti-aliased ellipse, or a rectangle with slightly rounded corners."""
    canvas = np.zeros((h * 4, w * 4), np.uint8)
    if shape == "ellipse":
        cv2.ellipse(canvas, (w * 2, h * 2), (w * 2 - 2, h * 2 - 2), 0, 0, 360, 255, -1, cv2.LINE_AA)
    else:
        r = max(2, min(w, h) // 2)
        cv2.rectangle(canvas, (r, 0), (w * 4 - 1 - r, h * 4 - 1), 255, -1)
        cv2.rectangle(canvas, (0, r), (w * 4 - 1, h * 4 - 1 - r), 255, -1)
        for cx, cy in ((r, r), (w * 4 - 1 - r, r), (r, h * 4 - 1 - r), (w * 4 - 1 - r, h * 4 - 1 - r)):
            cv2.circle(canvas, (cx, cy), r, 255, -1, cv2.LINE_AA)
    return cv2.resize(canvas, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


# --------------------------------------------------------------------------------------------
# The script of one sequence: every random choice, drawn up front
# --------------------------------------------------------------------------------------------


def _smooth(rng: np.random.Generator, n: int, sigma: float) -> np.ndarray:
    """Gaussian-filtered white noise with unit standard deviation: a slow random signal."""
    radius = int(3 * sigma) + 1
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    raw = rng.standard_normal(n + 2 * radius)
    return np.convolve(raw, kernel, mode="valid")[:n] / math.sqrt(float((kernel**2).sum()))


@dataclass
class Track:
    """Per-frame placement of one sprite."""

    sprite: int
    flip: bool
    cx: np.ndarray
    cy: np.ndarray
    width: np.ndarray
    height: np.ndarray
    angle: np.ndarray  # degrees
    speed: np.ndarray  # pixels per frame
    heading: np.ndarray  # radians
    tint: np.ndarray = field(default_factory=lambda: np.ones(3, np.float32))


@dataclass
class Occluder:
    photo: str
    patch: tuple[int, int, int, int]  # x, y, w, h in the photograph
    start: int
    end: int
    horizontal: bool
    size: tuple[float, float]  # w, h in frame pixels
    across: float  # offset across the sweep, in target sizes


@dataclass
class Script:
    name: str
    length: int
    frame_size: tuple[int, int]
    background: str
    bg_tint: np.ndarray
    bg_scale: np.ndarray
    bg_shift: np.ndarray  # (L, 2)
    target: Track
    distractors: list[Track]
    occluders: list[Occluder]
    gain: np.ndarray  # (L,)
    white: np.ndarray  # (L, 3)
    defocus: np.ndarray  # (L,) Gaussian sigma, 0 = sharp
    exposure: float  # motion-blur length per pixel of speed
    noise: float
    seed: tuple[int, int]


def _trajectory(rng, n, size_w, size_h, frame_size, speed, start=None):
    """Centre positions: a smoothly turning walk that bounces off the frame edges."""
    fw, fh = frame_size
    pos = np.array(start if start is not None else [rng.uniform(0.25, 0.75) * fw, rng.uniform(0.25, 0.75) * fh])
    heading = rng.uniform(0, 2 * math.pi)
    turn = 0.06 * _smooth(rng, n, 12)
    speeds = speed * np.exp(0.4 * _smooth(rng, n, 20))
    cx, cy, heads = np.empty(n), np.empty(n), np.empty(n)
    for t in range(n):
        heading += turn[t]
        pos += speeds[t] * np.array([math.cos(heading), math.sin(heading)])
        lo = 0.3 * np.array([size_w[t], size_h[t]]) + 4
        hi = np.array([fw, fh]) - lo
        for k in (0, 1):
            if pos[k] < lo[k] or pos[k] > hi[k]:
                pos[k] = float(np.clip(pos[k], lo[k], hi[k]))
                heading = math.pi - heading if k == 0 else -heading
        cx[t], cy[t], heads[t] = pos[0], pos[1], heading
    return cx, cy, speeds, heads


def _sizes(rng, n, spec: SpriteSpec, side: float) -> tuple[np.ndarray, np.ndarray]:
    """Width and height over time: a slow scale walk, an optional zoom trend, a little stretch."""
    trend = np.linspace(0, rng.uniform(-0.6, 0.6), n) if rng.random() < 0.5 else 0.0
    scale = side * np.exp(0.25 * _smooth(rng, n, 30) + trend)
    aspect = (spec.box[2] / spec.box[3]) * np.exp(0.08 * _smooth(rng, n, 25))
    w = np.clip(scale * np.sqrt(aspect), 12, 420)
    h = np.clip(scale / np.sqrt(aspect), 12, 420)
    return w, h


def _track(rng, n, sprite: int, side: float, frame_size, speed, start=None) -> Track:
    w, h = _sizes(rng, n, SPRITES[sprite], side)
    cx, cy, speeds, heading = _trajectory(rng, n, w, h, frame_size, speed, start)
    amplitude = rng.choice([0.0, 0.0, 8.0, 20.0, 40.0])
    angle = amplitude * _smooth(rng, n, 25)
    return Track(sprite, bool(rng.random() < 0.5), cx, cy, w, h, angle, speeds, heading)


def _distractors(rng, n, target: Track, side: float, frame_size) -> list[Track]:
    family = [i for i, s in enumerate(SPRITES) if s.family == SPRITES[target.sprite].family]
    out = []
    for _ in range(int(rng.choice([0, 1, 2, 3], p=[0.3, 0.35, 0.25, 0.1]))):
        sprite = int(rng.choice(family)) if rng.random() < 0.6 else target.sprite
        angle = rng.uniform(0, 2 * math.pi)
        distance = rng.uniform(1.5, 3.5) * side
        start = [target.cx[0] + distance * math.cos(angle), target.cy[0] + distance * math.sin(angle)]
        start = [float(np.clip(start[0], 20, frame_size[0] - 20)), float(np.clip(start[1], 20, frame_size[1] - 20))]
        track = _track(rng, n, sprite, side * rng.uniform(0.8, 1.25), frame_size, rng.uniform(0.5, 6.0), start)
        track.tint = rng.uniform(0.8, 1.2, size=3).astype(np.float32)
        out.append(track)
    return out


def _occluders(rng, n, target: Track) -> list[Occluder]:
    out = []
    for _ in range(int(rng.choice([0, 1, 2], p=[0.4, 0.4, 0.2]))):
        duration = int(min(n, rng.integers(12, 60)))
        start = int(rng.integers(0, max(1, n - duration + 1)))
        mid = min(n - 1, start + duration // 2)
        horizontal = bool(rng.random() < 0.6)
        tw, th = target.width[mid], target.height[mid]
        cover = rng.uniform(0.25, 0.7)  # the largest fraction of the target it can hide
        size = (cover * tw, rng.uniform(1.2, 2.0) * th) if horizontal else (rng.uniform(1.2, 2.0) * tw, cover * th)
        name = str(rng.choice(BACKGROUNDS))
        ph, pw = photo(name).shape[:2]
        pw_, ph_ = int(min(pw, max(8, size[0]))), int(min(ph, max(8, size[1])))
        patch = (int(rng.integers(0, pw - pw_ + 1)), int(rng.integers(0, ph - ph_ + 1)), pw_, ph_)
        out.append(Occluder(name, patch, start, start + duration, horizontal, size, rng.uniform(-0.2, 0.2)))
    return out


def _lighting(rng, n) -> tuple[np.ndarray, np.ndarray]:
    log_gain = rng.uniform(0.0, 0.2) * _smooth(rng, n, 30)
    if rng.random() < 0.3:  # a sudden change (a light switched, a cloud)
        step = int(rng.integers(0, n))
        log_gain[step:] += rng.choice([-1, 1]) * rng.uniform(0.2, 0.45)
    white = np.exp(0.05 * np.stack([_smooth(rng, n, 60) for _ in range(3)], axis=1))
    return np.exp(log_gain).astype(np.float32), white.astype(np.float32)


def _defocus(rng, n) -> np.ndarray:
    sigma = np.zeros(n, np.float32)
    if rng.random() < 0.35:
        duration = int(min(n, rng.integers(10, 50)))
        start = int(rng.integers(0, max(1, n - duration + 1)))
        bump = np.sin(np.linspace(0, math.pi, duration)) * rng.uniform(1.0, 3.5)
        sigma[start : start + duration] = bump
    return sigma


def _background_motion(rng, n, name: str, frame_size) -> tuple[np.ndarray, np.ndarray]:
    fw, fh = frame_size
    bh, bw = photo(name).shape[:2]
    base = max(fw * 1.2 / bw, fh * 1.2 / bh) * rng.uniform(1.0, 1.4)
    scale = base * np.exp(0.06 * _smooth(rng, n, 50))
    drift = np.linspace(0, 1, n)[:, None] * rng.uniform(-0.08, 0.08, size=2) * np.array([fw, fh])
    wobble = np.stack([_smooth(rng, n, 40), _smooth(rng, n, 40)], axis=1) * 0.03 * np.array([fw, fh])
    return scale, drift + wobble


def sequence_name(seed: int, index: int) -> str:
    return f"procedural_{int(seed)}_{int(index):05d}"


def make_script(seed: int, index: int, length: int, frame_size=FRAME_SIZE) -> Script:
    """Every random choice of one sequence, drawn from its own generator."""
    rng = np.random.default_rng([int(seed), int(index)])
    families = sorted({s.family for s in SPRITES})  # a family first, so 24 coins do not dominate
    family = families[int(rng.integers(len(families)))]
    sprite = int(rng.choice([i for i, s in enumerate(SPRITES) if s.family == family]))
    side = float(math.exp(rng.uniform(*np.log(TARGET_SIDE))))
    target = _track(rng, length, sprite, side, frame_size, float(rng.choice([1.0, 3.0, 6.0, 10.0])))
    choices = [b for b in BACKGROUNDS if b != SPRITES[sprite].image]
    background = str(rng.choice(choices))
    bg_scale, bg_shift = _background_motion(rng, length, background, frame_size)
    gain, white = _lighting(rng, length)
    return Script(
        name=sequence_name(seed, index),
        length=length,
        frame_size=tuple(frame_size),
        background=background,
        bg_tint=rng.uniform(0.75, 1.2, size=3).astype(np.float32),
        bg_scale=bg_scale,
        bg_shift=bg_shift,
        target=target,
        distractors=_distractors(rng, length, target, side, frame_size),
        occluders=_occluders(rng, length, target),
        gain=gain,
        white=white,
        defocus=_defocus(rng, length),
        exposure=float(rng.choice([0.0, 0.0, 0.5, 1.0])),
        noise=float(rng.uniform(0.0, 5.0)),
        seed=(int(seed), int(index)),
    )


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def _placement(track: Track, t: int) -> np.ndarray:
    """The 2x3 affine map from sprite pixels to frame pixels at frame t."""
    image, _ = _sprite(track.sprite, track.flip)
    h0, w0 = image.shape[:2]
    sx, sy = track.width[t] / w0, track.height[t] / h0
    a = math.radians(float(track.angle[t]))
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    linear = rot @ np.diag([sx, sy])
    centre = np.array([track.cx[t], track.cy[t]])
    offset = centre - linear @ np.array([(w0 - 1) / 2, (h0 - 1) / 2])
    return np.hstack([linear, offset[:, None]])


def _roi(matrix: np.ndarray, w0: int, h0: int, frame_size, pad: int) -> tuple[int, int, int, int] | None:
    corners = np.array([[0, 0, 1], [w0, 0, 1], [0, h0, 1], [w0, h0, 1]], dtype=np.float64) @ matrix.T
    x0 = max(0, int(math.floor(corners[:, 0].min())) - pad)
    y0 = max(0, int(math.floor(corners[:, 1].min())) - pad)
    x1 = min(frame_size[0], int(math.ceil(corners[:, 0].max())) + pad + 1)
    y1 = min(frame_size[1], int(math.ceil(corners[:, 1].max())) + pad + 1)
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def _warp(array: np.ndarray, matrix: np.ndarray, roi) -> np.ndarray:
    x0, y0, x1, y1 = roi
    shifted = matrix.copy()
    shifted[:, 2] -= (x0, y0)
    return cv2.warpAffine(array, shifted, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderValue=0)


def _motion_kernel(length: float, heading: float) -> np.ndarray | None:
    if length < 2.0:
        return None
    size = int(math.ceil(length)) | 1
    kernel = np.zeros((size, size), np.float32)
    c = size // 2
    dx, dy = math.cos(heading) * (size - 1) / 2, math.sin(heading) * (size - 1) / 2
    cv2.line(kernel, (round(c - dx), round(c - dy)), (round(c + dx), round(c + dy)), 1.0, 1, cv2.LINE_AA)
    return kernel / kernel.sum()


def _mask_box(mask: np.ndarray, roi) -> np.ndarray:
    rows, cols = np.flatnonzero((mask > 0.5).any(axis=1)), np.flatnonzero((mask > 0.5).any(axis=0))
    if len(rows) == 0:
        return np.zeros(4, np.float32)
    x, y = roi[0] + cols[0], roi[1] + rows[0]
    return np.array([x, y, cols[-1] - cols[0] + 1, rows[-1] - rows[0] + 1], np.float32)


def target_box(script: Script, t: int) -> np.ndarray:
    """The exact ground-truth box at frame t (the mask alone is warped, not the image)."""
    track = script.target
    _, mask = _sprite(track.sprite, track.flip)
    matrix = _placement(track, t)
    roi = _roi(matrix, mask.shape[1], mask.shape[0], script.frame_size, 1)
    return np.zeros(4, np.float32) if roi is None else _mask_box(_warp(mask, matrix, roi), roi)


def _paste(canvas: np.ndarray, track: Track, t: int, exposure: float):
    """Draw one sprite; returns (roi, sharp mask) or None when it is off the frame."""
    image, mask = _sprite(track.sprite, track.flip)
    matrix = _placement(track, t)
    kernel = _motion_kernel(exposure * float(track.speed[t]), float(track.heading[t]))
    pad = 1 if kernel is None else kernel.shape[0]
    roi = _roi(matrix, image.shape[1], image.shape[0], canvas.shape[1::-1], pad)
    if roi is None:
        return None
    sharp = _warp(mask, matrix, roi)
    pixels, alpha = _warp(image, matrix, roi) * track.tint, sharp
    if kernel is not None:
        pixels, alpha = cv2.filter2D(pixels * sharp[..., None], -1, kernel), cv2.filter2D(sharp, -1, kernel)
        pixels = pixels / np.maximum(alpha, 1e-4)[..., None]
    x0, y0, x1, y1 = roi
    region = canvas[y0:y1, x0:x1]
    region += alpha[..., None] * (pixels - region)
    return roi, sharp


def _occluder_alpha(canvas: np.ndarray, script: Script, occ: Occluder, t: int) -> np.ndarray | None:
    """Draw an occluder sweeping across the target; returns its full-frame coverage."""
    if not occ.start <= t < occ.end:
        return None
    track = script.target
    progress = (t - occ.start) / max(1, occ.end - occ.start - 1)
    w, h = occ.size
    along = (track.width[t] + w) / 2 if occ.horizontal else (track.height[t] + h) / 2
    shift = (2 * progress - 1) * along
    across = occ.across * (track.height[t] if occ.horizontal else track.width[t])
    cx = track.cx[t] + (shift if occ.horizontal else across)
    cy = track.cy[t] + (across if occ.horizontal else shift)
    x, y, pw, ph = occ.patch
    patch = photo(occ.photo)[y : y + ph, x : x + pw, :3].astype(np.float32)
    matrix = np.array([[w / pw, 0, cx - w / 2], [0, h / ph, cy - h / 2]])
    roi = _roi(matrix, pw, ph, canvas.shape[1::-1], 1)
    if roi is None:
        return None
    cover = _warp(np.ones((ph, pw), np.float32), matrix, roi)
    x0, y0, x1, y1 = roi
    region = canvas[y0:y1, x0:x1]
    region += cover[..., None] * (_warp(patch, matrix, roi) - region)
    full = np.zeros(canvas.shape[:2], np.float32)
    full[y0:y1, x0:x1] = cover
    return full


def _background(script: Script, t: int) -> np.ndarray:
    image = photo(script.background)[:, :, :3]
    bh, bw = image.shape[:2]
    fw, fh = script.frame_size
    s = float(script.bg_scale[t])
    shift = script.bg_shift[t]
    matrix = np.array([[s, 0, fw / 2 - s * bw / 2 + shift[0]], [0, s, fh / 2 - s * bh / 2 + shift[1]]])
    frame = cv2.warpAffine(image, matrix, (fw, fh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    return frame.astype(np.float32) * script.bg_tint


def _finish(canvas: np.ndarray, script: Script, t: int) -> np.ndarray:
    """Lighting, defocus and sensor noise, then back to uint8."""
    canvas *= script.gain[t] * script.white[t]
    if script.defocus[t] > 0.3:
        canvas = cv2.GaussianBlur(canvas, (0, 0), float(script.defocus[t]))
    if script.noise > 0:
        rng = np.random.default_rng([*script.seed, t])
        canvas += rng.standard_normal(canvas.shape, dtype=np.float32) * script.noise
    return np.clip(canvas + 0.5, 0, 255).astype(np.uint8)


def render_frame(script: Script, t: int) -> tuple[np.ndarray, np.ndarray, float]:
    """(frame BGR uint8, ground-truth box x, y, w, h, visible fraction of the target) at frame t."""
    if not 0 <= t < script.length:
        raise IndexError(f"{script.name}: frame {t} is outside 0..{script.length - 1}")
    canvas = _background(script, t)
    for track in script.distractors:
        _paste(canvas, track, t, script.exposure)
    placed = _paste(canvas, script.target, t, script.exposure)
    covers = [c for occ in script.occluders if (c := _occluder_alpha(canvas, script, occ, t)) is not None]
    if placed is None:
        return _finish(canvas, script, t), np.zeros(4, np.float32), 0.0
    roi, mask = placed
    return _finish(canvas, script, t), _mask_box(mask, roi), _visible_fraction(mask, roi, covers)


def _visible_fraction(mask: np.ndarray, roi, covers: list[np.ndarray]) -> float:
    total = float(mask.sum())
    if total <= 0 or not covers:
        return 1.0 if total > 0 else 0.0
    x0, y0, x1, y1 = roi
    hidden = np.zeros_like(mask)
    for cover in covers:
        hidden = np.maximum(hidden, cover[y0:y1, x0:x1])
    return float((mask * (1 - hidden)).sum() / total)


# --------------------------------------------------------------------------------------------
# Public interface: a sequence, a training dataset, evaluation sets
# --------------------------------------------------------------------------------------------


def _frame(script: Script, t: int) -> np.ndarray:
    return render_frame(script, t)[0]


def script_boxes(script: Script) -> np.ndarray:
    """(L, 4) float32 ground truth of every frame, computed without rendering the frames."""
    return np.stack([target_box(script, t) for t in range(script.length)])


def procedural_sequence(seed: int, index: int, length: int = 100, frame_size=FRAME_SIZE) -> Sequence:
    """Sequence ``index`` of the set drawn with ``seed``: exact boxes, frames rendered on demand
    (in any order) by ``sequence.frame(t)``."""
    if length < 2:
        raise ValueError(f"a procedural sequence needs at least 2 frames, got length={length}")
    script = make_script(seed, index, length, frame_size)
    source = f"procedural (seed {seed}, index {index})"
    return Sequence(script.name, script_boxes(script), render=functools.partial(_frame, script), source=source)


class ProceduralDataset(SequenceList):
    """``num_sequences`` virtual sequences of ``length`` frames, rendered when sampled."""

    cache_limit = 256  # scripts are cheap to redraw; keep memory flat

    def __init__(self, seed: int = 0, num_sequences: int = 1000, length: int = 200, frame_size=FRAME_SIZE):
        if num_sequences < 1:
            raise ValueError(f"num_sequences must be at least 1, got {num_sequences}")
        self.seed, self.num_sequences, self.length, self.frame_size = int(seed), num_sequences, length, frame_size
        super().__init__([f"procedural_{self.seed}_{i:05d}" for i in range(num_sequences)])

    def _read(self, index: int) -> Sequence:
        return procedural_sequence(self.seed, index, self.length, self.frame_size)

    def __repr__(self) -> str:
        return f"ProceduralDataset(seed={self.seed}, {self.num_sequences} sequences x {self.length} frames)"


def generate_sequences(num_sequences: int, length: int = 100, seed: int = 0, frame_size=FRAME_SIZE):
    """Yield ``num_sequences`` in-memory sequences (``Sequence``), deterministic in seed."""
    for index in range(num_sequences):
        yield procedural_sequence(seed, index, length, frame_size)


def render_sequences(
    root: str | Path, num_sequences: int, length: int = 100, seed: int = 0, frame_size=FRAME_SIZE, quality: int = 92
) -> list[Path]:
    """Write sequences as ``<root>/<name>/img/00000001.jpg`` + ``groundtruth.txt`` (x,y,w,h per
    line, the generic folder layout) + ``visibility.txt`` (visible fraction per frame) and
    ``sequence.json`` (how it was made). Returns the sequence folders."""
    if length < 2:
        raise ValueError(f"a procedural sequence needs at least 2 frames, got length={length}")
    return [_write_sequence(Path(root) / sequence_name(seed, index), make_script(seed, index, length, frame_size), quality)
            for index in range(num_sequences)]  # fmt: skip


def _write_sequence(folder: Path, script: Script, quality: int) -> Path:
    (folder / "img").mkdir(parents=True, exist_ok=True)
    lines, visible = [], []
    for t in range(script.length):
        frame, box, fraction = render_frame(script, t)
        if not cv2.imwrite(str(folder / "img" / f"{t + 1:08d}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, quality]):
            raise OSError(f"{folder / 'img'}: cannot write frame {t + 1}")
        lines.append(",".join(f"{v:g}" for v in box))
        visible.append(f"{fraction:.3f}")
    (folder / "groundtruth.txt").write_text("\n".join(lines) + "\n")
    (folder / "visibility.txt").write_text("\n".join(visible) + "\n")
    (folder / "sequence.json").write_text(json.dumps(_sequence_record(script), indent=1) + "\n")
    return folder


def _sequence_record(script: Script) -> dict:
    seed, index = script.seed
    return {"seed": seed, "index": index, "length": script.length, "frame_size": list(script.frame_size),
            "target": SPRITES[script.target.sprite].family, "background": script.background,
            "distractors": len(script.distractors), "occluders": len(script.occluders)}  # fmt: skip


# --------------------------------------------------------------------------------------------
# Evaluation roots
# --------------------------------------------------------------------------------------------

ROOT_RECORD = "procedural.json"  # what an evaluation root holds: seed, length, frame_size, count


def procedural_root(root: str | Path, num_sequences: int = 8, length: int = 100, seed: int = 0,
                    frame_size=FRAME_SIZE) -> list[Path]:
    """The folders of sequences 0..num_sequences-1 of the set (seed, length, frame_size) in an
    evaluation root, rendered into it when missing: into an empty root the first time, and when
    a later run asks for more sequences of the same set, only the missing ones (a sequence
    depends on its seed and index alone). ``procedural.json`` records the set, written before the
    first sequence and counting each one as it is complete; each sequence is rendered beside its
    folder and renamed into place whole. So a run killed while rendering leaves a root that the
    next run finishes. A root that holds another set, or anything but a rendered set, is refused
    (DatasetError saying what it holds and what was asked): a run never silently evaluates on
    other sequences."""
    root = Path(root)
    wanted = {"seed": int(seed), "length": int(length), "frame_size": [int(v) for v in frame_size]}
    record = _root_record(root, seed)
    if record is not None and {k: record.get(k) for k in wanted} != wanted:
        asked = _describe({**wanted, "count": num_sequences})
        raise DatasetError(root / ROOT_RECORD, f"this root holds {_describe(record)}, not {asked} as asked; read it "
                           "as it is with --dataset folder, or give an empty --root to render the asked set")
    have = int(record["count"]) if record is not None else 0
    if have < num_sequences:
        root.mkdir(parents=True, exist_ok=True)
        _write_json(root / ROOT_RECORD, {**wanted, "count": have})  # first: a killed render is this set's
        for index in range(have, num_sequences):
            _render_into_root(root, make_script(seed, index, length, frame_size))
            _write_json(root / ROOT_RECORD, {**wanted, "count": index + 1})
    return [root / sequence_name(seed, index) for index in range(num_sequences)]


def _render_into_root(root: Path, script: Script) -> None:
    """One sequence rendered into ``.NAME.PID.partial`` beside its folder and renamed when
    complete, so a folder under the sequence's name is always whole. A complete folder left by a
    run killed before it counted it is kept; what else a killed run left is rendered again."""
    folder = root / script.name
    if _is_complete(folder, script):
        return
    for leftover in [folder, *root.glob(f".{script.name}.*.partial")]:
        if leftover.is_dir() and not _rendering_elsewhere(leftover):
            shutil.rmtree(leftover)
    stage = root / f".{script.name}.{os.getpid()}.partial"
    try:
        _write_sequence(stage, script, quality=92)
        os.rename(stage, folder)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def _is_complete(folder: Path, script: Script) -> bool:
    """Whether ``folder`` holds the whole of ``script``: its ``sequence.json``, written last, says so."""
    try:
        return json.loads((folder / "sequence.json").read_text()) == _sequence_record(script)
    except (OSError, ValueError):
        return False


def _rendering_elsewhere(stage: Path) -> bool:
    """Whether another live process renders into ``stage`` (``.NAME.PID.partial``)."""
    parts = stage.name.split(".")
    return stage.name.endswith(".partial") and len(parts) >= 3 and other_process_alive(parts[-2])


def _root_record(root: Path, seed: int) -> dict | None:
    """The root's record; None for a missing or empty root, or one that holds only this set's
    sequence folders (a render by an older version, killed before it wrote its record: finished
    by this run); a DatasetError for anything else."""
    path = root / ROOT_RECORD
    if path.is_file():
        try:
            record = json.loads(path.read_text())
            int(record["count"])
            return record
        except (ValueError, KeyError, TypeError) as exc:
            raise DatasetError(path, f"not a readable record of a procedural set ({exc})") from None
    ours = re.compile(rf"procedural_{int(seed)}_\d{{5}}")
    if root.is_dir() and any(not p.name.startswith(".") and not (p.is_dir() and ours.fullmatch(p.name))
                             for p in root.iterdir()):
        raise DatasetError(root, f"not empty and not a procedural evaluation root (no {ROOT_RECORD}, which rendering "
                           "into an empty root writes); read it with --dataset folder, or give an empty --root")
    if root.exists() and not root.is_dir():
        raise DatasetError(root, "not a folder")
    return None


def _describe(record: dict) -> str:
    count = f"{record['count']} sequences" if "count" in record else "sequences"  # a record may be hand-written
    size = "x".join(str(v) for v in record.get("frame_size", ()))
    return f"{count} of {record.get('length')} frames ({size}, seed {record.get('seed')})"


def _write_json(path: Path, data: dict) -> None:
    """Written whole or not at all: a run interrupted while rendering renders again."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    tmp.replace(path)
