"""The C tracker beside the Python tracker over the same OpenVINO bundle, timed interleaved.

One process, one bundle, both trackers on the same frames: each round times one C update (its
own monotonic clock, reported through the binding) and then one Python update, so load from
other jobs on a shared host falls on both alike; only the ratio of the two is meaningful there.
``compare_c_and_python`` gives the full figures; ``CRowSession`` is the ``bench`` row of the C
tracker (``bench --c-library``), measured in the same interleaved rounds as the other rows.
"""
from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np

from .. import catalogue
from .frame_cycle import cycled_frame, read_frames
from .host import peak_memory_mb

__all__ = ["compare_c_and_python", "CRowSession", "C_ROW_BACKEND"]

C_ROW_BACKEND = "c-openvino"  # RowSpec.backend of a C tracker row (options: bundle, library, threads)


def _median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def _python_update(tracker, frame) -> tuple[float, float]:
    started = time.perf_counter_ns()
    tracker.update(frame)
    total = (time.perf_counter_ns() - started) / 1e6
    return total, tracker.backend.last_search_ms


def _c_update(tracker, frame) -> tuple[float, float]:
    tracker.update(frame)
    timing = tracker.get_timing()
    return timing.last_update_ms, timing.last_inference_ms


def compare_c_and_python(bundle: str | Path, library: str | Path, frames: list[np.ndarray], init_box,
                         count: int = 200, warmup: int = 20, threads: int | None = None) -> dict:
    """Per-update medians (ms) of both trackers over ``count`` interleaved updates, cycling the
    frames (each tracker restarts from ``init_box`` at the start of every cycle)."""
    from ..c_tracker import CTracker
    from ..runtimes import load_backend
    from ..tracker import Tracker

    samples = {"c": [], "c_graph": [], "python": [], "python_graph": []}
    runs_c = next(name for name, entry in catalogue.backends().items() if entry.c_library)  # the C library's runtime
    python = Tracker(load_backend(runs_c, bundle=bundle, threads=threads))
    with CTracker(bundle, library, threads=threads or 0) as c_tracker:
        for tracker in (python, c_tracker):
            tracker.init(frames[0], init_box)
        for i in range(warmup + count):
            frame, restart = cycled_frame(frames, i)
            if restart:
                python.state = init_box
                c_tracker.set_state(init_box)
            c_total, c_graph = _c_update(c_tracker, frame)
            py_total, py_graph = _python_update(python, frame)
            if i >= warmup:
                for key, value in zip(samples, (c_total, c_graph, py_total, py_graph)):
                    samples[key].append(value)
        info = c_tracker.get_info()
    return _summary(samples, info, count)


def _summary(samples: dict, info: dict, count: int) -> dict:
    medians = {key: _median(values) for key, values in samples.items()}
    return {
        "updates": count,
        "c_update_ms": medians["c"],
        "c_graph_ms": medians["c_graph"],
        "c_outside_graph_ms": _median([t - g for t, g in zip(samples["c"], samples["c_graph"])]),
        "python_update_ms": medians["python"],
        "python_graph_ms": medians["python_graph"],
        "python_outside_graph_ms": _median([t - g for t, g in zip(samples["python"], samples["python_graph"])]),
        "python_over_c": medians["python"] / medians["c"],
        "inference_precision": info["inference_precision"],
        "openvino_version": info["openvino_version"],  # the OpenVINO the C library runs on
    }


class CRowSession:
    """The C tracker as a ``bench`` row (the worker side, like ``row_worker.RowSession``).

    Its update and the graph's share of it are the C library's own monotonic-clock figures, so
    the row's "search" is the inference inside each update (there is no separate graph call to
    time) and "outside" is the rest of the update: crop, resize, decoding the heatmaps. Its
    "template" is a whole ``init`` (crop and template graph), timed from Python."""

    def __init__(self, spec, frames_dir: str, init_box):
        from ..c_tracker import CTracker

        options = spec.options
        self.spec, self.init_box = spec, tuple(init_box)
        self.frames = read_frames(frames_dir)
        self.tracker = CTracker(options["bundle"], options["library"], threads=options.get("threads") or 0)
        self.tracker.init(self.frames[0], self.init_box)
        self._steps = 0

    def _update(self) -> tuple[int, int]:
        frame, restart = cycled_frame(self.frames, self._steps)
        if restart:
            self.tracker.set_state(self.init_box)
        self.tracker.update(frame)
        self._steps += 1
        timing = self.tracker.get_timing()
        return int(timing.last_update_ms * 1e6), int(timing.last_inference_ms * 1e6)

    def _init(self) -> int:
        started = time.perf_counter_ns()
        self.tracker.init(self.frames[0], self.init_box)
        return time.perf_counter_ns() - started

    def measure(self, frames: int, templates: int, warmup: int) -> dict:
        for _ in range(warmup):
            self._update()
        template = [self._init() for _ in range(templates)]
        self.tracker.set_state(self.init_box)
        self._steps = 0
        updates = [self._update() for _ in range(frames)]
        return {"template": template, "search": [graph for _, graph in updates],
                "e2e": [total for total, _ in updates], "outside": [total - graph for total, graph in updates]}

    def finish(self) -> dict:
        from ..runtimes.openvino_backend import hinted_label

        info = self.tracker.get_info()
        facts = {"streams": 1, "variant": info.get("variant"), "peak_rss_mb": peak_memory_mb(), "gpu_peak_mb": None,
                 "runtime": f"C library {self.tracker.library_version} over openvino {info['openvino_version']} "
                            f"(inference precision {info['inference_precision']})",
                 "executes": hinted_label(self.spec.precision, info["inference_precision"])}
        self.tracker.close()
        return facts

