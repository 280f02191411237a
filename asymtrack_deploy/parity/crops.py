"""Export-time parity: a candidate backend against the reference backend, on real crops.

Crops are made exactly as the tracker makes them (``crop.crop_rgb``) from the built-in real
sequence: templates around the initial box, search crops around a jittered box a few frames
later, so the check sees natural images, partly padded crops and off-centre targets rather than
noise. Both sides are backends (the reference is the PyTorch model behind the ``torch`` backend),
so this module needs neither torch nor any runtime library itself.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..boxes import jitter_box
from ..crop import crop_rgb
from ..runtimes.base import Backend
from ..sources import builtin_sequence
from ..tracker_spec import StepRules
from .tolerances import tolerance_for

__all__ = ["ParityCrops", "ParityError", "parity_crops", "backend_outputs", "compare_on_crops"]

_FRAME_STRIDE = 7  # frames between successive templates: spread the pairs over the sequence
_SEARCH_GAP = 3  # frames between a template and its search crop
_JITTER = 0.15  # search-box shift, as a fraction of the box size (uniform)
_SCALE_JITTER = 0.1  # search-box log-scale jitter (uniform)


class ParityError(RuntimeError):
    """The exported graphs do not reproduce the reference within tolerance."""


@dataclass(frozen=True)
class ParityCrops:
    templates: np.ndarray  # (P, Ht, Wt, 3) uint8 RGB
    searches: np.ndarray  # (P, Hs, Ws, 3) uint8 RGB
    description: str


def parity_crops(cfg, pairs: int = 4, seed: int = 0) -> ParityCrops:
    """``pairs`` template/search crop pairs for the crop geometry of ``cfg`` (anything with
    template_size, search_size, template_factor and search_factor)."""
    seq = builtin_sequence()
    rng = np.random.default_rng(seed)
    rules = StepRules.from_model(cfg)
    templates, searches, used = [], [], []
    for k in range(pairs):
        t_idx = (k * _FRAME_STRIDE) % len(seq)
        s_idx = min(t_idx + _SEARCH_GAP, len(seq) - 1)
        search_box = jitter_box(seq.init_box, rng, center=_JITTER, scale=_SCALE_JITTER, uniform=True)
        templates.append(crop_rgb(seq.frame(t_idx), seq.init_box, rules.template)[0])
        searches.append(crop_rgb(seq.frame(s_idx), search_box, rules.search)[0])
        used.append(f"{t_idx}->{s_idx}")
    text = (
        f"built-in sequence {seq.name!r}: {pairs} template->search frame pairs ({', '.join(used)}), "
        f"templates around the initial box, search boxes jittered (seed {seed})"
    )
    return ParityCrops(np.stack(templates), np.stack(searches), text)


def backend_outputs(backend: Backend, crops: ParityCrops) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (P, 4) and scores (P,) as float64, in batches of the backend's batch size."""
    batch = backend.info.batch
    if len(crops.templates) % batch:
        raise ValueError(f"{len(crops.templates)} parity pairs do not split into batches of {batch}")
    boxes, scores = [], []
    for start in range(0, len(crops.templates), batch):
        part = slice(start, start + batch)
        box, score = backend.search(crops.searches[part], backend.template(crops.templates[part]))
        boxes.append(box)
        scores.append(score)
    return np.concatenate(boxes).astype(np.float64), np.concatenate(scores).astype(np.float64)


def compare_on_crops(reference: Backend, candidate: Backend, crops: ParityCrops, box_tolerance: float | None = None) -> dict:
    """Compare ``candidate`` with ``reference`` on ``crops``; the figures for the manifest.

    ``box_tolerance``: None takes the candidate precision's tolerance. Raises ParityError (with
    the figures in the message) when a box misses by more than it.
    """
    tolerance = tolerance_for(candidate.info.precision, candidate.info.target).box if box_tolerance is None else box_tolerance
    ref_boxes, ref_scores = backend_outputs(reference, crops)
    boxes, scores = backend_outputs(candidate, crops)
    box_diff = float(np.abs(boxes - ref_boxes).max())
    score_diff = float(np.abs(scores - ref_scores).max())
    figures = {
        "reference": reference.describe(),
        "pairs": int(len(crops.templates)),
        "crops": crops.description,
        "max_abs_box_diff": box_diff,
        "max_abs_score_diff": score_diff,
        "box_tolerance": tolerance,
        "passed": bool(box_diff <= tolerance),
        "runtime": candidate.describe(),
    }
    if not figures["passed"]:
        raise ParityError(
            f"exported graphs miss the PyTorch reference: max box difference {box_diff:.3g} > tolerance "
            f"{tolerance:g} (max score difference {score_diff:.3g}) on {figures['pairs']} real crop pairs"
        )
    return figures
