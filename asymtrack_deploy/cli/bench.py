"""Benchmark every installed backend side by side with the official way of running AsymTrack."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from .. import catalogue
from ..catalogue import PRECISIONS, backend_names
from ..limits import MAX_THREADS
from .console import err, fail, out
from .options import Variant


def command(
    variant: Annotated[Variant, typer.Option(help="Model variant.")] = Variant.tiny,
    backends: Annotated[Optional[str], typer.Option(help="Comma-separated backends (default: all installed).")] = None,
    precisions: Annotated[Optional[str], typer.Option(help=f"Comma-separated precisions to try (default: {','.join(PRECISIONS)}; --quick: fp32).")] = None,
    device: Annotated[str, typer.Option(help="cpu or cuda (torch rows and the baseline).")] = "cpu",
    threads: Annotated[Optional[int], typer.Option(min=1, max=MAX_THREADS, help="Threads per backend (default: the library's).")] = None,
    frames: Annotated[Optional[int], typer.Option(min=2, help="Timed frames per row (default 200; --quick: 30).")] = None,
    warmup: Annotated[Optional[int], typer.Option(min=0, help="Untimed warm-up frames per row (default 20; --quick: 5).")] = None,
    rounds: Annotated[Optional[int], typer.Option(min=1, help="Interleaved rounds: each measures every row, in rotated order; speed-ups are the median of the per-round ratios (default 5; --quick: 3).")] = None,
    quick: Annotated[bool, typer.Option("--quick", help="A first look in about a minute on 2 cores: fp32 rows, 30 frames, 3 rounds (options given explicitly win).")] = False,
    wide: Annotated[bool, typer.Option("--wide", help="Every column (latency percentiles, template, outside the graph, steal, files, memory); the default table fits 100 columns. --json keeps everything.")] = False,
    streams: Annotated[int, typer.Option(min=1, help="Targets tracked together with batched graphs.")] = 1,
    checkpoint: Annotated[Optional[Path], typer.Option(help="Weights (default: demo weights, else random: timing does not depend on them).")] = None,
    cache_dir: Annotated[Optional[Path], typer.Option(help="Where exported bundles are kept between runs.")] = None,
    c_library: Annotated[Optional[Path], typer.Option(help="libasymtrack.so for the C tracker's rows (default: $ASYMTRACK_C_LIBRARY, else build/c/ or build/libasymtrack.so if built).")] = None,
    json_path: Annotated[Optional[Path], typer.Option("--json", help="Write the run, with raw per-frame timings, here.")] = None,
    plot: Annotated[Optional[Path], typer.Option(help="Write a PNG bar chart of FPS here.")] = None,
) -> None:
    _check_outputs(json_path, plot)  # first: the run takes minutes, these are written at its end
    from functools import partial

    from ..bench import machine_info, run_rows
    from ..bench.host import LoadWatch, cpu_times, steal_pct
    from ..bench.plan import plan_rows
    from ..export import cached_bundle
    from ..runtimes import available_backends
    from ..runtimes.torch_backend import default_checkpoint
    from ..sources import builtin_sequence
    from .progress import Stages

    watch = LoadWatch()
    watch.before()  # the load the machine had before bench added its own
    preset = QUICK if quick else FULL
    precisions, frames, warmup, rounds = (given if given is not None else preset[name] for name, given in
                                          (("precisions", precisions), ("frames", frames), ("warmup", warmup), ("rounds", rounds)))
    (chosen, elsewhere), wanted = _backends(backends, available_backends()), _precisions(precisions)
    _check_device(device)
    checkpoint = checkpoint or default_checkpoint()
    if checkpoint is not None and not checkpoint.is_file():
        fail(f"{checkpoint}: no such checkpoint")
    sequence = builtin_sequence()
    bundle_for = partial(cached_bundle, variant=variant.value, checkpoint=checkpoint, cache_dir=cache_dir)
    with Stages("bench") as stages:
        _warn_early(watch, stages)
        try:
            plan = plan_rows(variant.value, chosen, wanted, device, checkpoint, threads, streams,
                             _announced(bundle_for, stages), _c_library(c_library))
        except (ValueError, OSError) as exc:  # a checkpoint that does not fit, an unwritable cache
            fail(str(exc))
        plan.skipped += elsewhere
        for note in plan.skipped:
            stages.note(f"[yellow]skipped[/] {escape(note)}")  # notes hold pip extras: "[rknn]"
        before = cpu_times()
        progress = _RowProgress(stages, plan.rows, min(rounds, frames), watch)
        rows = run_rows(plan.rows, sequence.folder, sequence.init_box, frames, warmup, rounds,
                        on_row=progress.measured, on_stage=progress.loaded, on_rounds=progress.rounds_begin)
    run = {
        "machine": {**machine_info(threads, device), "steal_pct": steal_pct(before, cpu_times())},
        "host": _host_record(watch, rows),
        "settings": {"variant": variant.value, "device": device, "frames": frames, "warmup": warmup,
                     "rounds": min(rounds, frames), "streams": streams, "quick": quick,
                     "weights": str(checkpoint) if checkpoint else "random (seed 0)",
                     "sequence": f"built-in {sequence.name}: {sequence.source}"},
        "skipped": plan.skipped,
        "rows": rows,
    }
    _render(run, wide)
    _write_outputs(run, json_path, plot)


def _check_device(device: str) -> None:
    if device not in ("cpu", "cuda"):
        raise typer.BadParameter(f"--device must be cpu or cuda, got {device!r}")


def _check_outputs(json_path: Path | None, plot: Path | None) -> None:
    """--json and --plot are written after minutes of measuring: found unwritable first."""
    from ..outputs import check_writable

    try:
        for path, what in ((json_path, "the benchmark's JSON"), (plot, "the plot")):
            if path is not None:
                check_writable(path, what)
    except ValueError as exc:
        fail(str(exc))


FULL = {"precisions": ",".join(PRECISIONS), "frames": 200, "warmup": 20, "rounds": 5}
QUICK = {"precisions": "fp32", "frames": 30, "warmup": 5, "rounds": 3}


class _RowProgress:
    """What bench shows while it runs: each row loading and warming up (in parallel, each in
    its own process), then every round's rows with the time left, sampling the host's load as
    it goes."""

    def __init__(self, stages, rows, rounds: int, watch):
        self.stages, self.rounds, self.watch = stages, rounds, watch
        self.segments, self.done, self.started = len(rows) * rounds, 0, 0.0
        stages.stage(f"loading {len(rows)} rows (each in its own process), then warming each up", total=2 * len(rows))

    def loaded(self, event: dict) -> None:
        self.stages.advance(f"{event['label']} {event['precision']}: {event['stage']}")

    def rounds_begin(self) -> None:
        import time

        self.watch.start()
        self.started = time.perf_counter()
        self.stages.stage(f"measuring rows in {self.rounds} interleaved rounds", total=self.segments)

    def measured(self, event: dict) -> None:
        import time

        self.watch.sample()
        self.done += 1
        left = (time.perf_counter() - self.started) / self.done * (self.segments - self.done)
        self.stages.advance(f"round {event['round'] + 1}/{self.rounds}: {event['label']} {event['precision']}, "
                            f"about {left:.0f} s left")


def _warn_early(watch, stages) -> None:
    """A host already busy when bench starts is said at once, not only under the table."""
    from ..bench.host import busy_reasons

    for reason in busy_reasons(watch.summary()):
        stages.note(f"[yellow]warning: {reason}: the speed-ups of this run may mean nothing[/]")


def _host_record(watch, rows: list[dict]) -> dict:
    """The host's load before and during the rounds, whether it was too busy for the ratios
    (``reasons``), and the baseline's round-to-round spread as the evidence."""
    from ..bench.host import busy_reasons
    from ..bench.rows import round_spread

    load = watch.summary()
    baseline = next((r for r in rows if r.get("baseline") and "error" not in r), None)
    reasons = busy_reasons(load)
    return {**load, "busy": bool(reasons), "reasons": reasons,
            "baseline_round_spread": round_spread(baseline) if baseline else None}


