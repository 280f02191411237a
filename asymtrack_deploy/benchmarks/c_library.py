"""The C tracker beside the Python tracker over the same OpenVINO bundle, timed interleaved.

One process, one bundle, both trackers on the same frames: each round times one C update (its
own monotonic clock, reported through the binding) and then one Python update, so load from
other jobs on a shared host falls on both alike; only the ratio of the two is meaningful there.
``c_tracker_row`` gives the benchmark row (the ``bench`` command can add it when the C library
is built); ``compare_c_and_python`` gives the full figures.
"""
from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np

__all__ = ["compare_c_and_python", "c_tracker_row"]


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
    python = Tracker(load_backend("openvino", bundle=bundle, threads=threads))
    with CTracker(bundle, library, threads=threads or 0) as c_tracker:
        for tracker in (python, c_tracker):
            tracker.init(frames[0], init_box)
        for i in range(warmup + count):
            frame = frames[1 + i % (len(frames) - 1)]
            if i % (len(frames) - 1) == 0:
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
        "openvino": info["openvino_version"],
    }


def c_tracker_row(bundle: str | Path, library: str | Path, frames: list[np.ndarray], init_box,
                  count: int = 200, warmup: int = 20, threads: int | None = None) -> dict:
    """A benchmark row for the C tracker: its per-update latency and FPS, with the interleaved
    Python tracker's figures beside it for the ratio."""
    figures = compare_c_and_python(bundle, library, frames, init_box, count, warmup, threads)
    return {
        "label": "C library (openvino)",
        "backend": "c-openvino",
        "tracker_update_p50_ms": figures["c_update_ms"],
        "tracker_fps": 1000.0 / figures["c_update_ms"],
        "search_p50_ms": figures["c_graph_ms"],
        "interleaved_python": figures,
    }
