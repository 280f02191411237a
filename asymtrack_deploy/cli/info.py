"""Describe a model variant (or a checkpoint): sizes, parameters, FLOPs per branch, template state."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from .console import fail, out
from .options import Variant


def command(
    variant: Annotated[Variant, typer.Option(help="Model variant.")] = Variant.tiny,
    checkpoint: Annotated[Optional[Path], typer.Option(help="Load this checkpoint first (checks it fits).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    from ..models import CheckpointError, build_model, load_checkpoint
    from ..models.summary import model_summary

    model = build_model(variant.value)
    if checkpoint is not None:
        try:
            load_checkpoint(model, checkpoint)
        except CheckpointError as exc:
            fail(str(exc))
    summary = model_summary(model)
    if checkpoint is not None:
        summary["checkpoint"] = str(checkpoint)
    if as_json:
        out.print_json(json.dumps(summary))
    else:
        _render(summary)


def _render(s: dict) -> None:
    from rich.table import Table

    t = Table(title=f"AsymTrack-{s['variant']}", show_header=False)
    t.add_column(style="bold")
    t.add_column()
    for key in ("form", "template_size", "search_size", "template_factor", "search_factor", "feature_size"):
        t.add_row(key.replace("_", " "), str(s[key]))
    if "checkpoint" in s:
        t.add_row("checkpoint", s["checkpoint"])
    for name, n in s["parameters"].items():
        t.add_row(f"parameters: {name}", f"{n:,} ({n / 1e6:.2f} M)")
    for name, f in s["flops"].items():
        t.add_row(f"FLOPs: {name} branch", f"{f / 1e9:.3f} G")
    out.print(t)
    st = Table(title="Template state (passed from the template branch to the search branch)")
    st.add_column("tensor")
    st.add_column("shape")
    for name, shape in s["template_state"].items():
        st.add_row(name, "x".join(map(str, shape)))
    out.print(st)
