"""Run a tracker over every sequence of a dataset, resumably, in one or several processes.

Each sequence's record is written atomically as soon as it finishes (``results.write_record``),
and a run skips sequences whose record is already there, so a run that was stopped (killed,
out of time, a crash on one sequence) continues where it stopped and ends with the same
summary. With ``workers > 1`` each worker process builds its own tracker once from a picklable
:class:`TrackerSpec` (processes are spawned, never forked, so a parent that already loaded a
runtime library does not hand its threads' state to the children).

Timing covers only the tracker's calls (``init`` for frame 0, ``update`` for the others), not
reading images from disk.

Layout under ``out/<dataset>/<label>/``: ``raw/`` (records), ``summary.json``, ``success.png``
and, per dataset, ``<label>_got10k.zip`` + ``got10k/``, ``<label>_trackingnet.zip`` or
``results/`` (LaSOT/pytracking layout).
"""
from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from ..datasets import Sequence
from .named_datasets import Dataset
from .report import compare, evaluate, plot_success
from .results import (
    SequenceRecord,
    atomic_write_text,
    read_record,
    record_exists,
    write_got10k_submission,
    write_lasot_results,
    write_record,
    write_trackingnet_submission,
)

__all__ = ["TrackerSpec", "RunResult", "track_sequence", "run_dataset", "evaluate_run", "write_comparison"]


@dataclass(frozen=True)
class TrackerSpec:
    """How to build a tracker, picklable so worker processes can each build their own:
    ``TrackerSpec("bundle-fp32", bundle="out/tiny")`` (backend from the bundle's manifest unless
    ``backend`` is given) or ``TrackerSpec("torch-tiny", backend="torch", options={"variant":
    "tiny", "checkpoint": PATH})``."""

    label: str
    backend: str | None = None
    bundle: str | None = None
    options: dict = field(default_factory=dict)
    color_order: str = "bgr"

    def build(self):
        from .. import catalogue
        from ..runtimes import load_backend, load_bundle_backend
        from ..tracker import Tracker

        if self.bundle is not None:
            backend = load_bundle_backend(self.bundle, backend=self.backend, **self.options)
        else:
            backend = load_backend(self.backend or catalogue.reference_backend(), **self.options)
        return Tracker(backend, color_order=self.color_order)


def track_sequence(tracker, sequence: Sequence) -> SequenceRecord:
    """One pass: ``init`` on frame 0 with the first ground-truth box (recorded as the frame's
    output, as the toolkits do), ``update`` on every later frame."""
    n = len(sequence)
    boxes, times, scores = np.zeros((n, 4)), np.zeros(n), np.ones(n)
    boxes[0] = sequence.init_box
    frame = sequence.frame(0)
    t0 = time.perf_counter()
    tracker.init(frame, sequence.init_box)
    times[0] = time.perf_counter() - t0
    for i in range(1, n):
        frame = sequence.frame(i)
        t0 = time.perf_counter()
        result = tracker.update(frame)
        times[i] = time.perf_counter() - t0
        boxes[i], scores[i] = result.box, result.score
    return SequenceRecord(boxes, times, scores)


# -- worker processes ----------------------------------------------------------------------------
_WORKER_TRACKER = None


def _worker_init(spec, threads: int | None, parent: int | None = None) -> None:
    """Build the worker's tracker once; cap intra-op threads so workers do not oversubscribe;
    end with the parent process ``parent`` however it ends (``kill -9`` included)."""
    global _WORKER_TRACKER
    if parent is not None:
        _exit_with_parent(parent)
    if threads:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(var, str(threads))
        import cv2

        cv2.setNumThreads(threads)
    try:
        _WORKER_TRACKER = spec.build()
    except Exception as exc:  # an initializer error would only break the pool; report it per task
        _WORKER_TRACKER = exc


