"""Many tracked streams over one backend: the state that the Triton ``tracker`` model keeps.

A ``Tracker`` follows one target and a ``BatchTracker`` a fixed set of N; a server meets
streams that start, pause and end at any time, and each batch of requests holds a different
mix of them. ``StreamTable`` keeps, per stream id, one row of every template-state tensor and
the current box, and runs the frames of any set of streams through the backend's graphs in
calls of the bundle's batch size: rows of the streams in a call are stacked into one state
handle (padded with copies of the first row), crops likewise.

The per-frame step is ``Tracker``'s own (``tracker.TrackerStep``, by the bundle's manifest rules):
over a batch-1 bundle a stream gets exactly the boxes an in-process ``Tracker`` gets (the state
rows are the same numbers, fed to the same graph). A backend serves streams when its state
handles come from numpy rows (``Backend.state_from_rows`` / ``state_rows``).
numpy, OpenCV and this package's runtime side only: the Triton python backend imports this.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..boxes import check_box_in_frame
from ..runtimes.base import Backend
from ..tracker import TrackerStep, TrackResult, check_frame

__all__ = ["StreamTable", "UnknownStreamError", "MAX_STREAM_ID"]

MAX_STREAM_ID = 2**63 - 1  # Triton's gRPC carries sequence ids as int64; HTTP would take up to 2**64 - 1


class UnknownStreamError(KeyError):
    """A frame for a stream this table holds no template for (never started, ended or evicted)."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0])


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

    def __init__(self, backend: Backend, color_order: str = "bgr", idle_seconds: float | None = None):
        if not backend.serves_streams():
            raise ValueError(f"the {backend.name} backend cannot serve streams: its template state does not "
                             "come from numpy rows (Backend.state_from_rows)")
        self.step = TrackerStep(backend, color_order)  # the bundle's rules (its manifest)
        self.backend = backend
        self.info = backend.info
        self.idle_seconds = idle_seconds
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
        now = time.monotonic()
        for chunk in _chunks(checked, self.info.batch):
            handle = self.step.template([f for _, f, _ in chunk], [b for _, _, b in chunk])
            state = self.backend.state_rows(handle)
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

    def _search(self, chunk: list[tuple[int, np.ndarray]]) -> list[TrackResult]:
        streams = [self._get(sid) for sid, _ in chunk]
        rows = {n: _pad(np.stack([s.state[n] for s in streams]), self.info.batch) for n in streams[0].state}
        results = self.step.track([f for _, f in chunk], [s.box for s in streams], self.backend.state_from_rows(rows))
        now = time.monotonic()
        for stream, result in zip(streams, results):
            stream.box, stream.last_seen = result.box, now
        return results


def _chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _pad(stacked: np.ndarray, batch: int) -> np.ndarray:
    """Fill a partial batch with copies of its first row (valid numbers; their outputs are dropped)."""
    missing = batch - len(stacked)
    if missing <= 0:
        return np.ascontiguousarray(stacked)
    return np.concatenate([stacked, np.repeat(stacked[:1], missing, axis=0)])
