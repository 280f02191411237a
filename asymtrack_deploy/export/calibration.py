"""Calibration crops for int8 quantization, made the way the tracker and its training make them.

Post-training quantization fixes every activation range from a few dozen real inputs, so those
inputs must look like what the deployed graphs will see: template crops centred on a target
(``crop_rgb`` with the template factor, no jitter, as the official recipe has it) and search
crops around a box jittered as in training (``boxes.jitter_box``: size times exp(N(0, 0.5)),
centre moved uniformly within +-3.5/2 of the jittered box's sqrt(area); AsymTrack's
``SEARCH.CENTER_JITTER`` and ``SCALE_JITTER``), so the range covers off-centre, partly padded
and rescaled targets.

Sources, and where the boxes come from:

* none: the built-in real sequence (``sources.builtin_sequence()``). Only its first box is
  annotated; every frame uses that initial box. We do not track with the reference model to
  get later boxes: with untrained weights (the reference checkpoints) tracking drifts off the
  pedestrian, while the walker moves about 40 px over the 40 frames, far inside the +-112 px
  the search jitter already spans. Templates from later frames show the walker a little off
  centre, which widens the template ranges slightly; they are still real crops.
* a sequence folder with ``groundtruth.txt`` (GOT-10k / LaSOT / OTB layout: images in the
  folder or in ``img/``, one ``x,y,w,h`` line per frame; read by the data layer, so a malformed
  line is an error naming it): the annotated box of each frame; frames whose box is missing
  (NaN, or past the end of the file) or empty are skipped.
* a video file or an image folder (``sources.sample_frames``): ``init_box`` for every frame
  when given, else a random box per pair (0.5-10 % of the frame area, aspect 1:2 to 2:1), so
  any footage calibrates.

numpy and OpenCV only. Everything random comes from one ``numpy`` generator seeded by ``seed``.
"""
from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..boxes import CENTER_JITTER, SCALE_JITTER, check_box, check_box_in_frame, jitter_box, valid_boxes
from ..crop import crop_rgb
from ..tracker_spec import StepRules
from ..datasets import is_sequence_folder, read_boxes, sequence_files, try_read_frame
from ..sources import builtin_sequence, sample_frames, spread

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
    box = check_box(init_box, "the calibration box") if init_box is not None else None
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


# -- reading sources ---------------------------------------------------------------------------


def _load(source, init_box) -> _Frames:
    if source is None:
        seq = builtin_sequence()
        images = sample_frames(seq.folder, MAX_FRAMES)
        rule = "the sequence's initial box on every frame"
        return _Frames(f"built-in sequence {seq.name!r}", "builtin", images, [seq.init_box] * len(images), rule)
    path = Path(source)
    if not path.exists():
        raise ValueError(
            f"calibration source {path}: no such file or folder "
            "(expected a video file, an image folder or a sequence folder with groundtruth.txt)"
        )
    if path.is_dir() and is_sequence_folder(path):
        return _load_sequence(path)
    kind = "image folder" if path.is_dir() else "video"
    return _with_boxes(_Frames(str(path), kind, sample_frames(path, MAX_FRAMES), [], ""), init_box)


def _with_boxes(frames: _Frames, init_box) -> _Frames:
    if init_box is None:
        frames.boxes = [None] * len(frames.images)
        frames.box_rule = "random boxes (no annotation given): 0.5-10 % of the frame, aspect 1:2 to 2:1"
    else:
        height, width = frames.images[0].shape[:2]
        check_box_in_frame(init_box, width, height, "the calibration box")  # the tracker's rule for a start box
        frames.boxes = [init_box] * len(frames.images)
        frames.box_rule = f"the given box {list(init_box)} on every frame"
    return frames


def _load_sequence(folder: Path) -> _Frames:
    """A tracking sequence: its images and the annotated box of each, unusable boxes skipped."""
    files, gt_path = sequence_files(folder)
    boxes = read_boxes(gt_path, allow_nan=True)
    usable = [(f, tuple(b)) for f, b, ok in zip(files, boxes, valid_boxes(boxes)) if ok]
    if not usable:
        raise ValueError(f"calibration sequence {folder}: {gt_path.name} has no usable box (x,y,w,h with w, h > 0)")
    images, kept_boxes = [], []
    for file, box in (usable[i] for i in spread(len(usable), MAX_FRAMES)):
        image = try_read_frame(file)
        if image is not None:
            images.append(image)
            kept_boxes.append(box)
    if not images:
        raise ValueError(f"calibration sequence {folder}: no readable frame among its {len(files)} images")
    rule = f"{gt_path.name} (frames with an empty box skipped)"
    return _Frames(str(folder), "sequence", images, kept_boxes, rule)


# -- making pairs ------------------------------------------------------------------------------


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
    rules = StepRules.from_model(cfg)
    z, _ = crop_rgb(frames.images[t], box_t, rules.template, "bgr")
    x, _ = crop_rgb(frames.images[s], jitter_box(box_s, rng), rules.search, "bgr")
    return z, x
