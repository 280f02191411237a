"""Export a checkpoint to a deployment bundle (static graphs + manifest.json), checked for parity."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..limits import check_batch
from .common import parse_box
from .console import err, fail, out
from .options import Precision, Target, Variant
from .serve import SERVING_HELP

NO_ARGS_IS_HELP = True


def command(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Bundle folder to write.")],
    target: Annotated[Target, typer.Option(help="What to export to.")] = Target("onnx"),
    variant: Annotated[Variant, typer.Option(help="Model variant (must match the checkpoint).")] = Variant.tiny,
    checkpoint: Annotated[Optional[Path], typer.Option(help="Checkpoint to export (official or deploy form; default: the demo weights, tiny only).")] = None,
    batch: Annotated[int, typer.Option(min=1, help="Targets per call: the graphs' static batch size.")] = 1,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing bundle at --out.")] = False,
    opset: Annotated[int, typer.Option(min=17, help="ONNX opset.")] = 17,
    random_weights: Annotated[
        bool, typer.Option("--random-weights", help="No checkpoint: seeded random weights (runs, does not track).")
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed for --random-weights.")] = 0,
    precision: Annotated[
        Optional[Precision], typer.Option(help="fp32, fp16, int8 (openvino, onnxruntime, tensorrt) or bf16 (openvino, CPUs with AMX or AVX512-BF16); default: fp32, or the target's first precision where it has no fp32.")
    ] = None,
    calib: Annotated[
        Optional[Path],
        typer.Option(help="int8 calibration frames: a video, an image folder or a sequence folder with groundtruth.txt "
                          "(default: the built-in real sequence)."),
    ] = None,
    calib_count: Annotated[
        int, typer.Option(min=1, help="int8 calibration crop pairs (fewer than 32: a warning).")
    ] = 64,
    calib_seed: Annotated[int, typer.Option(help="Seed for drawing the calibration crops.")] = 0,
    calib_box: Annotated[
        Optional[str], typer.Option(help="x,y,w,h of the target in a --calib video or folder without groundtruth.txt.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the manifest as JSON instead of tables.")] = False,
    serving_backend: Annotated[Optional[str], typer.Option("--backend", help=SERVING_HELP["backend"])] = None,
    instances: Annotated[Optional[int], typer.Option(min=1, help=SERVING_HELP["instances"])] = None,
    max_batch: Annotated[Optional[int], typer.Option(min=1, help=SERVING_HELP["max_batch"])] = None,
    platform: Annotated[
        Optional[str], typer.Option(help="The chip a target builds for, where it builds for one (--target rknn: a "
                                         "Rockchip SoC; its converter names the choices).")
    ] = None,
) -> None:
    try:  # before torch and the exporters are imported: refused in a fraction of a second
        check_batch(batch, "--batch")
    except ValueError as exc:
        fail(str(exc))
    if checkpoint is not None and random_weights:
        raise typer.BadParameter("give either --checkpoint or --random-weights, not both")
    if checkpoint is None and not random_weights:
        checkpoint = _demo_weights(variant.value)
    if checkpoint is not None and not checkpoint.is_file():
        fail(f"{checkpoint}: no such checkpoint file")
    options = {"checkpoint": checkpoint, "variant": variant.value, "out_dir": out_dir, "batch": batch, "force": force,
               "opset": opset, "random_weights": random_weights, "seed": seed, "precision": _precision(target.value, precision),
               "calib": calib, "calib_count": calib_count, "calib_seed": calib_seed,
               "calib_box": parse_box(calib_box) if calib_box is not None else None}
    # a target's own options (triton's, a chip), given only when set (another target refuses them)
    options.update({k: v for k, v in (("backend", serving_backend), ("instances", instances),
                                      ("max_batch", max_batch), ("platform", platform)) if v is not None})
    bundle = _export(target.value, options)
    if as_json:
        out.print_json(json.dumps(bundle.manifest.to_dict()))
    else:
        _render(bundle)


def _precision(target: str, given) -> str:
    """--precision, or the target's first precision (fp32 for every target that has it)."""
    from ..catalogue import target_entry

    return given.value if given is not None else target_entry(target).precisions[0]


