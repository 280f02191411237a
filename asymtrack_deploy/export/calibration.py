"""Calibration crops for int8 quantization, made the way the tracker and its training make them.

Post-training quantization fixes every activation range from a few dozen real inputs, so those
inputs must look like what the deployed graphs will see: template crops centred on a target
(``crop_square`` with the template factor, no jitter, as the official recipe has it) and search
crops around a box jittered as in training (size times exp(N(0, 0.5)), centre moved uniformly
within +-3.5/2 of the jittered box's sqrt(area); AsymTrack's ``SEARCH.CENTER_JITTER`` and
``SCALE_JITTER``), so the range covers off-centre, partly padded and rescaled targets.

Sources, and where the boxes come from:

* none: the built-in real sequence (``sources.builtin_sequence()``). Only its first box is
  annotated; every frame uses that initial box. We do not track with the reference model to
  get later boxes: with untrained weights (the reference checkpoints) tracking drifts off the
  pedestrian, while the walker moves about 40 px over the 40 frames, far inside the +-112 px
  the search jitter already spans. Templates from later frames show the walker a little off
  centre, which widens the template ranges slightly; they are still real crops.
* a sequence folder with ``groundtruth.txt`` (GOT-10k / LaSOT / OTB layout: images in the
  folder or in ``img/``, one ``x,y,w,h`` line per frame): the annotated box of each frame;
  frames whose box is missing or empty are skipped.
* a video file or an image folder: ``init_box`` for every frame when given, else a random box
  per pair (0.5-10 % of the frame area, aspect 1:2 to 2:1), so any footage calibrates.

numpy and OpenCV only. Everything random comes from one ``numpy`` generator seeded by ``seed``.
"""
from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..crop import crop_square, to_rgb
from ..sources import IMAGE_SUFFIXES, builtin_sequence

__all__ = [
    "CalibrationSet",
    "CalibrationWarning",
    "calibration_set",
    "DEFAULT_COUNT",
    "MIN_TRUSTED_COUNT",
    "CENTER_JITTER",
    "SCALE_JITTER",
]

DEFAULT_COUNT = 64
MIN_TRUSTED_COUNT = 32  # fewer pairs than this give ranges that one odd crop can move
MAX_FRAMES = 48  # frames kept in memory, spread evenly over the source
CENTER_JITTER = 3.5  # official DATA.SEARCH.CENTER_JITTER
SCALE_JITTER = 0.5  # official DATA.SEARCH.SCALE_JITTER
_RANDOM_AREA = (0.005, 0.10)  # random boxes: fraction of the frame area
_RANDOM_ASPECT = (0.5, 2.0)


class CalibrationWarning(UserWarning):
    """Calibration that runs but whose ranges should not be trusted (too few crops)."""


@dataclass(frozen=True)
class CalibrationSet:
    """``count`` template/search crop pairs (RGB uint8) and what the manifest records."""

    templates: np.ndarray  # (N, Ht, Wt, 3)
    searches: np.ndarray  # (N, Hs, Ws, 3)
    record: dict

    def __len__(self) -> int:
        return len(self.templates)


@dataclass
class _Frames:
    """The frames kept from a source and the box of each (None: no annotation)."""

    description: str
    kind: str
    images: list[np.ndarray]
    boxes: list[tuple[float, float, float, float] | None]
    box_rule: str


