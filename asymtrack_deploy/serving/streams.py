"""Many tracked streams over one backend: the state that the Triton ``tracker`` model keeps.

A ``Tracker`` follows one target and a ``BatchTracker`` a fixed set of N; a server meets
streams that start, pause and end at any time, and each batch of requests holds a different
mix of them. ``StreamTable`` keeps, per stream id, one row of every template-state tensor and
the current box, and runs the frames of any set of streams through the backend's graphs in
calls of the bundle's batch size: rows of the streams in a call are stacked into one state
handle (padded with copies of the first row), crops likewise.

The arithmetic is ``Tracker``'s, crop for crop: over a batch-1 bundle a stream gets exactly the
boxes an in-process ``Tracker`` gets (the state rows are the same numbers, fed to the same graph).
numpy, OpenCV and this package's runtime side only: the Triton python backend imports this.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..crop import clip_box, crop_square, map_box_back, to_rgb
from ..runtimes.base import Backend, require
from ..boxes import check_box_in_frame
from ..tracker import TrackResult, check_frame

__all__ = ["StreamTable", "UnknownStreamError", "STATE_HANDLES", "MAX_STREAM_ID"]

MAX_STREAM_ID = 2**63 - 1  # Triton's gRPC carries sequence ids as int64; HTTP would take up to 2**64 - 1


class UnknownStreamError(KeyError):
    """A frame for a stream this table holds no template for (never started, ended or evicted)."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0])


def _ort_handle(backend: Backend, rows: dict[str, np.ndarray]):
    from ..runtimes.onnxruntime_backend import OrtTemplateState

    ort = require("onnxruntime", "onnxruntime")
    return OrtTemplateState({n: ort.OrtValue.ortvalue_from_numpy(a) for n, a in rows.items()}, id(backend))


def _openvino_handle(backend: Backend, rows: dict[str, np.ndarray]):
    from ..runtimes.openvino_backend import OpenVinoTemplateState

    ov = require("openvino", "openvino")
    return OpenVinoTemplateState({n: ov.Tensor(a) for n, a in rows.items()}, id(backend))


# backend name -> how stacked numpy state rows become that backend's state handle
STATE_HANDLES: dict[str, Callable[[Backend, dict[str, np.ndarray]], object]] = {
    "onnxruntime": _ort_handle,
    "openvino": _openvino_handle,
}


@dataclass
class _Stream:
    state: dict[str, np.ndarray]  # one row (no batch axis) of each template-state tensor
    box: tuple[float, float, float, float]
    last_seen: float


