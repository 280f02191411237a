"""Evaluate on a benchmark: metrics beside FPS, a JSON summary, a success plot and submission files.

GOT-10k, LaSOT, TrackingNet, OTB, UAV123, a folder of sequences or the procedural set. Resumes an
interrupted run; several --bundle options are compared side by side.
"""
from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from .console import fail, out
from .options import Variant

NO_ARGS_IS_HELP = True


class DatasetName(str, Enum):
    got10k_val = "got10k-val"
    got10k_test = "got10k-test"
    lasot = "lasot"
    trackingnet = "trackingnet"
    otb = "otb"
    uav = "uav"
    folder = "folder"
    procedural = "procedural"


def command(
    dataset: Annotated[DatasetName, typer.Option(help="Benchmark layout to read under --root.")],
    root: Annotated[Path, typer.Option(help="Dataset folder (for procedural: where sequences are rendered).")],
    bundle: Annotated[Optional[list[Path]], typer.Option(help="Exported bundle; repeat to compare bundles side by side.")] = None,
    checkpoint: Annotated[Optional[Path], typer.Option(help="PyTorch checkpoint, run by the torch reference (first column when bundles are given too; default: demo weights).")] = None,
    backend: Annotated[Optional[str], typer.Option(help="Backend for --bundle (default: from its target).")] = None,
    variant: Annotated[Variant, typer.Option(help="Variant of --checkpoint.")] = Variant.tiny,
    device: Annotated[str, typer.Option(help="torch device for --checkpoint.")] = "cpu",
    workers: Annotated[int, typer.Option(min=1, help="Sequences tracked in parallel processes.")] = 1,
    out_dir: Annotated[Path, typer.Option("--out", help="Results folder (a rerun resumes from it).")] = Path("eval_results"),
    limit_sequences: Annotated[Optional[int], typer.Option(min=1, help="Only the first N sequences.")] = None,
    random_weights: Annotated[bool, typer.Option(hidden=True, help="torch with random weights (pipeline smoke tests).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summaries as JSON.")] = False,
) -> None:
    from ..eval import DatasetError, load_dataset, run_dataset
    from .progress import Stages

    _check_outputs(out_dir, root if dataset is DatasetName.procedural else None)
    specs = _specs(bundle or [], checkpoint, backend, variant.value, device, random_weights)
    # the procedural set is rendered on first use: render only as many sequences as will run
    options = {"num_sequences": limit_sequences} if dataset is DatasetName.procedural and limit_sequences else {}
    results = []
    with Stages("eval") as stages:
        stages.stage(f"reading {dataset.value}" + (" (rendered on first use)" if dataset is DatasetName.procedural else ""))
        try:
            data = load_dataset(dataset.value, root, **options).limit(limit_sequences)
        except (DatasetError, ValueError) as exc:
            fail(str(exc))
        for spec in specs:
            try:
                results.append(_run_one(data, spec, out_dir, workers, run_dataset, stages))
            except (ValueError, OSError, ImportError) as exc:
                fail(f"{spec.label}: {exc}")
            except RuntimeError as exc:
                fail(f"{spec.label}: {exc}", code=1)
    extra = {}
    if len(results) > 1:
        from ..eval.runner import write_comparison

        extra = write_comparison(results, results[0].folder.parent)
    _render(data, results, extra, as_json)


def _check_outputs(out_dir: Path, rendered_root: Path | None) -> None:
    """The results folder (and a procedural set's root, rendered on first use) writable before
    any sequence is read or tracked."""
    from ..outputs import check_writable

    try:
        check_writable(out_dir, "the results (--out)", folder=True)
        if rendered_root is not None:
            check_writable(rendered_root, "the procedural sequences (--root)", folder=True)
    except ValueError as exc:
        fail(str(exc))


def _specs(bundles, checkpoint, backend, variant, device, random_weights):
    """The torch reference first when a checkpoint is given, then each bundle; with only
    bundles, the bundles; with nothing, the torch reference on the demo weights."""
    from ..eval import TrackerSpec
    from .common import checkpoint_backend

    specs = []
    if checkpoint is not None or random_weights or not bundles:
        reference = checkpoint_backend(None if bundles else backend)
        options = {"variant": variant, "checkpoint": str(checkpoint) if checkpoint else None, "device": device}
        if random_weights:
            options["random_weights"] = True
        tag = checkpoint.stem.split(".")[0] if checkpoint else ("random" if random_weights else "demo")
        specs.append(TrackerSpec(f"{reference}-{variant}-{tag}", backend=reference, options=options))
    labels = _unique([b.resolve().name for b in bundles])
    specs += [TrackerSpec(lbl, backend=backend, bundle=str(b)) for lbl, b in zip(labels, bundles)]
    return specs


def _unique(labels: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    unique = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        unique.append(label if seen[label] == 1 else f"{label}-{seen[label]}")
    return unique


def _run_one(data, spec, out_dir, workers, run_dataset, stages):
    """One tracker over the dataset: a counted stage, a line per sequence in a log."""
    stages.stage(f"{spec.label} on {data.name}", total=len(data))
    result = run_dataset(data, spec, out_dir, workers=workers, progress=lambda name: stages.advance(name))
    resumed = len(data) - len(result.ran)
    if resumed:
        stages.note(f"{spec.label}: {resumed} of {len(data)} sequences resumed from {result.folder / 'raw'}")
    return result


def _render(data, results, extra: dict, as_json: bool) -> None:
    from ..eval import compare

    summaries = [r.summary for r in results]
    rows = compare(summaries)
    if as_json:
        out.print_json(json.dumps({"runs": summaries, "comparison": rows}, default=float))
        return
    from rich.table import Table

    table = Table(title=f"{data.name}: {len(data)} sequences ({summaries[0]['protocol']} protocol)")
    table.add_column("metric", style="bold")
    for i, r in enumerate(results):
        table.add_column(r.label, justify="right")
        if i:
            table.add_column(f"Δ {r.label}", justify="right")
    for row in rows:
        cells = []
        for i, (value, diff) in enumerate(zip(row["values"], row["diff"])):
            cells.append(f"{value:.2f}")
            if i:
                cells.append(f"{diff:+.2f}")
        table.add_row(row["metric"], *cells)
    out.print(table)
    if summaries[0]["protocol"] == "none":
        out.print("ground truth withheld: upload the submission file to the benchmark's server")
    for r in results:
        for kind, path in r.files.items():
            out.print(f"{r.label} {kind}: {path}")
    for kind, path in extra.items():
        out.print(f"{kind}: {path}")
