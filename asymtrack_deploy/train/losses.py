"""Box conversions and the tracking loss of the official recipe: GIoU (weight 2) + L1 (weight 5).

The model predicts normalised (cx, cy, w, h) in the search crop; the data pipeline gives the
ground truth as normalised (x, y, w, h). Both are compared as corners (x1, y1, x2, y2), the ground
truth clamped to [0, 1], as the official actor does.
"""
from __future__ import annotations

import torch

__all__ = ["cxcywh_to_xyxy", "xywh_to_xyxy", "generalized_iou", "tracking_loss", "LOSS_WEIGHTS", "TrainingDiverged"]

LOSS_WEIGHTS = {"giou": 2.0, "l1": 5.0}


class TrainingDiverged(RuntimeError):
    """The network's boxes became NaN or infinite: the run's settings (learning rate, AMP) or its
    data, not a fault of the machine; the message says what to change."""


def cxcywh_to_xyxy(box: torch.Tensor) -> torch.Tensor:
    cx, cy, w, h = box.unbind(-1)
    return torch.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], dim=-1)


def xywh_to_xyxy(box: torch.Tensor) -> torch.Tensor:
    x, y, w, h = box.unbind(-1)
    return torch.stack([x, y, x + w, y + h], dim=-1)


def generalized_iou(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-7) -> tuple[torch.Tensor, torch.Tensor]:
    """GIoU and IoU of paired corner boxes (N, 4).

    The official function asserts x2 >= x1 and, when a predicted box is inverted, its caller
    silently drops the GIoU term for the whole batch. Here an inverted box just has zero area,
    so the term stays defined and keeps pulling the corners apart.
    """
    area_a = (a[:, 2:] - a[:, :2]).clamp(min=0).prod(dim=1)
    area_b = (b[:, 2:] - b[:, :2]).clamp(min=0).prod(dim=1)
    inter = (torch.min(a[:, 2:], b[:, 2:]) - torch.max(a[:, :2], b[:, :2])).clamp(min=0).prod(dim=1)
    union = area_a + area_b - inter
    iou = inter / (union + eps)
    hull = (torch.max(a[:, 2:], b[:, 2:]) - torch.min(a[:, :2], b[:, :2])).clamp(min=0).prod(dim=1)
    return iou - (hull - union) / (hull + eps), iou


def tracking_loss(
    pred_cxcywh: torch.Tensor, gt_xywh: torch.Tensor, weights: dict[str, float] = LOSS_WEIGHTS
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Weighted GIoU + L1 loss (computed in fp32) and detached statistics for logging."""
    if not bool(torch.isfinite(pred_cxcywh).all()):
        raise TrainingDiverged("the network predicted NaN or infinite boxes: training diverged "
                               "(lower --lr, or pass --no-amp; --resume from the last checkpoint keeps the epochs done)")
    pred = cxcywh_to_xyxy(pred_cxcywh.float())
    gt = xywh_to_xyxy(gt_xywh.float()).clamp(0.0, 1.0)
    giou, iou = generalized_iou(pred, gt)
    giou_loss = (1.0 - giou).mean()
    l1_loss = torch.nn.functional.l1_loss(pred, gt)
    loss = weights["giou"] * giou_loss + weights["l1"] * l1_loss
    stats = {"loss": loss.detach(), "giou": giou_loss.detach(), "l1": l1_loss.detach(), "iou": iou.detach().mean()}
    return loss, stats