def _c_library(given: Path | None) -> Path | None:
    """The C library for the C tracker's rows: the option, the environment, or a CMake build
    folder of runtime-c/README.md or .ci/run (run from the repository); None when none is built."""
    import os

    if given is not None:
        if not given.is_file():
            fail(f"--c-library {given}: no such file (build it: see runtime-c/README.md)")
        return given
    for candidate in (os.environ.get("ASYMTRACK_C_LIBRARY"), "build/c/libasymtrack.so", "build/libasymtrack.so"):
        if candidate and Path(candidate).is_file():
            return Path(candidate).resolve()
    return None


def _announced(bundle_for, stages):
    """``bundle_for`` with a progress stage per bundle (an export the first time, then cached)."""

    def bundle(target: str, precision: str, batch: int):
        stages.stage(f"bundle {target} {precision}, batch {batch} (exported once, then cached)")
        return bundle_for(target, precision, batch)

    return bundle


def _backends(text: str | None, installed: list[str]) -> tuple[list[str], list[str]]:
    """The backends to measure, and skipped notes for those that run only on hardware absent here."""
    if text is None:
        return [b for b in backend_names() if b in installed], _runs_elsewhere(text, installed)
    names = _named(text)
    unknown = [n for n in names if n not in backend_names()]
    if unknown:
        raise typer.BadParameter(f"unknown backend(s) {', '.join(unknown)}: expected {', '.join(backend_names())}")
    missing = [n for n in names if n not in installed and not catalogue.backend_entry(n).missing]
    if missing:
        fail(f"backend(s) not installed here: {', '.join(missing)} (installed: {', '.join(installed)})")
    return [n for n in names if n in installed], _runs_elsewhere(text, installed)


