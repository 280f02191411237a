"""Accuracy parity of an exported bundle against the PyTorch reference (exit 0 pass, 1 fail, 2 bad input)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..limits import MAX_THREADS
from .common import frame_source, parse_box
from .console import err, fail, out

NO_ARGS_IS_HELP = False


def command(
    bundle: Annotated[Path, typer.Option(help="The exported bundle to check.")],
    checkpoint: Annotated[Optional[Path], typer.Option(help="The PyTorch checkpoint the bundle came from (default: demo weights).")] = None,
    frames: Annotated[Optional[Path], typer.Option(help="A folder of images.")] = None,
    video: Annotated[Optional[Path], typer.Option(help="A video file.")] = None,
    init: Annotated[Optional[str], typer.Option(help="Initial box x,y,w,h (needed with --frames/--video).")] = None,
    max_frames: Annotated[Optional[int], typer.Option(min=2, help="Use at most this many frames.")] = None,
    min_iou: Annotated[Optional[float], typer.Option(help="Teacher-forced IoU every frame must reach (default per precision).")] = None,
    backend: Annotated[Optional[str], typer.Option(help="Backend to run the bundle with (default: from its target).")] = None,
    threads: Annotated[Optional[int], typer.Option(min=1, max=MAX_THREADS, help="Threads for each backend (default: the library's).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    from ..parity import ParityThresholds, run_parity
    from .. import catalogue
    from ..runtimes import load_backend, load_bundle_backend
    from .progress import Stages

    try:
        source, default_box = frame_source(None, frames, video, limit=max_frames)
        box = parse_box(init) if init else default_box
        if box is None:
            raise typer.BadParameter("--init x,y,w,h is needed with --frames or --video")
        options = {"threads": threads} if threads else {}
        with Stages("parity") as stages:
            stages.stage("loading the bundle and the PyTorch reference")
            candidate = load_bundle_backend(bundle, backend=backend, **options)
            reference = load_backend(catalogue.reference_backend(), variant=candidate.info.variant, checkpoint=checkpoint, threads=threads)
            thresholds = ParityThresholds(candidate.info.precision, min_iou, candidate.info.target)
            stages.stage("reading the frames")
            report = run_parity(reference, candidate, source, box, thresholds, limit=max_frames,
                                progress=_frames_progress(stages))
    except (ValueError, OSError, ImportError, typer.BadParameter) as exc:
        fail(str(exc))
    _check_source_checkpoint(bundle, checkpoint, report)
    if as_json:
        out.print_json(json.dumps(report.to_dict()))
    else:
        _render(report, bundle)
    raise typer.Exit(0 if report.passed else 1)


def _frames_progress(stages):
    """run_parity's per-frame callback as a counted stage (its total is known at the first frame)."""

    def frame_done(done: int, total: int) -> None:
        if done == 1:
            stages.stage("frames, teacher-forced and free-running", total=total)
        stages.advance()

    return frame_done


def _check_source_checkpoint(bundle: Path, checkpoint: Path | None, report) -> None:
    """Comparing against other weights than the bundle's is allowed, but said."""
    from ..bundle import file_sha256, load_bundle
    from ..runtimes.torch_backend import default_checkpoint

    path = checkpoint or default_checkpoint()
    expected = getattr(load_bundle(bundle, verify=False).manifest.source, "checkpoint_sha256", None)
    if path is not None and expected and file_sha256(path) != expected:
        report.notes.append(f"{path} is not the checkpoint this bundle was exported from (sha256 differs)")


def _render(report, bundle: Path) -> None:
    from rich.table import Table

    verdict = "[bold green]PASS[/]" if report.passed else "[bold red]FAIL[/]"
    t = Table(title=f"Parity of {bundle} ({report.precision}) against the PyTorch reference: {verdict}")
    t.add_column("measure")
    t.add_column("value", justify="right")
    rows = [
        ("frames", f"{report.frames}"),
        ("teacher-forced min IoU", f"{report.teacher_forced_min_iou:.6f}"),
        ("teacher-forced mean IoU", f"{report.teacher_forced_mean_iou:.6f}"),
        ("teacher-forced max box difference (px)", f"{report.teacher_forced_max_px:.4f}"),
        ("teacher-forced max score difference", f"{report.teacher_forced_max_score_diff:.2e}"),
        ("free-running min IoU", f"{report.free_running_min_iou:.6f}"),
        ("free-running mean IoU", f"{report.free_running_mean_iou:.6f}"),
        ("frames until the tracks part (IoU < 0.5)", "never" if report.frames_until_part is None else str(report.frames_until_part)),
        ("required teacher-forced min IoU", f"{report.min_iou_threshold}"),
        ("strictest threshold that passes", f"{report.smallest_passing_min_iou:.6f}"),
    ]
    for name, value in rows:
        t.add_row(name, value)
    out.print(t)
    for note in report.notes:
        err.print(f"[yellow]note:[/] {note}")
