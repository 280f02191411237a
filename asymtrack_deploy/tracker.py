"""Single-object tracking over any backend: the official tracker's pre- and post-processing.

``Tracker.init`` crops the template once and hands it to the backend's template branch (the
expensive-once step); ``Tracker.update`` crops the search region around the current state,
runs the search branch and maps the box back into the frame with the official arithmetic
(``crop.py``), by the bundle's rules. ``TrackerStep`` is that per-frame step, once, for every
loop in the package (trackers, serving's stream table, evaluation, benchmarks). Per frame the only work outside the graph is one crop-and-resize and a channel
swap of the small crop; the frame is never converted to float, and copied only in the rows that
the resize of a window reaching past the frame's edge reads (``crop.CropCanvas``).

numpy and OpenCV only: importing this module does not import torch.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .boxes import check_box, check_box_in_frame
from .crop import CropCanvas, clip_box, crop_rgb, map_box_back
from .runtimes.base import Backend
from .tracker_spec import DEFAULT_SCORE_THRESHOLD, CropRule, StepRules

__all__ = ["Tracker", "BatchTracker", "TrackerStep", "TrackResult", "OpenCVTrackerAdapter", "DEFAULT_SCORE_THRESHOLD"]


@dataclass(frozen=True)
class TrackResult:
    """One frame's answer: the box (x, y, w, h) in pixels and the confidence in [0, 1]."""

    box: tuple[float, float, float, float]
    score: float


def check_frame(frame: np.ndarray) -> None:
    if not isinstance(frame, np.ndarray):
        raise ValueError(f"frame must be a numpy array (H, W, 3) uint8, got {type(frame).__name__}")
    if frame.dtype != np.uint8:
        raise ValueError(f"frame must be uint8 (as OpenCV reads images), got dtype {frame.dtype}")
    shape_ok = frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] in (1, 3, 4))
    if not shape_ok or frame.shape[0] < 1 or frame.shape[1] < 1:
        raise ValueError(
            f"frame must be H x W x 3 (or H x W grayscale, or H x W x 4), got shape {frame.shape}"
        )


def _batch_of(crops: list[np.ndarray], batch: int) -> np.ndarray:
    """The batch of crops a backend takes: one crop becomes a view with a batch axis, and a
    partial batch is filled with copies of its first crop (valid pixels; their outputs are
    dropped)."""
    if len(crops) == 1 == batch:
        return crops[0][None]
    return np.stack(crops + crops[:1] * (batch - len(crops)))


class TrackerStep:
    """The one per-frame step of every tracker loop (``BatchTracker``, ``Tracker``, serving's
    ``StreamTable``, the evaluation and benchmark loops): crop by the rules -> the backend's
    graph -> map the box back -> clip by the rules; the backend's ``search`` refuses non-finite
    outputs (``NonFiniteOutputError``). ``rules``: the backend's (``info.rules``: the bundle's
    manifest, or the torch backend's model config) unless given.

    Stateless over targets: the caller keeps each target's box and the template state; frames
    and boxes are lists of at most the backend's batch (a shorter list is padded).
    """

    def __init__(self, backend: Backend, color_order: str = "bgr", rules: StepRules | None = None):
        if color_order not in ("bgr", "rgb"):
            raise ValueError(f"color_order must be 'bgr' or 'rgb', got {color_order!r}")
        self.backend = backend
        self.color_order = color_order
        self.rules = backend.info.rules if rules is None else rules

    def template(self, frames: list[np.ndarray], boxes: list, canvases: list | None = None):
        """The template state of each target (frame, box), from one template call."""
        return self.backend.template(self.template_crops(frames, boxes, canvases))

    def template_crops(self, frames: list[np.ndarray], boxes: list, canvases: list | None = None) -> np.ndarray:
        """The template crops (batch-shaped) around each box."""
        return self._crops(frames, boxes, self.rules.template, canvases)[0]

    def template_crop(self, frame: np.ndarray, box, canvas: CropCanvas | None = None) -> np.ndarray:
        """One target's template crop."""
        return crop_rgb(frame, box, self.rules.template, self.color_order, canvas)[0]

    def search_crops(self, frames: list[np.ndarray], boxes: list, canvases: list | None = None):
        """The search crops (batch-shaped) around each box, and each crop's resize factor."""
        return self._crops(frames, boxes, self.rules.search, canvases)

    def track(self, frames: list[np.ndarray], boxes: list, state, canvases: list | None = None) -> list[TrackResult]:
        """One step for each target: its box in its frame and the score."""
        crops, factors = self.search_crops(frames, boxes, canvases)
        found, scores = self.backend.search(crops, state)
        return [TrackResult(self._frame_box(found[i], boxes[i], factors[i], frame), float(scores[i]))
                for i, frame in enumerate(frames)]

    def _frame_box(self, found, previous, resize_factor: float, frame: np.ndarray) -> tuple:
        box = map_box_back(found, previous, self.rules, resize_factor)
        return tuple(clip_box(box, *frame.shape[:2], self.rules))

    def _crops(self, frames, boxes, rule: CropRule, canvases) -> tuple[np.ndarray, list[float]]:
        canvases = canvases or [None] * len(frames)
        pairs = [crop_rgb(f, b, rule, self.color_order, c) for f, b, c in zip(frames, boxes, canvases)]
        return _batch_of([crop for crop, _ in pairs], self.backend.info.batch), [factor for _, factor in pairs]


