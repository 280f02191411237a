"""Option parsing shared by the commands that open a backend or read frames."""
from __future__ import annotations

import math
from pathlib import Path

import typer


def parse_box(text: str) -> tuple[float, float, float, float]:
    """'x,y,w,h' -> four floats, or a BadParameter that says what was expected."""
    parts = [p for p in text.replace(" ", "").split(",") if p]
    try:
        box = tuple(float(p) for p in parts)
    except ValueError:
        raise typer.BadParameter(f"expected x,y,w,h as four numbers, got {text!r}") from None
    if len(box) != 4:
        raise typer.BadParameter(f"expected x,y,w,h as four numbers, got {text!r}")
    if not all(math.isfinite(v) for v in box):  # nan, inf, 1e400
        raise typer.BadParameter(f"expected x,y,w,h as four finite numbers, got {text!r}")
    if box[2] <= 0 or box[3] <= 0:
        raise typer.BadParameter(f"w and h must be > 0, got {text!r}")
    return box


def open_backend(
    bundle: Path | None,
    checkpoint: Path | None,
    variant: str,
    backend: str | None = None,
    device: str = "cpu",
    threads: int | None = None,
):
    """A bundle's backend, or the torch reference for a checkpoint (the demo weights when none)."""
    from ..runtimes import load_backend, load_bundle_backend

    if bundle is not None:
        if checkpoint is not None:
            raise typer.BadParameter("give either --bundle or --checkpoint, not both")
        options = {"threads": threads} if threads else {}
        return load_bundle_backend(bundle, backend=backend, **options)
    reference = checkpoint_backend(backend)
    return load_backend(reference, variant=variant, checkpoint=checkpoint, device=device, threads=threads)


def checkpoint_backend(backend: str | None) -> str:
    """The backend that runs a checkpoint: ``backend`` if its registry entry runs checkpoints,
    the reference when None, else a BadParameter (a bundle backend needs --bundle)."""
    from .. import catalogue

    reference = catalogue.reference_backend()
    if backend is not None and not catalogue.backend_entry(backend).checkpoint:
        raise typer.BadParameter(f"--backend {backend} needs --bundle (only {reference} runs a checkpoint)")
    return backend or reference


def frame_source(source: str | None, frames: Path | None = None, video: Path | None = None, limit: int | None = None):
    """Frames from SOURCE, --frames DIR or --video FILE; the built-in sequence when none."""
    from ..sources import builtin_sequence, open_source

    given = [s for s in (source, frames, video) if s is not None]
    if len(given) > 1:
        raise typer.BadParameter("give one frame source (--frames DIR or --video FILE)")
    if not given:
        seq = builtin_sequence()
        return open_source(seq.folder, limit=limit), seq.init_box
    return open_source(given[0], limit=limit), None