def calibration_set(
    cfg,
    source: str | os.PathLike | None = None,
    count: int = DEFAULT_COUNT,
    seed: int = 0,
    init_box: Sequence[float] | None = None,
) -> CalibrationSet:
    """``count`` crop pairs for the crop geometry of ``cfg`` (anything with template_size,
    search_size, template_factor, search_factor) from ``source`` (None: the built-in sequence).

    Raises ValueError for a source that is missing, empty or has no readable frame, and for a
    bad count or box; warns (CalibrationWarning) below MIN_TRUSTED_COUNT pairs.
    """
    if not isinstance(count, int) or count < 1:
        raise ValueError(f"the calibration count must be a positive integer, got {count!r}")
    box = _check_box(init_box) if init_box is not None else None
    frames = _load(source, box)
    rng = np.random.default_rng(seed)
    pairs = [_pair(frames, cfg, rng) for _ in range(count)]
    record = _record(frames, count, seed)
    if count < MIN_TRUSTED_COUNT:
        message = (
            f"{count} calibration pairs are too few to trust the int8 ranges "
            f"(use at least {MIN_TRUSTED_COUNT}; the default is {DEFAULT_COUNT})"
        )
        warnings.warn(message, CalibrationWarning, stacklevel=2)
        record["warning"] = message
    return CalibrationSet(np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs]), record)


def _record(frames: _Frames, count: int, seed: int) -> dict:
    return {
        "source": frames.description,
        "kind": frames.kind,
        "count": count,
        "seed": seed,
        "frames": len(frames.images),
        "boxes": frames.box_rule,
        "template_jitter": "none (official TEMPLATE.CENTER_JITTER = SCALE_JITTER = 0)",
        "search_center_jitter": CENTER_JITTER,
        "search_scale_jitter": SCALE_JITTER,
    }


def _check_box(box) -> tuple[float, float, float, float]:
    try:
        values = tuple(float(v) for v in box)
    except (TypeError, ValueError):
        raise ValueError(f"the calibration box must be four numbers x,y,w,h, got {box!r}") from None
    if len(values) != 4 or not all(math.isfinite(v) for v in values) or values[2] <= 0 or values[3] <= 0:
        raise ValueError(f"the calibration box must be four finite numbers x,y,w,h with w, h > 0, got {box!r}")
    return values


# -- reading sources ---------------------------------------------------------------------------


def _load(source, init_box) -> _Frames:
    if source is None:
        seq = builtin_sequence()
        images = _read_files(seq.files, f"built-in sequence {seq.name!r}")
        rule = "the sequence's initial box on every frame"
        return _Frames(f"built-in sequence {seq.name!r}", "builtin", images, [seq.init_box] * len(images), rule)
    path = Path(source)
    if not path.exists():
        raise ValueError(
            f"calibration source {path}: no such file or folder "
            "(expected a video file, an image folder or a sequence folder with groundtruth.txt)"
        )
    if path.is_dir() and (path / "groundtruth.txt").is_file():
        return _load_sequence(path)
    if path.is_dir():
        images = _read_files(_image_files(path), f"calibration folder {path}")
        return _with_boxes(_Frames(str(path), "image folder", images, [], ""), init_box)
    return _with_boxes(_Frames(str(path), "video", _read_video(path), [], ""), init_box)


def _with_boxes(frames: _Frames, init_box) -> _Frames:
    if init_box is None:
        frames.boxes = [None] * len(frames.images)
        frames.box_rule = "random boxes (no annotation given): 0.5-10 % of the frame, aspect 1:2 to 2:1"
    else:
        frames.boxes = [init_box] * len(frames.images)
        frames.box_rule = f"the given box {list(init_box)} on every frame"
    return frames


def _image_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"calibration folder {folder}: no images ({', '.join(IMAGE_SUFFIXES)}) in it")
    return files


def _spread(n: int) -> list[int]:
    """At most MAX_FRAMES indices spread evenly over range(n)."""
    if n <= MAX_FRAMES:
        return list(range(n))
    return sorted({int(round(v)) for v in np.linspace(0, n - 1, MAX_FRAMES)})


def _read_files(files: list[Path], what: str) -> list[np.ndarray]:
    images = [cv2.imread(str(files[i]), cv2.IMREAD_COLOR) for i in _spread(len(files))]
    images = [im for im in images if im is not None]
    if not images:
        raise ValueError(f"{what}: no readable frame (OpenCV could not decode any of its {len(files)} images)")
    return images


