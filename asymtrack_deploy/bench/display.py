"""Turning a benchmark run (its JSON) into tables and a chart; no timing here.

The table is ``COLUMNS``: one (header, cell) pair per column, so a new figure in the rows is one
more entry here, shown the same way by the command line (``bench --wide``) and by RESULTS.md;
``COMPACT`` names the columns the command line shows by default (they fit 100 characters).
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .. import catalogue
from .host import STEAL_WARNING_PCT

__all__ = ["COLUMNS", "COMPACT", "table_columns", "row_cells", "markdown", "plot_fps", "gpu_line", "machine_line",
           "run_notes", "host_warning"]


def _f(value, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _stat(kind: str, key: str) -> Callable[[dict], str]:
    return lambda row: _f((row.get(kind) or {}).get(key))


def _parity(row: dict) -> str:
    entry = catalogue.backends().get(row.get("backend"))
    if row.get("baseline") or (entry is not None and entry.checkpoint):  # a checkpoint run is the reference
        return "reference"
    passed = row.get("parity_passed")
    return "—" if passed is None else ("pass" if passed else "FAIL")


def _precision(row: dict) -> str:
    """The bundle's precision, and what the runtime executes where that is something else:
    "int8 (runs int8+bf16)", "fp16 (runs f32)"."""
    executes, precision = row.get("executes"), row["precision"]
    plain = {"fp32": "f32", "fp16": "f16"}.get(precision, precision)
    return f"{precision} (runs {executes})" if executes and executes != plain else precision


def _speedup(name: str) -> Callable[[dict], str]:
    """Median of the per-round ratios, and their range when there are several rounds."""

    def cell(row: dict) -> str:
        median, spread = row.get(f"speedup_{name}"), row.get(f"speedup_{name}_range")
        if median is None:
            return "—"
        if not spread or len(row.get(f"speedup_{name}_rounds") or []) < 2 or row.get("baseline"):
            return f"{median:.2f}x"
        return f"{median:.2f}x ({spread[0]:.2f}-{spread[1]:.2f})"

    return cell


def _label(row: dict) -> str:
    return row["label"] + (" (baseline)" if row.get("baseline") else "")


COLUMNS: tuple[tuple[str, Callable[[dict], str]], ...] = (
    ("row", _label),
    ("precision", _precision),
    ("template p50 ms", _stat("template", "p50")),
    ("search p50 ms", _stat("search", "p50")),
    ("search p90 ms", _stat("search", "p90")),
    ("search p99 ms", _stat("search", "p99")),
    ("outside graph p50 ms", _stat("outside", "p50")),
    ("tracker FPS", lambda row: _f(row.get("fps"), 1)),
    ("search speed-up", _speedup("search_p50")),
    ("FPS speed-up", _speedup("fps")),
    ("steal %", lambda row: _f(row.get("steal_pct"), 0)),
    ("parity", _parity),
    ("files MB", lambda row: _f(row.get("files_mb"))),
    ("peak RSS MB", lambda row: _f(row.get("peak_rss_mb"), 0)),
)
COMPACT = ("row", "precision", "search p50 ms", "tracker FPS", "FPS speed-up", "parity")


def table_columns(wide: bool = True) -> tuple[tuple[str, Callable[[dict], str]], ...]:
    """Every column, or the ``COMPACT`` ones."""
    return COLUMNS if wide else tuple(c for c in COLUMNS if c[0] in COMPACT)


def row_cells(row: dict, columns=COLUMNS) -> list[str]:
    """One table row as strings (also used by the rich table of the CLI)."""
    headers = [header for header, _ in columns]
    if "error" in row:
        cells = [_label(row), row.get("precision", "")] + ["—"] * (len(columns) - 2)
        cells[headers.index("parity")] = row["error"][:60]
        return cells
    return [cell(row) for _, cell in columns]


def gpu_line(gpu: dict) -> str:
    """The GPU of a CUDA run in one line: what it is, and the software under the figures."""
    return (f"{gpu['name']} ({gpu['memory']}, compute capability {gpu['capability']}), driver {gpu.get('driver') or 'n/a'}, "
            f"CUDA {gpu.get('cuda_runtime') or 'n/a'} (torch build), cuDNN {gpu.get('cudnn') or 'n/a'}")


def machine_line(machine: dict) -> str:
    """The CPU in one line, with the ISA features that decide which precisions are fast."""
    isa = ", ".join(machine.get("isa") or []) or "n/a"
    capabilities = machine.get("openvino_capabilities")
    openvino = f"; OpenVINO computes natively: {', '.join(capabilities)}" if capabilities else ""
    return (f"{machine['cpu']} ({machine['logical_cpus']} logical CPUs; ISA: {isa}{openvino}), threads "
            f"{machine.get('threads') or 'library default'}, governor {machine.get('governor') or 'n/a'}")


def host_warning(run: dict) -> str | None:
    """The warning of a run measured on a host too busy for its ratios (None: it was not), with
    the evidence: what was busy, and how much the baseline's rounds differed."""
    host = run.get("host") or {}
    if not host.get("reasons"):
        return None
    spread = host.get("baseline_round_spread")
    evidence = (f"; the baseline's slowest round took {spread:.2f}x its fastest" if spread else "")
    return (f"WARNING: this host was too busy for the speed-ups to mean anything: {'; '.join(host['reasons'])}"
            f"{evidence}. Run bench again on a quiet machine (check with `uptime`).")