def _runs_elsewhere(text: str | None, installed: list[str]) -> list[str]:
    """Skipped notes for the asked (default: all) backends that run only on their own hardware
    (an NPU) and are absent here: what their registry entry says instead of a row."""
    asked = _named(text) if text is not None else backend_names()
    return [f"{n}: {catalogue.backend_entry(n).missing}" for n in asked
            if n not in installed and catalogue.backend_entry(n).missing]


def _named(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def _precisions(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in PRECISIONS]
    if bad or not names:
        raise typer.BadParameter(f"precisions must be among {', '.join(PRECISIONS)}, got {text!r}")
    return names


def _render(run: dict, wide: bool) -> None:
    from rich.table import Table

    from ..bench.display import gpu_line, host_warning, machine_line, row_cells, run_notes, table_columns

    m, s = run["machine"], run["settings"]
    busy = host_warning(run)
    table = Table(title=f"AsymTrack-{s['variant']}: {s['frames']} frames of the built-in sequence, {s['device']}",
                  caption="[bold yellow]host too busy: the speed-ups are not meaningful (WARNING below)[/]" if busy else None)
    columns = table_columns(wide)
    for column, _ in columns:
        table.add_column(column, justify="left" if column in ("row", "parity") else "right")
    for row in run["rows"]:
        table.add_row(*row_cells(row, columns))
    out.print(table)
    lines = [f"GPU: {gpu_line(m['gpu'])}"] if m.get("gpu") else []
    lines += [f"Machine: {machine_line(m)}. " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()),
              f"Weights: {s['weights']}. Speed-ups are against the baseline row of this run. {m['caveats']}"]
    for line in lines:  # wrapped at the terminal's width (or COLUMNS), like the table
        out.print(escape(line), soft_wrap=False)
    for note in run_notes(run):
        out.print(f"[yellow]{escape(note)}[/]" if note.startswith("WARNING") else escape(note), soft_wrap=False)


def _write_outputs(run: dict, json_path: Path | None, plot: Path | None) -> None:
    """Checked writable at the start; a disk that fills meanwhile is still one line (the table
    above holds the results)."""
    try:
        if json_path:
            json_path.write_text(json.dumps(run, indent=1))
            err.print(f"wrote {json_path}")
        if plot:
            from ..bench.display import plot_fps

            plot_fps(run, plot)
            err.print(f"wrote {plot}")
    except OSError as exc:
        fail(f"{exc.filename or json_path or plot}: cannot write it ({exc.strerror or exc}); the table above has the results")
