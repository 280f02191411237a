"""Turning a benchmark run (its JSON) into tables and a chart; no timing here."""
from __future__ import annotations

from pathlib import Path

__all__ = ["COLUMNS", "row_cells", "markdown", "plot_fps", "gpu_line"]

COLUMNS = (
    "row", "precision", "template p50 ms", "search mean ms", "search p50 ms", "search p90 ms",
    "search p99 ms", "tracker FPS", "search speed-up", "FPS speed-up", "parity", "files MB", "peak RSS MB",
)


def _f(value, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _parity(row: dict) -> str:
    if row.get("baseline") or row.get("backend") == "torch":
        return "reference"
    passed = row.get("parity_passed")
    return "—" if passed is None else ("pass" if passed else "FAIL")


def _precision(row: dict) -> str:
    """The bundle's precision, and what the runtime executes where that is something else:
    "int8 (runs int8+bf16)", "fp16 (runs f32)"."""
    executes, precision = row.get("executes"), row["precision"]
    plain = {"fp32": "f32", "fp16": "f16"}.get(precision, precision)
    return f"{precision} (runs {executes})" if executes and executes != plain else precision


def row_cells(row: dict) -> list[str]:
    """One table row as strings (also used by the rich table of the CLI)."""
    if "error" in row:
        return [row["label"], row.get("precision", ""), *(["—"] * 9), row["error"][:60], "—"]
    speed = row.get("speedup_search_p50")
    fps_speed = row.get("speedup_fps")
    return [
        row["label"] + (" (baseline)" if row.get("baseline") else ""),
        _precision(row),
        _f(row["template"]["p50"]),
        _f(row["search"]["mean"]),
        _f(row["search"]["p50"]),
        _f(row["search"]["p90"]),
        _f(row["search"]["p99"]),
        _f(row["fps"], 1),
        "—" if speed is None else f"{speed:.2f}x",
        "—" if fps_speed is None else f"{fps_speed:.2f}x",
        _parity(row),
        _f(row.get("files_mb")),
        _f(row.get("peak_rss_mb"), 0),
    ]


def gpu_line(gpu: dict) -> str:
    """The GPU of a CUDA run in one line: what it is, and the software under the figures."""
    return (f"{gpu['name']} ({gpu['memory']}, compute capability {gpu['capability']}), driver {gpu.get('driver') or 'n/a'}, "
            f"CUDA {gpu.get('cuda_runtime') or 'n/a'} (torch build), cuDNN {gpu.get('cudnn') or 'n/a'}")


def markdown(run: dict) -> str:
    """A markdown section for one run: machine, settings, and the table."""
    m, s = run["machine"], run["settings"]
    lines = [f"GPU: {gpu_line(m['gpu'])}."] if m.get("gpu") else []
    lines += [
        f"Machine: {m['cpu']} ({m['logical_cpus']} logical CPUs), threads {m.get('threads') or 'library default'}, "
        f"governor {m.get('governor') or 'n/a'}; {m['platform']}.",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()) + ".",
        f"Settings: variant {s['variant']}, device {s['device']}, {s['frames']} timed frames after {s['warmup']} "
        f"warm-up, streams {s.get('streams', 1)}, weights: {s['weights']}; sequence: {s['sequence']}.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    lines += ["| " + " | ".join(row_cells(r)) + " |" for r in run["rows"]]
    return "\n".join(lines) + "\n"


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