class StreamTable:
    """``StreamTable(backend)``; ``start([(id, frame, box), ...])``, ``track([(id, frame), ...])``,
    ``end(id)``. Frames are uint8 H x W x 3 in ``color_order`` (OpenCV's "bgr" by default).

    ``idle_seconds``: streams not seen for longer are dropped at the next call (a client that
    vanished without END must not hold memory forever); None keeps them until ``end``.
    """

    def __init__(self, backend: Backend, color_order: str = "bgr", clip_margin: float = 10.0,
                 idle_seconds: float | None = None):
        if backend.name not in STATE_HANDLES:
            raise ValueError(f"serving runs the {', '.join(STATE_HANDLES)} backends, not {backend.name!r}")
        if color_order not in ("bgr", "rgb"):
            raise ValueError(f"color_order must be 'bgr' or 'rgb', got {color_order!r}")
        self.backend = backend
        self.info = backend.info
        self.color_order = color_order
        self.clip_margin = clip_margin
        self.idle_seconds = idle_seconds
        self._handle = STATE_HANDLES[backend.name]
        self._streams: dict[int, _Stream] = {}

    def __len__(self) -> int:
        return len(self._streams)

    def __contains__(self, stream_id: int) -> bool:
        return stream_id in self._streams

    def box(self, stream_id: int) -> tuple[float, float, float, float]:
        return self._get(stream_id).box

    def start(self, items: Sequence[tuple[int, np.ndarray, object]]) -> None:
        """Run the template branch for each (stream id, first frame, box); a stream already
        held starts over."""
        for _, frame, _ in items:
            check_frame(frame)
        checked = [(sid, frame, check_box_in_frame(box, frame.shape[1], frame.shape[0])) for sid, frame, box in items]
        info, now = self.info, time.monotonic()
        for chunk in _chunks(checked, info.batch):
            crops = [self._crop(f, b, info.template_factor, info.template_size)[0] for _, f, b in chunk]
            state = self.backend.template(_pad(np.stack(crops), info.batch)).numpy()
            for row, (sid, _, box) in enumerate(chunk):
                self._streams[sid] = _Stream({n: a[row].copy() for n, a in state.items()}, box, now)

    def track(self, items: Sequence[tuple[int, np.ndarray]]) -> list[TrackResult]:
        """One search step for each (stream id, frame), batched; results in the same order.
        A stream id may appear only once per call (its frames are sequential)."""
        ids = [sid for sid, _ in items]
        if len(set(ids)) != len(ids):
            raise ValueError(f"each stream may have one frame per track() call, got ids {ids}")
        for sid, frame in items:
            self._get(sid)
            check_frame(frame)
        results = []
        for chunk in _chunks(list(items), self.info.batch):
            results += self._search(chunk)
        return results

    def end(self, stream_id: int) -> bool:
        """Forget a stream; False when it was not held."""
        return self._streams.pop(stream_id, None) is not None

    def evict_idle(self, now: float | None = None) -> list[int]:
        """Drop the streams idle for longer than ``idle_seconds``; their ids."""
        if self.idle_seconds is None:
            return []
        now = time.monotonic() if now is None else now
        stale = [sid for sid, s in self._streams.items() if now - s.last_seen > self.idle_seconds]
        for sid in stale:
            del self._streams[sid]
        return stale

    # -- internals ---------------------------------------------------------------------------
    def _get(self, stream_id: int) -> _Stream:
        if stream_id not in self._streams:
            raise UnknownStreamError(
                f"stream {stream_id} has no template here (never started, ended, or dropped after "
                f"being idle); start it again with its first frame and box"
            )
        return self._streams[stream_id]

    def _crop(self, frame: np.ndarray, box, factor: float, size: int) -> tuple[np.ndarray, float]:
        crop, resize_factor = crop_square(frame, box, factor, size)
        return to_rgb(crop, self.color_order), resize_factor

    def _search(self, chunk: list[tuple[int, np.ndarray]]) -> list[TrackResult]:
        info, streams = self.info, [self._get(sid) for sid, _ in chunk]
        pairs = [self._crop(f, s.box, info.search_factor, info.search_size) for (_, f), s in zip(chunk, streams)]
        rows = {n: _pad(np.stack([s.state[n] for s in streams]), info.batch) for n in streams[0].state}
        crops = _pad(np.stack([crop for crop, _ in pairs]), info.batch)
        boxes, scores = self.backend.search(crops, self._handle(self.backend, rows))
        results, now = [], time.monotonic()
        for i, ((_, frame), stream) in enumerate(zip(chunk, streams)):
            box = map_box_back(boxes[i], stream.box, info.search_size, pairs[i][1])
            stream.box = tuple(clip_box(box, *frame.shape[:2], self.clip_margin))
            stream.last_seen = now
            results.append(TrackResult(stream.box, float(scores[i])))
        return results


def _chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _pad(stacked: np.ndarray, batch: int) -> np.ndarray:
    """Fill a partial batch with copies of its first row (valid numbers; their outputs are dropped)."""
    missing = batch - len(stacked)
    if missing <= 0:
        return np.ascontiguousarray(stacked)
    return np.concatenate([stacked, np.repeat(stacked[:1], missing, axis=0)])
