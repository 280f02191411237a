"""Benchmark rows: one backend + precision, measured in a fresh process on real frames.

Each row runs in its own spawned process, so one runtime's threads, caches and allocations do
not colour the next row, and the process peak memory belongs to that row alone. A row measures
the template branch, the search branch on the crops of a real trajectory, and the whole tracker
(crop, search, map back) on the frames, which are decoded before timing starts.
"""
from __future__ import annotations

import concurrent.futures as futures
import multiprocessing
import resource
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .timing import LatencyStats, time_calls

__all__ = ["RowSpec", "run_rows", "measure_row", "add_speedups"]


@dataclass
class RowSpec:
    """What to benchmark: a backend with its constructor options."""

    label: str
    backend: str
    precision: str
    options: dict = field(default_factory=dict)
    baseline: bool = False
    bundle: str | None = None
    streams: int = 1


def _frames(frames_dir: str) -> list[np.ndarray]:
    from ..sources import open_source

    return list(open_source(frames_dir))


def _start(tracker, frames, init_box) -> None:
    tracker.init(frames[0], [init_box] * tracker.size)


def _restart(tracker, init_box) -> None:
    tracker.states = [tuple(init_box)] * tracker.size


def _trajectory_crops(tracker, frames, init_box, count):
    """Search crops along the tracker's own track (cycling the sequence), batch-shaped."""
    from ..crop import crop_rgb

    info = tracker.backend.info
    crops = []
    _start(tracker, frames, init_box)
    for i in range(count):
        frame = frames[1 + i % (len(frames) - 1)]
        crops.append(np.stack([crop_rgb(frame, s, info.search_factor, info.search_size)[0] for s in tracker.states]))
        tracker.update(frame)
    return crops


def _peak_memory_mb() -> float:
    """This process's peak resident memory. VmHWM belongs to the process image, whereas
    ru_maxrss survives exec and would report the parent's peak in a spawned worker."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _device_sync(info):
    """torch.cuda.synchronize for a row whose template state stays on a CUDA device through
    torch: its template() returns before the device work ends. (search() returns host arrays.)"""
    import sys

    torch = sys.modules.get("torch")
    if torch is not None and str(info.extra.get("device", "")).startswith("cuda"):
        return torch.cuda.synchronize
    return None


def _gpu_peak_mb() -> float | None:
    import sys

    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return None


def measure_row(spec: RowSpec, frames_dir: str, init_box, count: int, warmup: int) -> dict:
    """Measure one row (runs inside the worker process)."""
    from ..runtimes import load_backend
    from ..tracker import BatchTracker

    frames = _frames(frames_dir)
    backend = load_backend(spec.backend, **spec.options)
    info = backend.info
    tracker = BatchTracker(backend)
    crops = _trajectory_crops(tracker, frames, init_box, min(count, 4 * len(frames)))
    template_crop = _template_crop(frames[0], init_box, info)
    state = backend.template(template_crop)
    template_ns = time_calls(lambda i: backend.template(template_crop), min(count, 50), min(warmup, 10), _device_sync(info))
    search_ns = time_calls(lambda i: backend.search(crops[i % len(crops)], state), count, warmup)
    e2e_ns = _time_tracker(tracker, frames, init_box, count, warmup)
    row = {
        "label": spec.label, "backend": spec.backend, "precision": spec.precision, "baseline": spec.baseline,
        "bundle": spec.bundle, "streams": info.batch, "variant": info.variant,
        "executes": info.extra.get("executes"),  # the arithmetic the runtime really runs (openvino, onnxruntime)
        "template": LatencyStats.from_ns(template_ns).to_dict(),
        "search": LatencyStats.from_ns(search_ns).to_dict(),
        "e2e": LatencyStats.from_ns(e2e_ns).to_dict(),
        "peak_rss_mb": _peak_memory_mb(), "gpu_peak_mb": _gpu_peak_mb(),
        "raw_ns": {"template": template_ns, "search": search_ns, "e2e": e2e_ns},
    }
    row["fps"] = _fps(row, info.batch)
    if spec.bundle:
        row.update(bundle_facts(spec.bundle))
    backend.close()
    return row


def bundle_facts(folder: str) -> dict:
    """What the bundle's manifest says about trust and size: export parity, file sizes."""
    from ..bundle import load_bundle

    manifest = load_bundle(folder, verify=False).manifest
    parity = manifest.parity or {}
    return {
        "parity_passed": parity.get("passed"),
        "parity": {k: v for k, v in parity.items() if not isinstance(v, (list, dict))},
        "files_mb": sum(f.bytes for f in manifest.files.values()) / 2**20,
    }


def _template_crop(frame, box, info):
    from ..crop import crop_rgb

    crop, _ = crop_rgb(frame, box, info.template_factor, info.template_size)
    return np.repeat(crop[None], info.batch, axis=0)


def _time_tracker(tracker, frames, init_box, count, warmup) -> list[int]:
    """Per-frame update time on real frames (crop, search, map back for every target),
    restarting from the initial box at the end of the sequence."""
    _start(tracker, frames, init_box)
    steps = len(frames) - 1

    def step(i: int) -> None:
        if i % steps == 0:
            _restart(tracker, init_box)
        tracker.update(frames[1 + i % steps])

    return time_calls(step, count, warmup)


def _fps(row: dict, streams: int) -> float:
    """Tracker frames per second; with N streams, target-frames per second (N per update)."""
    return 1000.0 * streams / row["e2e"]["mean"]


def run_rows(specs: list[RowSpec], frames_dir: str | Path, init_box, count: int, warmup: int, on_row=None) -> list[dict]:
    """Measure each row in its own spawned process; a failing row is reported, not fatal."""
    rows = []
    ctx = multiprocessing.get_context("spawn")
    for spec in specs:
        with futures.ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
            job = pool.submit(measure_row, spec, str(frames_dir), tuple(init_box), count, warmup)
            try:
                row = job.result()
            except Exception as exc:  # one broken backend must not hide the others
                row = {"label": spec.label, "backend": spec.backend, "precision": spec.precision,
                       "baseline": spec.baseline, "error": f"{type(exc).__name__}: {exc}"}
        rows.append(row)
        if on_row:
            on_row(row)
    return add_speedups(rows)


def _per_target_p50(row: dict) -> float:
    """Search p50 per target: a batched row serves ``streams`` targets per call."""
    return row["search"]["p50"] / max(row.get("streams", 1), 1)


def add_speedups(rows: list[dict]) -> list[dict]:
    """Speed-up of each row over the baseline row of the same run (search p50 and FPS)."""
    base = next((r for r in rows if r.get("baseline") and "error" not in r), None)
    for row in rows:
        if base is None or "error" in row:
            row["speedup_search_p50"] = row["speedup_fps"] = None
            continue
        row["speedup_search_p50"] = _per_target_p50(base) / _per_target_p50(row)
        row["speedup_fps"] = row["fps"] / base["fps"]
    return rows


