"""Benchmark rows measured in interleaved rounds, each row in its own process, on real frames.

Each row (a backend + precision) gets its own spawned process, loaded once: one runtime's
threads, caches and allocations never colour another row, and the process peak memory belongs
to that row alone. The rows are then measured in rounds: every round measures every row (its
share of the frames: template calls, search calls on the crops of a real trajectory, and whole
tracker updates on decoded frames), one row at a time, the order rotated by one each round. A
shared host's noise (other guests, steal time) changes within seconds; measuring all rows close
together and rotating the order puts each row in each part of a round, so a ratio taken per round
compares rows under the same conditions. ``add_speedups`` reports the median and the range of the
per-round ratios to the baseline. Per segment the /proc/stat steal time and the CPU time of the
idle rows' processes are recorded, so a row measured while the host stole time, or while another
row's threads kept spinning, is visible as such.
"""
from __future__ import annotations

import multiprocessing
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .host import cpu_times, process_cpu_seconds
from .row_worker import serve
from .timing import LatencyStats

__all__ = ["RowSpec", "run_rows", "add_speedups", "bundle_facts", "round_sizes", "round_spread", "DEFAULT_ROUNDS"]

DEFAULT_ROUNDS = 5
_SEGMENT_WARMUP = 5  # untimed calls at the start of each segment, at most
_TIMED_TEMPLATES = 50  # template calls per row, over all rounds, at most
_KINDS = ("template", "search", "e2e", "outside")


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


def round_sizes(total: int, rounds: int) -> list[int]:
    """``total`` spread over at most ``rounds`` rounds, none empty (unless ``total`` is 0)."""
    rounds = max(1, min(rounds, total)) if total else 1
    return [total // rounds + (1 if r < total % rounds else 0) for r in range(rounds)]


class _Worker:
    """The parent's handle on one row's process."""

    def __init__(self, ctx, spec: RowSpec, frames_dir: str, init_box, warmup: int):
        self.spec = spec
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=serve, args=(child, spec, frames_dir, tuple(init_box), warmup), daemon=True)
        self.process.start()
        child.close()
        self.error: str | None = None
        self.segments: list[dict] = []

    def receive(self) -> dict | None:
        """The row's next answer; None (and ``error`` set) when it failed or its process died."""
        try:
            reply = self.conn.recv()
        except (EOFError, OSError):
            reply = {"error": f"the row's process ended without an answer (exit code {self.process.exitcode})"}
        if "error" in reply:
            self.error = self.error or reply["error"]
            return None
        return reply

    def ask(self, *command) -> dict | None:
        if self.error:
            return None
        self.conn.send(command)
        return self.receive()

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.process.pid) or 0.0

    def close(self) -> None:
        self.conn.close()
        self.process.join(timeout=30)
        if self.process.is_alive():
            self.process.terminate()


def _measure_segment(worker: _Worker, idle: list[_Worker], where: tuple[int, int], frames: int, templates: int,
                     warmup: int) -> None:
    """One row's segment of a round, with the host's steal and the idle rows' CPU around it."""
    before, idle_before, started = cpu_times(), [w.cpu_seconds() for w in idle], time.perf_counter()
    reply = worker.ask("measure", frames, templates, warmup)
    wall, after = time.perf_counter() - started, cpu_times()
    if reply is None:
        return
    idle_cpu = sum(w.cpu_seconds() for w in idle) - sum(idle_before)
    ticks = {"steal_ticks": after.steal - before.steal, "total_ticks": after.total - before.total} if before and after else {}
    worker.segments.append({"round": where[0], "position": where[1], "frames": frames, "wall_s": wall,
                            "idle_workers_cpu_s": idle_cpu, **ticks, **reply})


def _rotated(items: list, by: int) -> list:
    by %= max(len(items), 1)
    return items[by:] + items[:by]


def _await_ready(worker: _Worker, on_stage) -> None:
    """Wait until the row is loaded and warmed up (or failed), telling ``on_stage`` each step."""
    while True:
        reply = worker.receive()
        stage = reply.get("stage") if reply else None
        if on_stage:
            on_stage({"label": worker.spec.label, "precision": worker.spec.precision,
                      "stage": stage or ("ready" if reply else "failed")})
        if stage is None:
            return


def run_rows(specs: list[RowSpec], frames_dir: str | Path, init_box, count: int, warmup: int,
             rounds: int = DEFAULT_ROUNDS, on_row=None, on_stage=None, on_rounds=None) -> list[dict]:
    """Measure every row in ``rounds`` interleaved rounds (``count`` timed frames per row in all);
    a failing row is reported, not fatal. The rows load and warm up in parallel first:
    ``on_stage`` gets {"label", "precision", "stage"} as each row is "warming up", then "ready"
    or "failed"; ``on_rounds()`` is called when the rounds begin; ``on_row`` after each segment
    with {"label", "precision", "round"}: rounds x rows calls in all."""
    ctx = multiprocessing.get_context("spawn")
    workers = [_Worker(ctx, spec, str(frames_dir), init_box, warmup) for spec in specs]
    try:
        for worker in workers:
            _await_ready(worker, on_stage)
        if on_rounds:
            on_rounds()
        sizes = round_sizes(count, rounds)
        templates = round_sizes(min(count, _TIMED_TEMPLATES), len(sizes)) + [0] * len(sizes)
        for r, frames in enumerate(sizes):
            for position, worker in enumerate(_rotated(workers, r)):
                idle = [w for w in workers if w is not worker and not w.error]
                _measure_segment(worker, idle, (r, position), frames, templates[r], min(warmup, _SEGMENT_WARMUP))
                if on_row:
                    on_row({"label": worker.spec.label, "precision": worker.spec.precision, "round": r})
        facts = [worker.ask("finish") for worker in workers]
    finally:
        for worker in workers:
            worker.close()
    return add_speedups([_row(worker, fact) for worker, fact in zip(workers, facts)])