class BatchTracker:
    """N targets in one backend call per frame, over a backend exported with batch N.

    Each target has its own template state row and its own frame (one camera each), or all
    share one frame. This is how one accelerator serves many streams; ``Tracker`` is the
    BatchTracker of one target. ``clip_margin`` None: the bundle's (``backend.info.rules``,
    from the manifest); a number replaces it.

    ``init`` starts every row; ``add(row, frame, box)`` starts or replaces one row and
    ``remove(row)`` empties one, while the other rows keep their template and their boxes: the
    template crops are kept, so the template branch reruns on the kept rows' own crops (the graph
    takes the whole batch) and their state comes out as before, not re-cropped from this frame.
    """

    def __init__(self, backend: Backend, color_order: str = "bgr", clip_margin: float | None = None):
        rules = backend.info.rules if clip_margin is None else backend.info.rules.with_clip_margin(clip_margin)
        self.step = TrackerStep(backend, color_order, rules)
        self.size = backend.info.batch
        self._canvases = [CropCanvas() for _ in range(self.size)]  # per target: crops past the frame edge
        self._template_state = None
        side = backend.info.template_size
        self._template_crops = np.zeros((self.size, side, side, 3), np.uint8)  # row i: target i's template
        self._active = [False] * self.size
        self.states: list[tuple[float, float, float, float] | None] = []

    @property
    def backend(self) -> Backend:
        return self.step.backend

    @property
    def color_order(self) -> str:
        return self.step.color_order

    @property
    def clip_margin(self) -> float:
        """Pixels of the box kept inside the frame (the manifest's ``tracker.clip.margin``)."""
        return self.step.rules.clip_margin

    @property
    def initialized(self) -> bool:
        return self._template_state is not None and any(self._active)

    @property
    def active_rows(self) -> list[int]:
        """The rows that follow a target (``init`` or ``add``, not ``remove``d since)."""
        return [i for i, on in enumerate(self._active) if on]

    def _frames(self, frames) -> list[np.ndarray | None]:
        frames = [frames] * self.size if isinstance(frames, np.ndarray) else list(frames)
        if len(frames) != self.size:
            raise ValueError(f"expected {self.size} frames (one per target) or one shared frame, got {len(frames)}")
        for i, frame in enumerate(frames):
            if frame is None and not self._active[i]:
                continue  # an empty row needs no frame
            check_frame(frame)
        return frames

    def _row(self, row) -> int:
        if isinstance(row, bool) or not isinstance(row, (int, np.integer)) or not 0 <= row < self.size:
            raise ValueError(f"row must be an integer in [0, {self.size - 1}] (the backend's batch), got {row!r}")
        return int(row)

    def _template_crop(self, frame, box, row: int) -> np.ndarray:
        return self.step.template_crop(frame, box, self._canvases[row])

    def init(self, frames, boxes) -> None:
        """Crop each target's template and run the template branch once for all of them."""
        frames = self._frames(frames)
        boxes = list(boxes)
        if len(boxes) != self.size:
            raise ValueError(f"expected {self.size} boxes (the backend's batch), got {len(boxes)}")
        boxes = [check_box_in_frame(b, f.shape[1], f.shape[0]) for b, f in zip(boxes, frames)]
        crops = _batch_of([self._template_crop(f, b, i) for i, (f, b) in enumerate(zip(frames, boxes))], self.size)
        self._template_state = self.backend.template(crops)
        self._template_crops[...] = crops
        self._active = [True] * self.size
        self.states = boxes

    def add(self, row: int, frame: np.ndarray, box) -> None:
        """Start following ``box`` in row ``row`` (replacing its target, if any); the other rows
        keep their template state and their boxes."""
        row = self._row(row)
        check_frame(frame)
        box = check_box_in_frame(box, frame.shape[1], frame.shape[0])
        crops = self._template_crops.copy()
        crops[row] = self._template_crop(frame, box, row)
        self._template_state = self.backend.template(crops)
        self._template_crops = crops
        self._active[row] = True
        self.states = list(self.states) if self.states else [None] * self.size
        self.states[row] = box

    def remove(self, row: int) -> None:
        """Stop following row ``row``'s target: ``update`` takes None for its frame and gives None
        for its result; the other rows go on unchanged."""
        row = self._row(row)
        if not self._active[row]:
            raise ValueError(f"row {row} follows no target (start one with add(row, frame, box))")
        self._active[row] = False
        self.states[row] = None

    def update(self, frames) -> list[TrackResult | None]:
        """Track every target into its frame; one result per row (None for an empty row)."""
        if not self.initialized:
            raise RuntimeError("update() called before init(): call init(frames, boxes) or add(row, frame, box) first")
        frames = self._frames(frames)
        placeholder = next(f for f, on in zip(frames, self._active) if on)
        # an empty row still fills its slot of the batch: any active row's frame and box, result dropped
        stand_in = self.states[self.active_rows[0]]
        filled = [f if on else placeholder for f, on in zip(frames, self._active)]
        boxes = [s if on else stand_in for s, on in zip(self.states, self._active)]
        found = self.step.track(filled, boxes, self._template_state, self._canvases)
        results = [r if on else None for r, on in zip(found, self._active)]
        self.states = [r.box if r is not None else None for r in results]
        return results