def _read_video(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise ValueError(f"calibration source {path}: not a video OpenCV can read, and not a folder")
        total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        wanted = set(_spread(total)) if total > 0 else set(range(MAX_FRAMES))
        images = []
        for index in range(max(wanted) + 1):
            ok = cap.grab()
            if not ok:
                break
            if index in wanted:
                ok, frame = cap.retrieve()
                if ok and frame is not None:
                    images.append(frame)
    finally:
        cap.release()
    if not images:
        raise ValueError(f"calibration source {path}: no readable frame in this video")
    return images


def _load_sequence(folder: Path) -> _Frames:
    """A tracking sequence: images (in ``img/`` or the folder) and one box per image."""
    image_dir = folder / "img" if (folder / "img").is_dir() else folder
    files = _image_files(image_dir)
    boxes = _read_groundtruth(folder / "groundtruth.txt")
    usable = [(f, b) for f, b in zip(files, boxes) if b is not None]
    if not usable:
        raise ValueError(f"calibration sequence {folder}: groundtruth.txt has no usable box (x,y,w,h with w, h > 0)")
    keep = [usable[i] for i in _spread(len(usable))]
    images, kept_boxes = [], []
    for file, box in keep:
        image = cv2.imread(str(file), cv2.IMREAD_COLOR)
        if image is not None:
            images.append(image)
            kept_boxes.append(box)
    if not images:
        raise ValueError(f"calibration sequence {folder}: no readable frame among its {len(files)} images")
    rule = "groundtruth.txt (frames with an empty box skipped)"
    return _Frames(str(folder), "sequence", images, kept_boxes, rule)


def _read_groundtruth(path: Path) -> list[tuple[float, float, float, float] | None]:
    boxes = []
    for line in path.read_text().splitlines():
        parts = line.replace(",", " ").replace("\t", " ").split()
        try:
            values = [float(v) for v in parts[:4]]
        except ValueError:
            values = []
        ok = len(values) == 4 and all(math.isfinite(v) for v in values) and values[2] > 0 and values[3] > 0
        boxes.append(tuple(values) if ok else None)
    return boxes


# -- making pairs ------------------------------------------------------------------------------


def jitter_box(
    box, rng: np.random.Generator, center: float = CENTER_JITTER, scale: float = SCALE_JITTER
) -> list[float]:
    """The official training jitter of a search box (x, y, w, h)."""
    x, y, w, h = box
    size = np.array([w, h]) * np.exp(rng.standard_normal(2) * scale)
    max_offset = math.sqrt(size[0] * size[1]) * center
    cx, cy = np.array([x + w / 2, y + h / 2]) + max_offset * (rng.random(2) - 0.5)
    return [float(cx - size[0] / 2), float(cy - size[1] / 2), float(size[0]), float(size[1])]


def _random_box(frame: np.ndarray, rng: np.random.Generator) -> tuple[float, float, float, float]:
    height, width = frame.shape[:2]
    area = height * width * math.exp(rng.uniform(*np.log(_RANDOM_AREA)))
    aspect = math.exp(rng.uniform(*np.log(_RANDOM_ASPECT)))
    w, h = min(width, math.sqrt(area * aspect)), min(height, math.sqrt(area / aspect))
    return (float(rng.uniform(0, width - w)), float(rng.uniform(0, height - h)), w, h)


def _pair(frames: _Frames, cfg, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One template crop from a frame and one search crop from the same or a later frame."""
    n = len(frames.images)
    t = int(rng.integers(n))
    s = int(rng.integers(t, n))
    random_box = _random_box(frames.images[t], rng) if frames.boxes[t] is None else None
    box_t = frames.boxes[t] or random_box
    box_s = frames.boxes[s] or random_box
    z, _ = crop_square(frames.images[t], box_t, cfg.template_factor, cfg.template_size)
    x, _ = crop_square(frames.images[s], jitter_box(box_s, rng), cfg.search_factor, cfg.search_size)
    return to_rgb(z, "bgr"), to_rgb(x, "bgr")
