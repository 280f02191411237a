"""One benchmark row inside its own process: loaded once, then measured segment by segment.

``serve`` is the worker's main loop. The row is loaded (backend, decoded frames, search crops
along the tracker's own trajectory, template state) and warmed up once; then each ``measure``
command times one segment (a round's share of the row's frames) and sends back the raw
nanoseconds; ``finish`` sends what belongs to the process as a whole (peak memory, what the
backend says it runs) and ends it. Between commands the worker blocks on its pipe: the row's
runtime threads have nothing to do, so an idle row does not compete with the row being measured
(the parent checks: it records the CPU time idle workers use, ``idle_workers_cpu_pct``).
"""
from __future__ import annotations

import sys
import traceback

import numpy as np

from .frame_cycle import cycled_frame, read_frames
from .host import peak_memory_mb
from .timing import time_calls

__all__ = ["RowSession", "serve"]


def _device_sync(info):
    """torch.cuda.synchronize for a row whose template state stays on a CUDA device through
    torch: its template() returns before the device work ends. (search() returns host arrays.)"""
    torch = sys.modules.get("torch")
    if torch is not None and str(info.extra.get("device", "")).startswith("cuda"):
        return torch.cuda.synchronize
    return None


def _gpu_peak_mb() -> float | None:
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return None


class RowSession:
    """A loaded row: ``measure(frames, templates, warmup)`` times one segment (``measure(0, 0, n)``
    is the warm-up)."""

    def __init__(self, spec, frames_dir: str, init_box):
        from ..runtimes import load_backend
        from ..tracker import BatchTracker

        self.spec, self.init_box = spec, tuple(init_box)
        self.frames = read_frames(frames_dir)
        self.backend = load_backend(spec.backend, **spec.options)
        self.tracker = BatchTracker(self.backend)
        self.crops = self._trajectory_crops(4 * len(self.frames))
        self.template_crop = self._template_crop()
        self.state = self.backend.template(self.template_crop)
        self._search_calls = self._tracker_steps = 0

    def _trajectory_crops(self, count: int) -> list[np.ndarray]:
        """Search crops along the tracker's own track (cycling the sequence), batch-shaped."""
        crops = []
        self.tracker.init(self.frames[0], [self.init_box] * self.tracker.size)
        for i in range(count):
            frame = self.frames[1 + i % (len(self.frames) - 1)]
            crops.append(self.tracker.step.search_crops([frame] * self.tracker.size, self.tracker.states)[0])
            self.tracker.update(frame)
        self.tracker.init(self.frames[0], [self.init_box] * self.tracker.size)
        return crops

    def _template_crop(self) -> np.ndarray:
        size = self.tracker.size
        return self.tracker.step.template_crops([self.frames[0]] * size, [self.init_box] * size)

    def _search(self, _: int) -> None:
        self.backend.search(self.crops[self._search_calls % len(self.crops)], self.state)
        self._search_calls += 1

    def _update(self, _: int) -> int:
        """One tracker update on the next frame (restarting from the initial box at the end of
        the sequence); returns the graph's share of it in ns."""
        frame, restart = cycled_frame(self.frames, self._tracker_steps)
        if restart:
            self.tracker.states = [self.init_box] * self.tracker.size
        self.tracker.update(frame)
        self._tracker_steps += 1
        return int(self.backend.last_search_ms * 1e6)

    def measure(self, frames: int, templates: int, warmup: int) -> dict:
        """Raw ns of ``templates`` template calls, ``frames`` search calls and ``frames`` tracker
        updates (with the part of each update spent outside the graph), after ``warmup`` untimed
        calls of each (a row woken from idle first refills caches and wakes its threads)."""
        sync = _device_sync(self.backend.info)
        template = time_calls(lambda i: self.backend.template(self.template_crop), templates, min(warmup, 2), sync)
        search = time_calls(self._search, frames, warmup)
        in_graph: list[int] = []
        e2e = time_calls(lambda i: in_graph.append(self._update(i)), frames + warmup, 0)[warmup:]
        outside = [total - graph for total, graph in zip(e2e, in_graph[warmup:])]
        return {"template": template, "search": search, "e2e": e2e, "outside": outside}

    def finish(self) -> dict:
        """What belongs to the process: its peak memory and what the backend runs."""
        info = self.backend.info
        facts = {"streams": info.batch, "variant": info.variant, "peak_rss_mb": peak_memory_mb(),
                 "gpu_peak_mb": _gpu_peak_mb(), "runtime": self.backend.describe(),
                 "executes": self.backend.executed_arithmetic()}
        self.backend.close()
        return facts


def _error(exc: BaseException) -> dict:
    return {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc(limit=8)}


def _session_class(spec):
    from .c_library import C_ROW_BACKEND, CRowSession

    return CRowSession if spec.backend == C_ROW_BACKEND else RowSession


def serve(conn, spec, frames_dir: str, init_box, warmup: int) -> None:
    """The worker process: load the row (saying ``{"stage": "warming up"}`` when loaded), warm it
    up (``{"ready": True}``), then answer ``("measure", frames, templates, warmup)`` and
    ``("finish",)`` commands on ``conn`` until finished. Errors are answers, not crashes."""
    try:
        session = _session_class(spec)(spec, frames_dir, init_box)
        conn.send({"stage": "warming up"})
        session.measure(0, 0, warmup)
    except Exception as exc:  # noqa: BLE001 - a row that cannot load is reported as such
        conn.send(_error(exc))
        return
    conn.send({"ready": True})
    while True:
        try:
            command, *args = conn.recv()
        except EOFError:  # the parent went away (interrupted): nothing left to answer
            return
        try:
            if command == "finish":
                conn.send(session.finish())
                return
            conn.send(session.measure(*args))
        except Exception as exc:  # noqa: BLE001
            conn.send(_error(exc))
            return