def _demo_weights(variant: str) -> Path:
    """The demo weights for an export without --checkpoint, as track, parity, bench and eval use
    them, said on stderr (they are weak by design: the README's "Weights" names the official ones)."""
    from ..demo_weights import default_checkpoint

    demo = default_checkpoint()
    if demo is None or variant != "tiny":
        what = "the demo weights are AsymTrack-tiny only" if demo is not None else "no demo weights are installed"
        fail(f"no --checkpoint given and {what}: pass --checkpoint (README: Weights), or --random-weights")
    err.print(f"no --checkpoint: exporting the demo weights ({demo.name}; weak by design, "
              "see the README's \"Weights\" for the official checkpoints)")
    return demo


def _export(target: str, options: dict):
    """Run the exporter; bad input exits 2, a failed check (parity, graph) or a missing library
    exits 1. Calibration warnings are shown, not raised."""
    import warnings

    from rich.markup import escape

    from ..export import export_bundle
    from ..runtimes.base import BackendUnavailable
    from .progress import Stages

    err.print(f"exporting AsymTrack-{options['variant']} to {target} {options['precision']} "
              f"(batch {options['batch']}) in {options['out_dir']}")
    try:
        with warnings.catch_warnings(record=True) as caught, Stages("export") as stages:
            warnings.simplefilter("default")
            bundle = export_bundle(target, progress=stages.stage, advance=stages.advance, **options)
    except FileExistsError as exc:  # the library names its Python option; here it is --force
        fail(str(exc).replace("force=True", "--force"))
    except ValueError as exc:  # CheckpointError is a ValueError
        fail(str(exc))
    except (PermissionError, NotADirectoryError, FileNotFoundError) as exc:  # --out where nothing can be written
        fail(f"{exc.filename or options['out_dir']}: {exc.strerror or exc}; no bundle was written")
    except OSError as exc:  # a full disk, an I/O error: not the input's fault
        fail(f"{exc}; no bundle was written", code=1)
    except BackendUnavailable as exc:  # a runtime library not installed: 2, as in every command
        fail(f"{exc}; no bundle was written")
    except (RuntimeError, ImportError) as exc:  # ParityError, graph checks, a converter's import failing
        fail(f"{exc}; no bundle was written", code=1)  # fail() escapes: "[tensorrt]" is not markup
    for w in caught:
        if w.category.__name__ == "CalibrationWarning":
            err.print(f"[yellow]warning:[/] {escape(str(w.message))}")
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    return bundle


def _render(bundle) -> None:
    from rich.table import Table

    m = bundle.manifest
    t = Table(title=f"Bundle {bundle.root}", show_header=False)
    t.add_column(style="bold")
    t.add_column()
    source = m.source.checkpoint or f"random weights (seed {m.source.seed})"
    for key, value in (
        ("variant", m.model.variant),
        ("target / precision", f"{m.target} / {m.precision}"),
        ("batch", m.batch),
        ("opset", m.opset),
        ("input sizes", f"template {m.model.template_size}, search {m.model.search_size} (RGB uint8 NHWC)"),
        ("weights", source),
        ("simplifier", m.export.get("simplifier", "")),
        *_calibration_rows(m.calibration),
    ):
        t.add_row(key, str(value))
    out.print(t)
    _render_files(bundle)
    _render_parity(m.parity, m.precision)


def _calibration_rows(calibration: dict | None) -> list[tuple[str, str]]:
    if not calibration:
        return []
    text = f"{calibration.get('count')} pairs from {calibration.get('source')} (seed {calibration.get('seed')})"
    return [("calibration", text)]


def _render_files(bundle) -> None:
    from rich.table import Table

    t = Table(title="Files")
    for col in ("file", "size", "sha256"):
        t.add_column(col)
    for name, rec in bundle.manifest.files.items():
        t.add_row(name, f"{rec.bytes / 1e6:.2f} MB", rec.sha256[:16] + "...")
    out.print(t)


def _render_parity(parity: dict, precision: str = "fp32") -> None:
    from rich.table import Table

    t = Table(title=f"Parity of the {precision} graphs against PyTorch (fp32, CPU)", show_header=False)
    t.add_column(style="bold")
    t.add_column()
    t.add_row("max |box diff|", f"{parity['max_abs_box_diff']:.3g} (tolerance {parity['box_tolerance']:g})")
    t.add_row("max |score diff|", f"{parity['max_abs_score_diff']:.3g}")
    t.add_row("crops", parity["crops"])
    t.add_row("runtime", parity.get("runtime", ""))
    t.add_row("result", "[green]passed[/]" if parity.get("passed") else "[red]failed[/]")
    out.print(t)
