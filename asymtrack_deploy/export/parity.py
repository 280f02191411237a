"""Export-time parity: the exported graphs against the PyTorch reference, on real crops.

Crops are made exactly as the tracker makes them (``crop.crop_square`` + ``crop.to_rgb``) from
the built-in real sequence: templates around the initial box, search crops around a jittered
box a few frames later, so the check sees natural images, partly padded crops and off-centre
targets rather than noise. Any backend works (ONNX Runtime now; OpenVINO and TensorRT reuse
this with their own backend and tolerances).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from ..crop import crop_square, to_rgb
from ..models import AsymTrack
from ..runtimes.base import Backend
from ..sources import builtin_sequence

__all__ = ["ParityCrops", "ParityError", "parity_crops", "torch_reference", "measure_parity", "BOX_TOLERANCE"]

BOX_TOLERANCE = 1e-4  # normalised box units, fp32 graphs
_FRAME_STRIDE = 7  # frames between successive templates: spread the pairs over the sequence
_SEARCH_GAP = 3  # frames between a template and its search crop
_JITTER = 0.15  # search-box shift, as a fraction of the box size
_SCALE_JITTER = 0.1  # search-box log-scale jitter


class ParityError(RuntimeError):
    """The exported graphs do not reproduce the PyTorch reference within tolerance."""


@dataclass(frozen=True)
class ParityCrops:
    templates: np.ndarray  # (P, Ht, Wt, 3) uint8 RGB
    searches: np.ndarray  # (P, Hs, Ws, 3) uint8 RGB
    description: str


def _jittered(box, rng: np.random.Generator) -> list[float]:
    x, y, w, h = box
    dx, dy = rng.uniform(-_JITTER, _JITTER, 2) * (w, h)
    s = float(np.exp(rng.uniform(-_SCALE_JITTER, _SCALE_JITTER)))
    cx, cy = x + w / 2 + dx, y + h / 2 + dy
    return [cx - w * s / 2, cy - h * s / 2, w * s, h * s]


def _read(path) -> np.ndarray:
    frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if frame is None:
        raise ValueError(f"{path}: not a readable image")
    return frame


def parity_crops(cfg, pairs: int = 4, seed: int = 0) -> ParityCrops:
    """``pairs`` template/search crop pairs for the crop geometry of ``cfg`` (a VariantConfig
    or anything with the four size/factor attributes)."""
    seq = builtin_sequence()
    files = seq.files
    rng = np.random.default_rng(seed)
    templates, searches, used = [], [], []
    for k in range(pairs):
        t_idx = (k * _FRAME_STRIDE) % len(files)
        s_idx = min(t_idx + _SEARCH_GAP, len(files) - 1)
        z, _ = crop_square(_read(files[t_idx]), seq.init_box, cfg.template_factor, cfg.template_size)
        x, _ = crop_square(_read(files[s_idx]), _jittered(seq.init_box, rng), cfg.search_factor, cfg.search_size)
        templates.append(to_rgb(z, "bgr"))
        searches.append(to_rgb(x, "bgr"))
        used.append(f"{t_idx}->{s_idx}")
    text = (
        f"built-in sequence {seq.name!r}: {pairs} template->search frame pairs ({', '.join(used)}), "
        f"templates around the initial box, search boxes jittered (seed {seed})"
    )
    return ParityCrops(np.stack(templates), np.stack(searches), text)


def _groups(n: int, batch: int):
    if n % batch:
        raise ValueError(f"{n} parity pairs do not split into batches of {batch}")
    return [slice(i, i + batch) for i in range(0, n, batch)]


@torch.no_grad()
def torch_reference(model: AsymTrack, crops: ParityCrops) -> tuple[np.ndarray, np.ndarray]:
    """The PyTorch model's boxes (P, 4) and scores (P,), all pairs in one batch (samples are
    independent, and one call costs far less than P on CPU)."""
    if model.training:
        raise ValueError("the parity reference must be the model in eval mode (BatchNorm running statistics)")
    z = model.normalize(torch.from_numpy(crops.templates).to(model.device))
    x = model.normalize(torch.from_numpy(crops.searches).to(model.device))
    box, score = model.search(x, model.template(z))
    return box.double().cpu().numpy(), score.double().cpu().numpy()


def backend_outputs(backend: Backend, crops: ParityCrops, batch: int) -> tuple[np.ndarray, np.ndarray]:
    boxes, scores = [], []
    for sl in _groups(len(crops.templates), batch):
        box, score = backend.search(crops.searches[sl], backend.template(crops.templates[sl]))
        boxes.append(box)
        scores.append(score)
    return np.concatenate(boxes), np.concatenate(scores)


def measure_parity(
    backend: Backend, model: AsymTrack, crops: ParityCrops, batch: int, box_tolerance: float = BOX_TOLERANCE
) -> dict:
    """Compare ``backend`` with ``model`` on ``crops``; the figures for the manifest.

    Raises ParityError (with the figures in the message) when a box misses by more than
    ``box_tolerance``.
    """
    ref_boxes, ref_scores = torch_reference(model, crops)
    boxes, scores = backend_outputs(backend, crops, batch)
    box_diff = float(np.abs(boxes - ref_boxes).max())
    score_diff = float(np.abs(scores - ref_scores).max())
    figures = {
        "reference": f"PyTorch {torch.__version__} fp32 CPU",
        "pairs": int(len(crops.templates)),
        "crops": crops.description,
        "max_abs_box_diff": box_diff,
        "max_abs_score_diff": score_diff,
        "box_tolerance": box_tolerance,
        "passed": bool(box_diff <= box_tolerance),
    }
    if not figures["passed"]:
        raise ParityError(
            f"exported graphs miss the PyTorch reference: max box difference {box_diff:.3g} > tolerance "
            f"{box_tolerance:g} (max score difference {score_diff:.3g}) on {figures['pairs']} real crop pairs"
        )
    return figures
