"""Benchmark every installed backend side by side with the official way of running AsymTrack."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..catalogue import PRECISIONS, backend_names
from ..limits import MAX_THREADS
from .console import err, fail, out
from .options import Variant


def command(
    variant: Annotated[Variant, typer.Option(help="Model variant.")] = Variant.tiny,
    backends: Annotated[Optional[str], typer.Option(help="Comma-separated backends (default: all installed).")] = None,
    precisions: Annotated[str, typer.Option(help="Comma-separated precisions to try.")] = ",".join(PRECISIONS),
    device: Annotated[str, typer.Option(help="cpu or cuda (torch rows and the baseline).")] = "cpu",
    threads: Annotated[Optional[int], typer.Option(min=1, max=MAX_THREADS, help="Threads per backend (default: the library's).")] = None,
    frames: Annotated[int, typer.Option(min=2, help="Timed frames per row.")] = 200,
    warmup: Annotated[int, typer.Option(min=0, help="Untimed warm-up frames per row.")] = 20,
    rounds: Annotated[int, typer.Option(min=1, help="Interleaved rounds: each measures every row, in rotated order; speed-ups are the median of the per-round ratios.")] = 5,
    streams: Annotated[int, typer.Option(min=1, help="Targets tracked together with batched graphs.")] = 1,
    checkpoint: Annotated[Optional[Path], typer.Option(help="Weights (default: demo weights, else random: timing does not depend on them).")] = None,
    cache_dir: Annotated[Optional[Path], typer.Option(help="Where exported bundles are kept between runs.")] = None,
    c_library: Annotated[Optional[Path], typer.Option(help="libasymtrack.so for the C tracker's rows (default: $ASYMTRACK_C_LIBRARY, else build/c/ or build/libasymtrack.so if built).")] = None,
    json_path: Annotated[Optional[Path], typer.Option("--json", help="Write the run, with raw per-frame timings, here.")] = None,
    plot: Annotated[Optional[Path], typer.Option(help="Write a PNG bar chart of FPS here.")] = None,
) -> None:
    _check_outputs(json_path, plot)  # first: the run takes minutes, these are written at its end
    from functools import partial

    from ..benchmarks import machine_info, run_rows
    from ..benchmarks.host import cpu_times, steal_pct
    from ..benchmarks.plan import plan_rows
    from ..export import cached_bundle
    from ..runtimes import available_backends
    from ..runtimes.torch_backend import default_checkpoint
    from ..sources import builtin_sequence
    from .progress import Stages

    chosen = _backends(backends, available_backends())
    wanted = _precisions(precisions)
    if device not in ("cpu", "cuda"):
        raise typer.BadParameter(f"--device must be cpu or cuda, got {device!r}")
    checkpoint = checkpoint or default_checkpoint()
    if checkpoint is not None and not checkpoint.is_file():
        fail(f"{checkpoint}: no such checkpoint")
    sequence = builtin_sequence()
    bundle_for = partial(cached_bundle, variant=variant.value, checkpoint=checkpoint, cache_dir=cache_dir)
    with Stages("bench") as stages:
        try:
            plan = plan_rows(variant.value, chosen, wanted, device, checkpoint, threads, streams,
                             _announced(bundle_for, stages), _c_library(c_library))
        except (ValueError, OSError) as exc:  # a checkpoint that does not fit, an unwritable cache
            fail(str(exc))
        for note in plan.skipped:
            stages.note(f"[yellow]skipped[/] {note}")
        before = cpu_times()
        stages.stage("measuring rows in interleaved rounds", total=len(plan.rows) * rounds)
        rows = run_rows(plan.rows, sequence.folder, sequence.init_box, frames, warmup, rounds,
                        on_row=lambda r: stages.advance(f"round {r['round'] + 1}/{rounds}: {r['label']} {r['precision']}"))
    run = {
        "machine": {**machine_info(threads, device), "steal_pct": steal_pct(before, cpu_times())},
        "settings": {"variant": variant.value, "device": device, "frames": frames, "warmup": warmup,
                     "rounds": min(rounds, frames), "streams": streams,
                     "weights": str(checkpoint) if checkpoint else "random (seed 0)",
                     "sequence": f"built-in {sequence.name}: {sequence.source}"},
        "skipped": plan.skipped,
        "rows": rows,
    }
    _render(run)
    _write_outputs(run, json_path, plot)


def _check_outputs(json_path: Path | None, plot: Path | None) -> None:
    """--json and --plot are written after minutes of measuring: found unwritable first."""
    from ..outputs import check_writable

    try:
        for path, what in ((json_path, "the benchmark's JSON"), (plot, "the plot")):
            if path is not None:
                check_writable(path, what)
    except ValueError as exc:
        fail(str(exc))


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


def _backends(text: str | None, installed: list[str]) -> list[str]:
    if text is None:
        return [b for b in backend_names() if b in installed]
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in backend_names()]
    if unknown:
        raise typer.BadParameter(f"unknown backend(s) {', '.join(unknown)}: expected {', '.join(backend_names())}")
    missing = [n for n in names if n not in installed]
    if missing:
        fail(f"backend(s) not installed here: {', '.join(missing)} (installed: {', '.join(installed)})")
    return names


def _precisions(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in PRECISIONS]
    if bad or not names:
        raise typer.BadParameter(f"precisions must be among {', '.join(PRECISIONS)}, got {text!r}")
    return names


def _render(run: dict) -> None:
    from rich.table import Table

    from ..benchmarks.display import COLUMNS, gpu_line, machine_line, row_cells, run_notes

    m, s = run["machine"], run["settings"]
    table = Table(title=f"AsymTrack-{s['variant']}: {s['frames']} frames of the built-in sequence, {s['device']}")
    for column, _ in COLUMNS:
        table.add_column(column, justify="left" if column in ("row", "parity") else "right")
    for row in run["rows"]:
        table.add_row(*row_cells(row))
    out.print(table)
    if m.get("gpu"):
        out.print(f"GPU: {gpu_line(m['gpu'])}")
    out.print(f"Machine: {machine_line(m)}. " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()))
    out.print(f"Weights: {s['weights']}. Speed-ups are against the baseline row of this run. {m['caveats']}")
    for note in run_notes(run):
        out.print(f"[yellow]{note}[/]" if note.startswith("WARNING") else note)


def _write_outputs(run: dict, json_path: Path | None, plot: Path | None) -> None:
    """Checked writable at the start; a disk that fills meanwhile is still one line (the table
    above holds the results)."""
    try:
        if json_path:
            json_path.write_text(json.dumps(run, indent=1))
            err.print(f"wrote {json_path}")
        if plot:
            from ..benchmarks.display import plot_fps

            plot_fps(run, plot)
            err.print(f"wrote {plot}")
    except OSError as exc:
        fail(f"{exc.filename or json_path or plot}: cannot write it ({exc.strerror or exc}); the table above has the results")