def _exit_with_parent(parent: int) -> None:
    """Make this worker die with ``parent``: the kernel's parent-death signal on Linux, and a
    thread that polls the parent's pid everywhere (a worker orphaned before the signal was set,
    or on another system). Without this a killed ``eval --workers N`` left N workers running."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _worker_run(sequence: Sequence, raw_dir: Path) -> str:
    if isinstance(_WORKER_TRACKER, Exception):
        raise _same_kind(_WORKER_TRACKER, f"building the tracker failed: {_WORKER_TRACKER}")
    write_record(raw_dir, sequence.name, track_sequence(_WORKER_TRACKER, sequence))
    return sequence.name


def _same_kind(exc: BaseException, message: str) -> Exception:
    """An error saying ``message``, of the kind that says whose fault it was, the same with one
    worker or several: bad input (a ValueError: a corrupt frame, a bad box, non-finite outputs;
    an ImportError: a missing library) stays so, anything else is a RuntimeError."""
    for kind in (ValueError, ImportError):
        if isinstance(exc, kind):
            return kind(message)
    return RuntimeError(message)


def _run_inline(spec, pending: list[Sequence], raw_dir: Path, progress: Callable[[str], None]) -> None:
    tracker = spec.build()
    for seq in pending:
        try:
            write_record(raw_dir, seq.name, track_sequence(tracker, seq))
        except Exception as exc:
            raise _same_kind(exc, f"sequence {seq.name}: {exc}") from exc
        progress(seq.name)


def _run_pool(spec, pending: list[Sequence], raw_dir: Path, workers: int, progress) -> None:
    threads = max(1, (os.cpu_count() or 1) // workers)
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_worker_init,
                             initargs=(spec, threads, os.getpid())) as pool:
        futures = {pool.submit(_worker_run, seq, raw_dir): seq.name for seq in pending}
        for future in as_completed(futures):
            try:
                future.result()
            except Exception as exc:
                pool.shutdown(wait=True, cancel_futures=True)  # finished records stay on disk
                raise _same_kind(exc, f"sequence {futures[future]}: {exc}") from exc
            progress(futures[future])


# -- whole runs ----------------------------------------------------------------------------------
@dataclass
class RunResult:
    label: str
    folder: Path
    summary: dict
    ran: list[str]  # sequences tracked in this call (the rest were resumed from disk)
    files: dict[str, str]


def run_dir(out: Path, dataset: Dataset, label: str) -> Path:
    return Path(out) / dataset.name / label


def run_dataset(dataset: Dataset, spec, out: Path, workers: int = 1,
                progress: Callable[[str], None] | None = None) -> RunResult:
    """Track every sequence not yet recorded under ``out``, then evaluate all of them and write
    the summary, plot and submission files. ``progress(name)`` is called per finished sequence."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    folder = run_dir(out, dataset, spec.label)
    raw = folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    pending = [s for s in dataset.sequences if not record_exists(raw, s.name)]
    progress = progress or (lambda name: None)
    if pending:
        if workers == 1 or len(pending) == 1:
            _run_inline(spec, pending, raw, progress)
        else:
            _run_pool(spec, pending, raw, min(workers, len(pending)), progress)
    summary, files = evaluate_run(dataset, folder, spec.label)
    return RunResult(spec.label, folder, summary, [s.name for s in pending], files)


def evaluate_run(dataset: Dataset, folder: Path, label: str) -> tuple[dict, dict[str, str]]:
    """Evaluate the records in ``folder/raw`` (all from disk, so a resumed run and an
    uninterrupted one give the same summary) and write the summary, plot and submissions."""
    folder = Path(folder)
    records = {s.name: read_record(folder / "raw", s.name) for s in dataset.sequences}
    summary = evaluate(dataset, records, label)
    files = _write_outputs(dataset, records, folder, label)
    if plot := plot_success([summary], folder / "success.png", f"{dataset.name}: {label}"):
        files["plot"] = str(plot)
    files["summary"] = str(folder / "summary.json")
    summary["files"] = files
    atomic_write_text(folder / "summary.json", json.dumps(summary, indent=2) + "\n")
    return summary, files


def _write_outputs(dataset: Dataset, records: dict, folder: Path, label: str) -> dict[str, str]:
    if dataset.submission == "got10k" or dataset.name == "got10k-val":
        zip_path = write_got10k_submission(records, folder / "got10k", folder / f"{label}_got10k.zip")
        return {"submission": str(zip_path)}
    if dataset.submission == "trackingnet":
        return {"submission": str(write_trackingnet_submission(records, folder / f"{label}_trackingnet.zip"))}
    return {"results": str(write_lasot_results(records, folder / "results"))}


def write_comparison(results: list[RunResult], folder: Path) -> dict[str, str]:
    """Several runs on one dataset: ``comparison.json`` (each headline metric per run and its
    difference to the first run) and ``comparison.png`` (their success curves together)."""
    folder = Path(folder)
    summaries = [r.summary for r in results]
    payload = {"runs": [r.label for r in results], "rows": compare(summaries)}
    atomic_write_text(folder / "comparison.json", json.dumps(payload, indent=2) + "\n")
    files = {"comparison": str(folder / "comparison.json")}
    if plot := plot_success(summaries, folder / "comparison.png", f"{summaries[0]['dataset']}: comparison"):
        files["comparison plot"] = str(plot)
    return files
