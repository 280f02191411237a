"""Accuracy parity: does a converted backend still track like the PyTorch reference?

Two comparisons over the same frames, both reported:

* teacher-forced: every frame, the candidate starts from the reference's previous state, so the
  difference isolates the numerical error of one step (max box difference in pixels, IoU);
* free-running: each tracker follows its own output; small errors may compound, and the report
  says for how many frames the two tracks stay together.

The pass/fail rule is on the teacher-forced IoU of every frame, with a default per precision
(``parity.tolerances``); fp16 and int8 candidates are always compared with the fp32 reference,
never with each other.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field

import numpy as np

from ..boxes import box_iou
from ..runtimes.base import Backend
from ..tracker import Tracker
from .tolerances import tolerance_for

__all__ = ["ParityThresholds", "ParityReport", "run_parity", "box_iou"]

# Free-running tracks "part" when their IoU drops below this.
PART_IOU = 0.5


@dataclass
class ParityThresholds:
    precision: str = "fp32"
    min_iou: float | None = None  # None: the precision's tolerance (parity.tolerances)
    target: str | None = None  # the bundle's target, whose catalogue entry may set its own tolerance

    def __post_init__(self) -> None:
        if self.min_iou is not None and not 0.0 <= self.min_iou <= 1.0:  # NaN is refused too
            raise ValueError(f"the minimum IoU must be in [0, 1] (an IoU never exceeds 1), got {self.min_iou}")

    @property
    def effective_min_iou(self) -> float:
        return self.min_iou if self.min_iou is not None else tolerance_for(self.precision, self.target).min_iou


@dataclass
class ParityReport:
    frames: int
    precision: str
    min_iou_threshold: float
    teacher_forced_min_iou: float
    teacher_forced_mean_iou: float
    teacher_forced_max_px: float
    teacher_forced_max_score_diff: float
    free_running_min_iou: float
    free_running_mean_iou: float
    frames_until_part: int | None  # None: never parted
    passed: bool
    smallest_passing_min_iou: float  # the strictest threshold this run would still pass
    per_frame: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _frames_list(frames: Iterable[np.ndarray], limit: int | None) -> list[np.ndarray]:
    out = []
    for i, frame in enumerate(frames):
        if limit is not None and i >= limit:
            break
        out.append(frame)
    if len(out) < 2:
        raise ValueError(f"parity needs at least 2 frames (the first initialises), got {len(out)}")
    return out


def run_parity(
    reference: Backend,
    candidate: Backend,
    frames: Iterable[np.ndarray],
    init_box,
    thresholds: ParityThresholds | None = None,
    limit: int | None = None,
    color_order: str = "bgr",
    progress: Callable[[int, int], None] | None = None,
) -> ParityReport:
    """Track ``frames`` with both backends (teacher-forced and free-running) and compare;
    ``progress(done, total)`` is called after each compared frame."""
    thresholds = thresholds or ParityThresholds(candidate.info.precision, target=candidate.info.target)
    frames = _frames_list(frames, limit)
    margin = candidate.info.rules.clip_margin  # the bundle's rule is the one both are tracked by
    ref, forced, free = (Tracker(b, color_order, margin) for b in (reference, candidate, candidate))
    for tracker in (ref, forced, free):
        tracker.init(frames[0], init_box)
    tf_iou, tf_px, tf_score, fr_iou = [], [], [], []
    for done, frame in enumerate(frames[1:], 1):
        forced.state = ref.state
        expected, got, own = ref.update(frame), forced.update(frame), free.update(frame)
        tf_iou.append(box_iou(expected.box, got.box))
        tf_px.append(float(np.abs(np.subtract(expected.box, got.box)).max()))
        tf_score.append(abs(expected.score - got.score))
        fr_iou.append(box_iou(expected.box, own.box))
        if progress is not None:
            progress(done, len(frames) - 1)
    return _report(thresholds, tf_iou, tf_px, tf_score, fr_iou)


def _report(thresholds, tf_iou, tf_px, tf_score, fr_iou) -> ParityReport:
    min_iou = thresholds.effective_min_iou
    parted = next((i + 1 for i, v in enumerate(fr_iou) if v < PART_IOU), None)
    worst = float(min(tf_iou))
    return ParityReport(
        frames=len(tf_iou) + 1,
        precision=thresholds.precision,
        min_iou_threshold=min_iou,
        teacher_forced_min_iou=worst,
        teacher_forced_mean_iou=float(np.mean(tf_iou)),
        teacher_forced_max_px=float(max(tf_px)),
        teacher_forced_max_score_diff=float(max(tf_score)),
        free_running_min_iou=float(min(fr_iou)),
        free_running_mean_iou=float(np.mean(fr_iou)),
        frames_until_part=parted,
        passed=worst >= min_iou,
        smallest_passing_min_iou=worst,
        per_frame={"teacher_forced_iou": tf_iou, "teacher_forced_px": tf_px, "free_running_iou": fr_iou},
    )
