"""One-pass evaluation (OPE) metrics in the two conventions that published numbers use.

The same tracker output gives slightly different numbers under different toolkits, so each
function says which convention it reproduces and the summary always names it:

* **pytracking** (its ``analysis/extract_results.py`` and ``plot_results.py``; AsymTrack, HiT
  and most transformer trackers report LaSOT, TrackingNet-style and OTB/UAV numbers with it).
  Boxes are inclusive pixel ranges (x2 = x + w - 1); a frame succeeds when its IoU is strictly
  above each of 21 thresholds 0, 0.05, ..., 1; AUC is the mean of that curve (in percent);
  precision is read at 20 px, normalised precision at 0.20 (centres divided by the
  ground-truth size); the first frame's prediction is replaced by the ground truth; frames
  whose annotation is not a box (w or h <= 0, NaN) and, on LaSOT, frames flagged absent count
  as failures (infinite centre error, IoU -1) and stay in the denominator.
* **got10k** (the ``got10k`` toolkit's ``ExperimentGOT10k``: the GOT-10k AO and SR). Exclusive
  corners (x2 = x + w), both boxes clipped to the image first; the IoUs of all frames of all
  sequences but the first and those where the target is absent are pooled into one mean (AO)
  and one success rate per threshold (SR at 0.5 and 0.75, strictly above).
* **got10k toolkit OTB / LaSOT** (its ``ExperimentOTB`` and GitHub ``ExperimentLaSOT``): no
  clipping, per-sequence curves averaged over sequences, normalised precision as the mean of
  its curve over 0..0.5 with centres offset divided by max(1, ground-truth size) (not read at
  0.20), no frame marked invalid. Kept to compare with numbers made with that package.

Note on the "+1": pytracking's inclusive intersection ``min(x2) - max(x1) + 1`` with
``x2 = x + w - 1`` is the same number as the exclusive ``min(x + w) - max(x)``, and both
toolkits use the same centre x + (w - 1) / 2, so for in-image boxes the per-frame IoU and
centre error agree between conventions; the scores differ by clipping, which frames count,
how sequences are weighed and how normalised precision is read.

All scores are in percent. numpy only.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "OVERLAP_THRESHOLDS",
    "CENTER_THRESHOLDS",
    "NORM_CENTER_THRESHOLDS",
    "GOT10K_THRESHOLDS",
    "PytrackingCurves",
    "iou_inclusive",
    "center_error_inclusive",
    "pytracking_errors",
    "pytracking_curves",
    "pytracking_summary",
    "iou_exclusive",
    "got10k_sequence_ious",
    "got10k_summary",
    "toolkit_otb_curves",
    "toolkit_lasot_curves",
    "toolkit_summary",
    "speed_fps",
]

# pytracking builds these with torch.arange(0, 1 + 0.05, 0.05), i.e. i * 0.05; with numpy's
# arange two of them (0.65, 0.75) come out one ulp off, so use the product form. OP75 is read by
# index (15), not by comparing the threshold with 0.75.
OVERLAP_THRESHOLDS = np.arange(21, dtype=np.float64) * 0.05
CENTER_THRESHOLDS = np.arange(0, 51, dtype=np.float64)
NORM_CENTER_THRESHOLDS = np.arange(0, 51, dtype=np.float64) / 100.0
GOT10K_THRESHOLDS = np.linspace(0, 1, 101)

RULES = ("default", "lasot", "uav")


def _boxes(a, what: str) -> np.ndarray:
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim == 1 and arr.size == 4:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"{what} must be an (N, 4) array of x, y, w, h boxes, got shape {arr.shape}")
    return arr


# -- pytracking convention -----------------------------------------------------------------------
def iou_inclusive(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """IoU of (x, y, w, h) boxes as pytracking's ``calc_iou_overlap`` writes it: inclusive
    corners, the intersection spanning ``min(x2) - max(x1) + 1`` with x2 = x + w - 1, areas
    w * h; no clipping, no epsilon (a zero union gives NaN, which callers reject)."""
    tl = np.maximum(pred[:, :2], gt[:, :2])
    br = np.minimum(pred[:, :2] + pred[:, 2:] - 1.0, gt[:, :2] + gt[:, 2:] - 1.0)
    inter = np.clip(br - tl + 1.0, 0, None).prod(axis=1)
    union = pred[:, 2:].prod(axis=1) + gt[:, 2:].prod(axis=1) - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return inter / union


def center_error_inclusive(pred: np.ndarray, gt: np.ndarray, normalized: bool = False) -> np.ndarray:
    """Distance between box centres x + (w - 1) / 2 (both conventions use this centre); with
    ``normalized`` both centres are first divided by the ground-truth size (pytracking's rule)."""
    pc = pred[:, :2] + 0.5 * (pred[:, 2:] - 1.0)
    gc = gt[:, :2] + 0.5 * (gt[:, 2:] - 1.0)
    if normalized:
        with np.errstate(divide="ignore", invalid="ignore"):
            pc, gc = pc / gt[:, 2:], gc / gt[:, 2:]
    return np.sqrt(((pc - gc) ** 2).sum(axis=1))


def _align_length(pred: np.ndarray, n: int, rules: str) -> np.ndarray:
    """pytracking's length rule: extra predictions are dropped; missing ones are an error on
    LaSOT and zero boxes (failures) elsewhere."""
    if len(pred) > n:
        return pred[:n]
    if len(pred) < n:
        if rules == "lasot":
            raise ValueError(f"{len(pred)} predicted boxes for {n} ground-truth frames")
        return np.concatenate([pred, np.zeros((n - len(pred), 4))])
    return pred


def _hold_zero_size(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """A prediction with zero width or height repeats the previous frame's box (where the
    frame is annotated), as pytracking does before scoring."""
    gt_ok = ~np.isnan(gt).any(axis=1)
    for i in range(1, min(len(pred), len(gt))):
        if (pred[i, 2:] == 0).any() and gt_ok[i]:
            pred[i] = pred[i - 1]
    return pred


def pytracking_errors(pred, gt, target_visible=None, rules: str = "default"):
    """Per-frame (overlap, centre error, normalised centre error, valid) as pytracking's
    ``calc_seq_err_robust`` computes them.

    ``rules``: "lasot" (``target_visible`` marks absent frames: they fail every measure; a
    short prediction is an error), "uav" (NaN annotations allowed; their frames get centre
    error -1, which pytracking counts as a precision success), or "default". Invalid frames
    (annotation w or h not > 0, or absent) get IoU -1 (never a success) and normalised centre
    error -1 (a normalised-precision success, as in pytracking, except LaSOT-absent frames).
    """
    if rules not in RULES:
        raise ValueError(f"rules must be one of {RULES}, got {rules!r}")
    pred, gt = _boxes(pred, "prediction").copy(), _boxes(gt, "ground truth")
    if np.isnan(pred).any() or (pred[:, 2:] < 0).any():
        raise ValueError("predictions contain NaN or a negative width/height")
    if np.isnan(gt).any() and rules != "uav":
        raise ValueError("ground truth contains NaN (only UAV-style annotations may)")
    pred = _hold_zero_size(pred, gt)
    pred = _align_length(pred, len(gt), rules)
    pred[0] = gt[0]
    with np.errstate(invalid="ignore"):
        valid = (gt[:, 2:] > 0).all(axis=1)
    visible = None
    if target_visible is not None:
        visible = np.asarray(target_visible, dtype=bool).reshape(-1)
        if visible.shape[0] != len(gt):
            raise ValueError(f"target_visible has {visible.shape[0]} flags for {len(gt)} frames")
        valid &= visible
    center = center_error_inclusive(pred, gt)
    center_norm = center_error_inclusive(pred, gt, normalized=True)
    overlap = iou_inclusive(pred, gt)
    center[~valid] = -1.0 if rules == "uav" else np.inf
    center_norm[~valid] = -1.0
    overlap[~valid] = -1.0
    if rules == "lasot" and visible is not None:
        center[~visible] = np.inf
        center_norm[~visible] = np.inf
    if np.isnan(overlap).any():
        raise ValueError("IoU is NaN for some frames (a zero-area prediction and ground truth)")
    return overlap, center, center_norm, valid


@dataclass(frozen=True)
class PytrackingCurves:
    """One sequence under the pytracking convention: fractions of frames (0..1) per threshold
    and the mean IoU of its valid frames."""

    success: np.ndarray  # (21,) IoU > OVERLAP_THRESHOLDS
    precision: np.ndarray  # (51,) centre error <= 0..50 px
    norm_precision: np.ndarray  # (51,) normalised centre error <= 0..0.5
    avg_overlap: float


def pytracking_curves(pred, gt, target_visible=None, rules: str = "default",
                      exclude_invalid_frames: bool = False) -> PytrackingCurves:
    """Success / precision / normalised-precision curves of one sequence. The denominator is
    every frame (pytracking's default), or only valid ones with ``exclude_invalid_frames``."""
    overlap, center, center_norm, valid = pytracking_errors(pred, gt, target_visible, rules)
    n = int(valid.sum()) if exclude_invalid_frames else len(overlap)
    if n <= 0:
        raise ValueError("sequence has no frames to score")
    return PytrackingCurves(
        success=(overlap[:, None] > OVERLAP_THRESHOLDS[None]).sum(0) / n,
        precision=(center[:, None] <= CENTER_THRESHOLDS[None]).sum(0) / n,
        norm_precision=(center_norm[:, None] <= NORM_CENTER_THRESHOLDS[None]).sum(0) / n,
        avg_overlap=float(overlap[valid].mean()) if valid.any() else float("nan"),
    )


def pytracking_summary(curves: Sequence[PytrackingCurves]) -> dict:
    """Dataset scores as pytracking prints them: each curve averaged over sequences (every
    sequence weighs the same), times 100; AUC = mean of the success curve, OP50/OP75 its points
    at 0.5/0.75, Precision at 20 px, Norm Precision at 0.20."""
    if not curves:
        raise ValueError("no sequences to summarise")
    success = np.mean([c.success for c in curves], axis=0) * 100.0
    precision = np.mean([c.precision for c in curves], axis=0) * 100.0
    norm = np.mean([c.norm_precision for c in curves], axis=0) * 100.0
    return {
        "AUC": float(success.mean()),
        "OP50": float(success[10]),
        "OP75": float(success[15]),
        "Precision": float(precision[20]),
        "Norm Precision": float(norm[20]),
        "success_curve": success.tolist(),
        "precision_curve": precision.tolist(),
        "norm_precision_curve": norm.tolist(),
    }


# -- got10k convention ---------------------------------------------------------------------------
def _clip_to_image(boxes: np.ndarray, width: float, height: float) -> np.ndarray:
    out = boxes.copy()
    out[:, 0] = np.clip(out[:, 0], 0, width)
    out[:, 1] = np.clip(out[:, 1], 0, height)
    out[:, 2] = np.clip(out[:, 2], 0, width - out[:, 0])
    out[:, 3] = np.clip(out[:, 3], 0, height - out[:, 1])
    return out


def iou_exclusive(pred, gt, image_size: tuple[float, float] | None = None) -> np.ndarray:
    """IoU with exclusive corners (x2 = x + w), as the got10k toolkit's ``rect_iou``: with
    ``image_size`` (width, height) both boxes are first clipped to the image; the union gets
    machine epsilon and the result is clipped to [0, 1]."""
    pred, gt = _boxes(pred, "prediction"), _boxes(gt, "ground truth")
    if pred.shape != gt.shape:
        raise ValueError(f"prediction {pred.shape} and ground truth {gt.shape} differ in shape")
    if image_size is not None:
        pred, gt = _clip_to_image(pred, *image_size), _clip_to_image(gt, *image_size)
    x1 = np.maximum(pred[:, 0], gt[:, 0])
    y1 = np.maximum(pred[:, 1], gt[:, 1])
    x2 = np.minimum(pred[:, 0] + pred[:, 2], gt[:, 0] + gt[:, 2])
    y2 = np.minimum(pred[:, 1] + pred[:, 3], gt[:, 1] + gt[:, 3])
    inter = np.maximum(x2 - x1, 0) * np.maximum(y2 - y1, 0)
    union = pred[:, 2:].prod(axis=1) + gt[:, 2:].prod(axis=1) - inter
    return np.clip(inter / (union + np.finfo(float).eps), 0.0, 1.0)


def got10k_sequence_ious(pred, gt, image_size: tuple[float, float] | None,
                         target_visible=None) -> np.ndarray:
    """The IoUs one sequence contributes to GOT-10k's AO/SR: every frame but the first, only
    where the target is visible (GOT-10k's ``cover.label > 0``), boxes clipped to the image.
    The prediction must have exactly one box per ground-truth frame."""
    pred, gt = _boxes(pred, "prediction"), _boxes(gt, "ground truth")
    if pred.shape != gt.shape:
        raise ValueError(f"{len(pred)} predicted boxes for {len(gt)} ground-truth frames")
    ious = iou_exclusive(pred[1:], gt[1:], image_size)
    if target_visible is not None:
        visible = np.asarray(target_visible, dtype=bool).reshape(-1)
        if visible.shape[0] != len(gt):
            raise ValueError(f"target_visible has {visible.shape[0]} flags for {len(gt)} frames")
        ious = ious[visible[1:]]
    return ious


def got10k_summary(ious_per_sequence: Sequence[np.ndarray]) -> dict:
    """AO, SR0.50, SR0.75 (percent) and the 101-point success curve, over the IoUs of all
    frames of all sequences pooled together (long sequences weigh more, as in the toolkit)."""
    if not len(ious_per_sequence):
        raise ValueError("no sequences to summarise")
    ious = np.concatenate([np.asarray(i, dtype=np.float64).reshape(-1) for i in ious_per_sequence])
    if ious.size == 0:
        raise ValueError("no frames to score (all absent or single-frame sequences)")
    curve = (ious[:, None] > GOT10K_THRESHOLDS[None]).mean(0) * 100.0
    return {
        "AO": float(ious.mean() * 100.0),
        "SR50": float((ious > 0.5).mean() * 100.0),
        "SR75": float((ious > 0.75).mean() * 100.0),
        "success_curve": curve.tolist(),
    }


# -- got10k toolkit OTB / LaSOT experiments ------------------------------------------------------
def _toolkit_curves(ious, center, center_norm=None) -> dict[str, np.ndarray]:
    out = {
        "success": (ious[:, None] > np.linspace(0, 1, 21)[None]).mean(0),
        "precision": (center[:, None] <= np.arange(0, 51)[None]).mean(0),
    }
    if center_norm is not None:
        out["norm_precision"] = (center_norm[:, None] <= np.linspace(0, 0.5, 51)[None]).mean(0)
    return out


def toolkit_otb_curves(pred, gt) -> dict[str, np.ndarray]:
    """One sequence as the got10k toolkit's ``ExperimentOTB`` scores it: first box replaced by
    the ground truth, exclusive IoU without clipping, no frame excluded."""
    pred, gt = _boxes(pred, "prediction").copy(), _boxes(gt, "ground truth")
    if pred.shape != gt.shape:
        raise ValueError(f"{len(pred)} predicted boxes for {len(gt)} ground-truth frames")
    pred[0] = gt[0]
    return _toolkit_curves(iou_exclusive(pred, gt), center_error_inclusive(pred, gt))


def toolkit_lasot_curves(pred, gt) -> dict[str, np.ndarray]:
    """One sequence as the got10k toolkit's ``ExperimentLaSOT`` scores it: like OTB, lengths
    cut to the shorter, frames with a NaN annotation dropped, and a normalised centre error
    (centre offset divided by max(1, ground-truth size))."""
    pred, gt = _boxes(pred, "prediction").copy(), _boxes(gt, "ground truth")
    pred[0] = gt[0]
    n = min(len(pred), len(gt))
    pred, gt = pred[:n], gt[:n]
    keep = ~np.isnan(gt).any(axis=1)
    pred, gt = pred[keep], gt[keep]
    offset = (pred[:, :2] + (pred[:, 2:] - 1) / 2) - (gt[:, :2] + (gt[:, 2:] - 1) / 2)
    norm = np.sqrt(((offset / np.maximum(1.0, gt[:, 2:])) ** 2).sum(axis=1))
    return _toolkit_curves(iou_exclusive(pred, gt), center_error_inclusive(pred, gt), norm)


def toolkit_summary(curves: Sequence[dict[str, np.ndarray]]) -> dict:
    """Curves averaged over sequences; success score = curve mean, precision at 20 px, success
    rate at 0.5, normalised precision = mean of its curve (when present). Percent."""
    if not curves:
        raise ValueError("no sequences to summarise")
    success = np.mean([c["success"] for c in curves], axis=0) * 100.0
    precision = np.mean([c["precision"] for c in curves], axis=0) * 100.0
    out = {
        "Success": float(success.mean()),
        "Precision": float(precision[20]),
        "Success Rate": float(success[10]),
        "success_curve": success.tolist(),
    }
    if all("norm_precision" in c for c in curves):
        out["Norm Precision"] = float(np.mean([c["norm_precision"] for c in curves]) * 100.0)
    return out


def speed_fps(times_per_sequence: Sequence[np.ndarray]) -> dict:
    """Speed from per-frame seconds (``times[0]`` of each sequence is initialisation):

    * ``fps``: frames per second of tracker time over all frames, initialisation included (what
      pytracking prints per sequence);
    * ``fps_tracking``: the same over ``update`` frames only (a backend's steady-state speed;
      short sequences are otherwise dominated by the first call's warm-up);
    * ``fps_mean_per_frame``: the got10k toolkit's mean of per-frame 1 / t.
    """
    seqs = [np.asarray(t, dtype=np.float64).reshape(-1) for t in times_per_sequence]
    times = np.concatenate(seqs) if seqs else np.zeros(0)
    tracking = np.concatenate([t[1:] for t in seqs]) if seqs else np.zeros(0)

    def rate(t: np.ndarray) -> float:
        t = t[t > 0]
        return float(t.size / t.sum()) if t.size else float("nan")

    positive = times[times > 0]
    return {
        "fps": rate(times),
        "fps_tracking": rate(tracking),
        "fps_mean_per_frame": float(np.mean(1.0 / positive)) if positive.size else float("nan"),
        "frames": int(times.size),
    }
