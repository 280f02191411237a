"""From per-sequence records to a dataset summary: the metrics each benchmark is reported with,
speed beside them, a side-by-side comparison of several runs, and a success plot.

Which conventions a dataset gets (``Dataset.protocol``):

* ``got10k`` (GOT-10k val): the got10k toolkit's AO / SR, plus pytracking's AUC for reference;
* ``lasot``: pytracking with LaSOT's rules (absent frames fail), plus the got10k toolkit's
  LaSOT experiment;
* ``otb``: pytracking, plus the got10k toolkit's OTB experiment;
* ``default`` (UAV123, folders, procedural sets): pytracking (with the dataset's rules), plus
  got10k-style AO/SR over visible frames (boxes clipped to the image);
* ``none`` (GOT-10k test, TrackingNet test): the ground truth is withheld, so only speed and
  the submission file.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence as Seq

import numpy as np

from . import metrics as M
from .named_datasets import Dataset
from .results import SequenceRecord

__all__ = ["evaluate", "headline", "compare", "plot_success", "HEADLINE"]

# (convention, key, short label) in the order tables show them, per protocol.
HEADLINE: dict[str, list[tuple[str, str, str]]] = {
    "got10k": [("got10k", "AO", "AO"), ("got10k", "SR50", "SR0.5"), ("got10k", "SR75", "SR0.75"),
               ("pytracking", "AUC", "AUC")],
    "lasot": [("pytracking", "AUC", "AUC"), ("pytracking", "Norm Precision", "P_norm"),
              ("pytracking", "Precision", "P")],
    "otb": [("pytracking", "AUC", "AUC"), ("pytracking", "Precision", "P"),
            ("pytracking", "Norm Precision", "P_norm")],
    "default": [("pytracking", "AUC", "AUC"), ("pytracking", "Norm Precision", "P_norm"),
                ("pytracking", "Precision", "P"), ("got10k", "AO", "AO"), ("got10k", "SR50", "SR0.5")],
    "none": [],
}


def _pytracking(dataset: Dataset, records: Mapping[str, SequenceRecord]):
    curves = {}
    for seq in dataset.sequences:
        visible = seq.visible if dataset.rules == "lasot" else None
        curves[seq.name] = M.pytracking_curves(records[seq.name].boxes, seq.boxes, visible, dataset.rules)
    return M.pytracking_summary(list(curves.values())), {n: {"AUC": float(c.success.mean() * 100),
                                                               "avg_overlap": c.avg_overlap} for n, c in curves.items()}


def _got10k(dataset: Dataset, records: Mapping[str, SequenceRecord]):
    ious = {}
    for seq in dataset.sequences:
        boxes = records[seq.name].boxes
        if len(boxes) != len(seq.boxes):
            raise ValueError(f"{seq.name}: {len(boxes)} result boxes for {len(seq.boxes)} frames")
        ious[seq.name] = M.got10k_sequence_ious(boxes, seq.boxes, seq.resolve_image_size(), seq.visible)
    per_seq = {n: {"AO": float(v.mean() * 100) if v.size else float("nan")} for n, v in ious.items()}
    return M.got10k_summary(list(ious.values())), per_seq


def _toolkit(dataset: Dataset, records: Mapping[str, SequenceRecord], kind: str) -> dict:
    fn = M.toolkit_lasot_curves if kind == "lasot" else M.toolkit_otb_curves
    return M.toolkit_summary([fn(records[s.name].boxes, s.boxes) for s in dataset.sequences])


def _merge(per_sequence: dict, part: dict) -> None:
    for name, values in part.items():
        per_sequence.setdefault(name, {}).update(values)


def evaluate(dataset: Dataset, records: Mapping[str, SequenceRecord], label: str = "") -> dict:
    """The summary of one run over ``dataset``: metrics per convention (percent), speed, and
    per-sequence figures. ``records`` must hold every sequence of the dataset."""
    missing = [s.name for s in dataset.sequences if s.name not in records]
    if missing:
        raise ValueError(f"no results for {len(missing)} sequences (first: {', '.join(missing[:3])})")
    per_sequence = {s.name: M.speed_fps([records[s.name].times]) for s in dataset.sequences}
    conventions: dict[str, dict] = {}
    if dataset.protocol != "none":
        conventions["pytracking"], part = _pytracking(dataset, records)
        _merge(per_sequence, part)
        if dataset.protocol in ("got10k", "default"):
            conventions["got10k"], part = _got10k(dataset, records)
            _merge(per_sequence, part)
        if dataset.protocol in ("lasot", "otb"):
            conventions[f"toolkit_{dataset.protocol}"] = _toolkit(dataset, records, dataset.protocol)
    return {
        "label": label,
        "dataset": dataset.name,
        "root": str(dataset.root),
        "protocol": dataset.protocol,
        "rules": dataset.rules,
        "sequences": len(dataset.sequences),
        "metrics": conventions,
        "speed": M.speed_fps([records[s.name].times for s in dataset.sequences]),
        "per_sequence": per_sequence,
    }


def headline(summary: Mapping) -> list[tuple[str, float]]:
    """(label, value) pairs a table shows for this summary; FPS last (tracking frames only)."""
    rows = []
    for convention, key, short in HEADLINE[summary["protocol"]]:
        value = summary["metrics"].get(convention, {}).get(key)
        if value is not None:
            rows.append((short, float(value)))
    rows.append(("FPS", float(summary["speed"]["fps_tracking"])))
    return rows


def compare(summaries: Seq[Mapping]) -> list[dict]:
    """One row per headline metric: each run's value and its difference to the first run
    (dataset-level accuracy parity between bundles)."""
    if not summaries:
        return []
    base = dict(headline(summaries[0]))
    rows = []
    for label in base:
        values = [dict(headline(s)).get(label, float("nan")) for s in summaries]
        rows.append({"metric": label, "values": values, "diff": [v - values[0] for v in values]})
    return rows


def _curve(summary: Mapping) -> tuple[np.ndarray, np.ndarray, float, str] | None:
    metrics = summary["metrics"]
    if summary["protocol"] == "got10k" and "got10k" in metrics:
        m = metrics["got10k"]
        return M.GOT10K_THRESHOLDS, np.asarray(m["success_curve"]), m["AO"], "AO"
    if "pytracking" in metrics:
        m = metrics["pytracking"]
        return M.OVERLAP_THRESHOLDS, np.asarray(m["success_curve"]), m["AUC"], "AUC"
    return None


def plot_success(summaries: Seq[Mapping], path, title: str | None = None):
    """Success plot (fraction of frames above each IoU threshold) of one or more runs, as a
    PNG; returns the path, or None when no run has ground truth to plot."""
    curves = [(s, c) for s in summaries if (c := _curve(s)) is not None]
    if not curves:
        return None
    from ..runtimes import require

    matplotlib = require("matplotlib", "eval")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    for summary, (x, y, score, name) in curves:
        ax.plot(x, y, label=f"{summary.get('label') or 'tracker'} [{name} {score:.1f}]")
    ax.set(xlabel="Overlap threshold", ylabel="Success rate (%)", xlim=(0, 1), ylim=(0, 100),
           title=title or f"Success plot: {curves[0][0]['dataset']}")
    ax.grid(True, alpha=0.4)
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