def _identity(spec: RowSpec) -> dict:
    return {"label": spec.label, "backend": spec.backend, "precision": spec.precision, "baseline": spec.baseline}


def _ms(samples_ns) -> np.ndarray:
    return np.asarray(samples_ns, dtype=np.float64) / 1e6


def _round_summary(segment: dict) -> dict:
    """One round of one row: its medians and what the host did meanwhile."""
    summary = {k: segment[k] for k in ("round", "position", "frames")}
    summary["search_p50"] = float(np.median(_ms(segment["search"]))) if segment["search"] else None
    summary["e2e_mean"] = float(np.mean(_ms(segment["e2e"]))) if segment["e2e"] else None
    summary["outside_p50"] = float(np.median(_ms(segment["outside"]))) if segment["outside"] else None
    summary["steal_pct"] = _share(segment.get("steal_ticks"), segment.get("total_ticks"))
    summary["idle_workers_cpu_pct"] = 100.0 * segment["idle_workers_cpu_s"] / max(segment["wall_s"], 1e-9)
    return summary


def _share(part, whole) -> float | None:
    return 100.0 * part / whole if part is not None and whole else None


def _row(worker: _Worker, facts: dict | None) -> dict:
    """The row's record: pooled statistics, per-round summaries, raw timings, host facts."""
    if worker.error or facts is None:
        return {**_identity(worker.spec), "error": worker.error or "no answer"}
    segments = worker.segments
    raw = {k: [ns for s in segments for ns in s[k]] for k in _KINDS}
    row = {**_identity(worker.spec), "bundle": worker.spec.bundle, **facts}
    for kind in _KINDS:
        row[kind] = LatencyStats.from_ns(raw[kind]).to_dict() if raw[kind] else None
    row["fps"] = 1000.0 * row["streams"] / row["e2e"]["mean"]
    row["rounds"] = [_round_summary(s) for s in segments]
    row["steal_pct"] = _share(sum(s.get("steal_ticks", 0) for s in segments), sum(s.get("total_ticks", 0) for s in segments))
    row["idle_workers_cpu_pct"] = 100.0 * sum(s["idle_workers_cpu_s"] for s in segments) / max(sum(s["wall_s"] for s in segments), 1e-9)
    row["raw_ns"] = raw
    if worker.spec.bundle:
        row.update(bundle_facts(worker.spec.bundle))
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


def _per_round(row: dict, key: str) -> dict[int, float]:
    """round -> the row's figure ``key`` in it (per target for search p50, FPS for e2e)."""
    streams = max(row.get("streams", 1), 1)
    values = {}
    for summary in row.get("rounds", []):
        if summary.get(key) is None:
            continue
        values[summary["round"]] = summary[key] / streams if key == "search_p50" else 1000.0 * streams / summary[key]
    return values


def _ratios(base: dict, row: dict, key: str, invert: bool) -> list[float]:
    """The row's ratio to the baseline in each round both measured."""
    ours, theirs = _per_round(row, key), _per_round(base, key)
    pairs = [(theirs[r], ours[r]) for r in sorted(ours) if r in theirs]
    return [b / o if invert else o / b for b, o in pairs]


def round_spread(row: dict) -> float | None:
    """The row's slowest round over its fastest (mean tracker update): 1.0 when every round took
    the same time. On a quiet host the baseline's is a few percent; on a busy one it is the
    visible sign that its rounds ran under different conditions."""
    means = [r["e2e_mean"] for r in row.get("rounds", []) if r.get("e2e_mean")]
    return max(means) / min(means) if len(means) >= 2 else None


def add_speedups(rows: list[dict]) -> list[dict]:
    """Speed-ups over the baseline row of the same run: the median and range of the per-round
    ratios of search p50 (per target) and of tracker FPS."""
    base = next((r for r in rows if r.get("baseline") and "error" not in r), None)
    for row in rows:
        for name, key, invert in (("search_p50", "search_p50", True), ("fps", "e2e_mean", False)):
            ratios = [] if base is None or "error" in row else _ratios(base, row, key, invert)
            row[f"speedup_{name}"] = float(np.median(ratios)) if ratios else None
            row[f"speedup_{name}_range"] = [min(ratios), max(ratios)] if ratios else None
            row[f"speedup_{name}_rounds"] = ratios
    return rows