class Tracker:
    """``Tracker(load_backend("onnxruntime", bundle="out/tiny"))``, then ``init`` and ``update``.

    Frames are uint8 H x W x 3 in ``color_order`` ("bgr", as OpenCV reads them, or "rgb");
    grayscale and 4-channel frames are accepted too. One target: a BatchTracker of one.
    """

    def __init__(self, backend: Backend, color_order: str = "bgr", clip_margin: float | None = None):
        if backend.info.batch != 1:
            raise ValueError(f"Tracker follows one target; this backend was built for batch {backend.info.batch}")
        self._batch = BatchTracker(backend, color_order, clip_margin)

    @property
    def backend(self) -> Backend:
        return self._batch.backend

    @property
    def clip_margin(self) -> float:
        """Pixels of the box kept inside the frame (the manifest's ``tracker.clip.margin``)."""
        return self._batch.clip_margin

    @property
    def state(self) -> tuple[float, float, float, float] | None:
        """The current target box (x, y, w, h); settable to re-centre the search."""
        return self._batch.states[0] if self._batch.states else None

    @state.setter
    def state(self, box) -> None:
        self._batch.states = [check_box(box)]

    @property
    def initialized(self) -> bool:
        return self._batch.initialized

    def init(self, frame: np.ndarray, box_xywh) -> None:
        """Crop the template around ``box_xywh`` and run the template branch once."""
        self._batch.init([frame], [box_xywh])

    def update(self, frame: np.ndarray) -> TrackResult:
        """Track the target into ``frame``; returns the new box and its score."""
        return self._batch.update([frame])[0]


class OpenCVTrackerAdapter:
    """The ``cv2.Tracker`` calling convention (as ``cv2.TrackerVit`` has it) over a Tracker.

    ``init(frame, bbox)``; ``update(frame) -> (ok, (x, y, w, h))`` with integer pixels;
    ``getTrackingScore()``. ``ok`` is ``score >= score_threshold`` (None: the bundle's default).
    """

    def __init__(self, tracker: Tracker, score_threshold: float | None = None):
        self.tracker = tracker
        default = tracker.backend.info.rules.tracker.score_threshold
        self.score_threshold = default if score_threshold is None else score_threshold
        self._score = 0.0

    def init(self, frame: np.ndarray, bbox) -> None:
        self.tracker.init(frame, bbox)
        self._score = 1.0

    def update(self, frame: np.ndarray) -> tuple[bool, tuple[int, int, int, int]]:
        result = self.tracker.update(frame)
        self._score = result.score
        x, y, w, h = result.box
        return result.score >= self.score_threshold, (round(x), round(y), round(w), round(h))

    def getTrackingScore(self) -> float:  # noqa: N802 - OpenCV's name
        return self._score
