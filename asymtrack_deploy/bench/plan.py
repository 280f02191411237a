"""Which rows a benchmark run has, and the bundles they need.

The baseline row is always first: the reference model run eagerly the way the official
profiling script does (template cached, backbone and head per frame, fp32). Every other row is
a (backend, precision) pair that this machine can run; the bundle of a bundle row comes from
``bundle_for(target, precision, batch)`` (in the command line: ``export.cached_bundle``, which
exports on first use and reuses afterwards), the target from ``catalogue.bench_target``.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .. import catalogue
from .c_library import C_ROW_BACKEND
from .rows import RowSpec

__all__ = ["BenchPlan", "plan_rows"]

BundleFor = Callable[[str, str, int], Path]  # (target, precision, batch) -> bundle folder


@dataclass
class BenchPlan:
    rows: list[RowSpec]
    skipped: list[str]  # "backend precision: why"


def _checkpoint_rows(entry: catalogue.BackendEntry, precisions, device, weights, threads,
                     streams) -> tuple[list[RowSpec], list[str]]:
    """Rows of a backend that runs the checkpoint (the PyTorch reference), at the precisions its
    registry entry runs on ``device``."""
    rows, skipped = [], []
    runs = entry.checkpoint_precisions
    for precision in precisions:
        where = [d for d, offered in runs.items() if precision in offered]
        if not where:
            skipped.append(f"{entry.name} {precision}: not offered (use an exported {precision} bundle)")
        elif device not in where:
            skipped.append(f"{entry.name} {precision}: {', '.join(d.upper() for d in where)} only")
        else:
            opts = {**weights, entry.device_option: device, "precision": precision, "batch": streams, "threads": threads}
            rows.append(RowSpec(entry.label(device), entry.name, precision, opts))
    return rows, skipped


def _bundle_rows(entry: catalogue.BackendEntry, precisions, streams, threads, bundle_for: BundleFor,
                 device: str = "cpu") -> tuple[list[RowSpec], list[str]]:
    why_not = _not_on(entry, device)
    if why_not:
        return [], [why_not]
    rows, skipped = [], []
    for precision in precisions:
        target = catalogue.bench_target(entry.name, precision)
        if target is None:
            skipped.append(f"{entry.name} {precision}: no export target for it in this version")
            continue
        try:
            folder = bundle_for(target, precision, streams)
        except Exception as exc:  # an export that fails is a finding to show, not a crash
            skipped.append(f"{entry.name} {precision}: export failed: {exc}")
            continue
        rows.append(_bundle_row(entry, precision, folder, threads, device))
    return rows, skipped


def _bundle_row(entry: catalogue.BackendEntry, precision: str, folder: Path, threads, device: str) -> RowSpec:
    opts = {"bundle": str(folder), **({"threads": threads} if threads else {})}
    if device != "cpu" and entry.device_option:
        opts[entry.device_option] = device
    return RowSpec(entry.label(device), entry.name, precision, opts, bundle=str(folder))


def _not_on(entry: catalogue.BackendEntry, device: str) -> str | None:
    """Why a bundle backend has no rows on ``device`` here (None: it has)."""
    if device not in entry.devices:
        return f"{entry.name}: {entry.not_on_cuda or 'does not run on ' + device}"
    if device == "cpu":
        return None
    return catalogue.load_object(entry.cls).unavailable_on(device)


C_ROW_PRECISIONS = ("fp32", "int8")  # the verified default and the fast path


def _c_rows(rows: list[RowSpec], library: Path | None, streams: int, threads) -> tuple[list[RowSpec], list[str]]:
    """The C tracker over the OpenVINO bundles of ``C_ROW_PRECISIONS`` already planned."""
    runs_c = {name for name, entry in catalogue.backends().items() if entry.c_library}  # its bundles run in C too
    openvino = [r for r in rows if r.backend in runs_c and r.precision in C_ROW_PRECISIONS]
    if not openvino:
        return [], []
    if library is None:
        return [], ["C library: not built (see runtime-c/README.md), or give bench --c-library PATH"]
    if streams != 1:
        return [], ["C library: tracks one target per tracker (--streams 1 only)"]
    return [RowSpec("C library (openvino)", C_ROW_BACKEND, r.precision,
                    {"bundle": r.bundle, "library": str(library), "threads": threads}, bundle=r.bundle)
            for r in openvino], []


def plan_rows(
    variant: str,
    backends: list[str],
    precisions: list[str],
    device: str,
    checkpoint: Path | None,
    threads: int | None,
    streams: int,
    bundle_for: BundleFor,
    c_library: Path | None = None,
) -> BenchPlan:
    """The baseline plus one row per runnable (backend, precision), and the C tracker's rows
    over the OpenVINO bundles when ``c_library`` (``libasymtrack.so``) is given."""
    weights = {"variant": variant, **({"checkpoint": str(checkpoint)} if checkpoint else {"random_weights": True, "seed": 0})}
    official = next(e for e in catalogue.backends().values() if e.baseline)
    baseline = RowSpec("official PyTorch (eager)", official.name, "fp32",
                       {**weights, official.device_option: device, "batch": streams, "threads": threads}, baseline=True)
    rows, skipped = [baseline], []
    for entry in map(catalogue.backend_entry, backends):
        if entry.checkpoint:
            more, why = _checkpoint_rows(entry, precisions, device, weights, threads, streams)
        else:
            more, why = _bundle_rows(entry, precisions, streams, threads, bundle_for, device)
        rows += more
        skipped += why
    if device == "cpu":
        more, why = _c_rows(rows, c_library, streams, threads)
        rows += more
        skipped += why
    return BenchPlan(rows, skipped)
