"""Describe a model variant or checkpoint (sizes, parameters, FLOPs, template state), or a bundle (--bundle DIR)."""
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
    bundle: Annotated[
        Optional[Path], typer.Option(help="Describe this exported bundle (its manifest) instead.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    if bundle is not None:
        if checkpoint is not None:
            raise typer.BadParameter("give either --bundle or --checkpoint, not both")
        _describe_bundle(bundle, as_json)
        return
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
        summary.update(_checkpoint_facts(checkpoint))
    summary["machine"] = _machine_here()
    if as_json:
        out.print_json(json.dumps(summary))
    else:
        _render(summary)


def _checkpoint_facts(path: Path) -> dict:
    """What identifies a downloaded checkpoint: its sha256 and the form the file is in (the
    model above is always run in deploy form; a training-form file is fused on load)."""
    from ..bundle import file_sha256
    from ..models.checkpoint import is_deploy_form, read_state_dict

    form = "deploy (OPE fused)" if is_deploy_form(read_state_dict(path)) else "training (OPE unfused: official release)"
    return {"checkpoint": str(path), "checkpoint_form": form, "checkpoint_sha256": file_sha256(path)}


def _render(s: dict) -> None:
    from rich.table import Table

    t = Table(title=f"AsymTrack-{s['variant']}", show_header=False)
    t.add_column(style="bold")
    t.add_column()
    for key in ("form", "template_size", "search_size", "template_factor", "search_factor", "feature_size"):
        t.add_row(key.replace("_", " "), str(s[key]))
    if "checkpoint" in s:
        t.add_row("checkpoint", s["checkpoint"])
        t.add_row("checkpoint form", s["checkpoint_form"])
        t.add_row("checkpoint sha256", s["checkpoint_sha256"])
    for name, n in s["parameters"].items():
        t.add_row(f"parameters: {name}", f"{n:,} ({n / 1e6:.2f} M)")
    for name, f in s["flops"].items():
        t.add_row(f"FLOPs: {name} branch", f"{f / 1e9:.3f} G")
    t.add_row("this machine", f"{s['machine']['cpu']}; ISA: {', '.join(s['machine']['isa']) or 'n/a'}")
    out.print(t)
    st = Table(title="Template state (passed from the template branch to the search branch)")
    st.add_column("tensor")
    st.add_column("shape")
    for name, shape in s["template_state"].items():
        st.add_row(name, "x".join(map(str, shape)))
    out.print(st)


# -- bundles ---------------------------------------------------------------------------------------


def _describe_bundle(path: Path, as_json: bool) -> None:
    """The manifest of ``path`` (files checked against their sha256) as tables or JSON."""
    from ..bundle import load_bundle

    try:
        bundle = load_bundle(path)
    except ValueError as exc:
        fail(str(exc))
    manifest = bundle.manifest.to_dict()
    if as_json:
        out.print_json(json.dumps(manifest))
        return
    _render_summary(bundle.root, manifest)
    _render_graphs(manifest)
    for section in ("export", "parity", "runtime", "calibration"):
        if manifest.get(section):
            _render_section(section, manifest[section])
    _render_section("on this machine", _runtime_here(bundle))


def _machine_here() -> dict:
    """The CPU by name and the ISA features that decide which precisions are fast on it (on ARM:
    NEON, its fp16 arithmetic, dot product, i8mm, SVE)."""
    from ..bench.host import cpu_model, isa_features

    return {"cpu": cpu_model(), "isa": isa_features()}


def _runtime_here(bundle) -> dict:
    """What the bundle's backend runs on this machine: the precision a runtime executes can
    differ from the bundle's (OpenVINO picks per CPU), so the backend is loaded and asked."""
    from ..runtimes import load_bundle_backend

    machine = _machine_here()
    machine = {"cpu": machine["cpu"], "isa": ", ".join(machine["isa"]) or "n/a"}
    try:
        with load_bundle_backend(bundle.root) as backend:
            extra = backend.info.extra
            here = {**machine, "runtime": backend.describe(), **{k: extra[k] for k in ("inference_precision", "executes")
                                                      if extra.get(k) is not None}}
            if hasattr(backend, "executed_precisions"):  # OpenVINO: read once, in this short-lived process
                here["executed_precisions"] = backend.executed_precisions()
            return here
    except (ImportError, ValueError, RuntimeError) as exc:  # not installed, refused here (bf16)
        return {**machine, "not runnable here": str(exc)}


def _render_summary(root: Path, m: dict) -> None:
    from rich.table import Table

    t = Table(title=f"Bundle {root}", show_header=False)
    t.add_column(style="bold")
    t.add_column()
    model, pre, source = m["model"], m["preprocess"], m["source"]
    weights = source["checkpoint"] or f"random weights (seed {source['seed']})"
    for key, value in (
        ("variant", model["variant"]),
        ("target / precision", f"{m['target']} / {m['precision']}"),
        ("batch", m["batch"]),
        ("opset", m["opset"]),
        ("template", f"{model['template_size']} px, factor {model['template_factor']}"),
        ("search", f"{model['search_size']} px, factor {model['search_factor']}"),
        ("input", f"{pre['dtype']} {pre['layout']} {pre['color_order'].upper()}, "
                  f"normalised in graph: {pre['in_graph']}"),
        ("weights", weights),
        ("checkpoint sha256", source["checkpoint_sha256"] or "-"),
        ("created (UTC)", m["created_utc"]),
        ("toolkit / schema", f"{m['toolkit_version']} / {m['schema_version']}"),
    ):
        t.add_row(key, str(value))
    out.print(t)


def _render_graphs(m: dict) -> None:
    from rich.table import Table

    t = Table(title="Graphs and files (sha256 verified)")
    for col in ("graph", "role", "file", "size", "sha256"):
        t.add_column(col)
    for graph, spec in m["graphs"].items():
        for role, name in spec["files"].items():
            rec = m["files"][name]
            t.add_row(graph, role, name, f"{rec['bytes'] / 1e6:.2f} MB", rec["sha256"][:16] + "...")
    out.print(t)
    io = Table(title="Tensors")
    for col in ("graph", "kind", "name", "shape", "dtype"):
        io.add_column(col)
    for graph, spec in m["graphs"].items():
        for kind in ("inputs", "outputs"):
            for tensor in spec[kind]:
                io.add_row(graph, kind[:-1], tensor["name"], "x".join(map(str, tensor["shape"])), tensor["dtype"])
    out.print(io)


def _flatten(data, prefix: str = "") -> list[tuple[str, str]]:
    """Nested dicts as dotted keys; floats to 4 significant digits, lists joined."""
    if isinstance(data, dict):
        rows = []
        for key, value in data.items():
            rows += _flatten(value, f"{prefix}.{key}" if prefix else str(key))
        return rows
    if isinstance(data, float):
        return [(prefix, f"{data:.4g}")]
    if isinstance(data, (list, tuple)):
        return [(prefix, ", ".join(map(str, data)))]
    return [(prefix, str(data))]


def _render_section(title: str, data: dict) -> None:
    from rich.markup import escape
    from rich.table import Table

    t = Table(title=title.capitalize(), show_header=False)
    t.add_column(style="bold")
    t.add_column()
    for key, value in _flatten(data):
        t.add_row(key, escape(value))  # manifest text and error messages are not markup ("[rknn]")
    out.print(t)