def run_notes(run: dict) -> list[str]:
    """The busy-host warning, how the speed-ups were taken, and a warning per row measured under
    high steal time."""
    settings = run["settings"]
    rounds = settings.get("rounds", 1)
    warning = host_warning(run)
    notes = [warning] if warning else []
    notes += [f"Speed-ups: median (and range) of the ratios to the baseline in each of {rounds} interleaved rounds "
             "(every row in each round, order rotated, each row in its own process)."] if rounds > 1 else []
    for row in run["rows"]:
        steal = row.get("steal_pct")
        if steal is not None and steal > STEAL_WARNING_PCT:
            notes.append(f"WARNING: {steal:.0f}% of the CPU time was stolen by the host while {row['label']} "
                         f"{row['precision']} was measured: its absolute figures are slow for reasons outside it.")
    return notes


def markdown(run: dict) -> str:
    """A markdown section for one run: machine, settings, and the table."""
    m, s = run["machine"], run["settings"]
    lines = [f"GPU: {gpu_line(m['gpu'])}."] if m.get("gpu") else []
    rounds = f", {s['rounds']} interleaved rounds" if s.get("rounds") else ""
    lines += [
        f"Machine: {machine_line(m)}; {m['platform']}.",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()) + ".",
        f"Settings: variant {s['variant']}, device {s['device']}, {s['frames']} timed frames after {s['warmup']} "
        f"warm-up{rounds}, streams {s.get('streams', 1)}, weights: {s['weights']}; sequence: {s['sequence']}.",
        "",
        "| " + " | ".join(header for header, _ in COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    lines += ["| " + " | ".join(row_cells(r)) + " |" for r in run["rows"]]
    notes = run_notes(run)
    return "\n".join(lines + ([""] + notes if notes else [])) + "\n"


def plot_fps(run: dict, path: str | Path) -> Path:
    """A bar chart of tracker FPS per row (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in run["rows"] if "error" not in r]
    labels = [f"{r['label']}\n{r['precision']}" for r in rows]
    fps = [r["fps"] for r in rows]
    colors = ["#888888" if r.get("baseline") else "#1f77b4" for r in rows]
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(rows)), 4))
    bars = ax.bar(labels, fps, color=colors)
    ax.bar_label(bars, fmt="%.0f", fontsize=8)
    ax.set_ylabel("tracker frames per second")
    m = run["machine"]
    where = m["gpu"]["name"] if m.get("gpu") else m["cpu"][:48]
    ax.set_title(f"AsymTrack-{run['settings']['variant']} on {where} ({run['settings']['device']})", fontsize=9)
    ax.tick_params(axis="x", labelsize=7)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
