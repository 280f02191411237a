"""Template/search training pairs, as the official sampler and processing make them.

One pair: pick a dataset by ratio, a sequence uniformly (a video needs at least 20 frames and more
than 4 visible ones), a visible template frame, then a visible search frame after it within
``max_gap`` frames (the gap grows by 5 whenever none is found: the official 'causal' mode). Images
give both crops from the same picture. Datasets are the data layer's ``SequenceList`` readers;
"visible" is ``Sequence.usable`` (the dataset's flags and a valid box).

Crops use ``crop_rgb``, the tracker's own arithmetic. The search box is jittered first
(``boxes.jitter_box``: size times exp(N(0, 0.5)), centre moved uniformly within +-3.5/2 of the
jittered size), the template is not. Augmentation: grayscale for both crops (p 0.05), a horizontal flip per crop (p 0.5 each) and a
brightness factor per crop (uniform 0.8-1.2, applied on the device with the normalisation; see
``normalize_crops``). The official code flips the whole frames jointly and then each crop
independently; the two combined are exactly independent per-crop flips, which is what is done.

Randomness: every sample draws from its own generator seeded by (seed, global sample index), so
a run is reproducible and independent of the number of workers, and ranks that take disjoint
indices (``RankSampler``) never draw the same samples.
"""
from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from ..boxes import CENTER_JITTER, SCALE_JITTER, jitter_box
from ..crop import crop_rgb, crop_window
from ..tracker_spec import CropRule
from ..datasets import SequenceList

__all__ = ["Augmentation", "PairDataset", "RankSampler", "make_pair", "sample_frame_ids", "normalize_crops"]


@dataclass(frozen=True)
class Augmentation:
    """Crop geometry (from the variant) and the official augmentation constants."""

    template_size: int = 128
    search_size: int = 256
    template_factor: float = 2.0
    search_factor: float = 4.0
    center_jitter: float = CENTER_JITTER
    scale_jitter: float = SCALE_JITTER
    gray_prob: float = 0.05
    brightness: float = 0.2
    flip_prob: float = 0.5
    max_gap: int = 200
    min_video_frames: int = 20

    @classmethod
    def for_variant(cls, cfg, **overrides) -> "Augmentation":
        sizes = dict(
            template_size=cfg.template_size,
            search_size=cfg.search_size,
            template_factor=cfg.template_factor,
            search_factor=cfg.search_factor,
        )
        return cls(**{**sizes, **overrides})


# --------------------------------------------------------------------------------------------
# Frame choice
# --------------------------------------------------------------------------------------------


def _pick_visible(visible: np.ndarray, low: int, high: int, rng: np.random.Generator) -> int | None:
    low, high = max(low, 0), min(high, len(visible))
    candidates = np.flatnonzero(visible[low:high])
    return None if len(candidates) == 0 else low + int(rng.choice(candidates))


def sample_frame_ids(visible: np.ndarray, max_gap: int, rng: np.random.Generator, tries: int = 100):
    """(template_id, search_id) with template < search <= template + max_gap (+ growth), or None."""
    grow = 0
    for _ in range(tries):
        template = _pick_visible(visible, 0, len(visible) - 1, rng)
        if template is None:
            return None
        search = _pick_visible(visible, template + 1, template + max_gap + grow, rng)
        if search is not None:
            return template, search
        grow += 5
    return None


def _eligible(dataset: SequenceList, index: int, min_frames: int) -> bool:
    if not dataset.is_video:
        return True
    usable = dataset[index].usable
    return len(usable) >= min_frames and int(usable.sum()) > 4


# --------------------------------------------------------------------------------------------
# Crops
# --------------------------------------------------------------------------------------------


def box_in_crop(box: np.ndarray, crop_box: np.ndarray, resize_factor: float, out_size: int) -> np.ndarray:
    """A frame box -> normalised (x, y, w, h) in the crop made around ``crop_box``."""
    centre = (out_size - 1) / 2 + (box[0:2] + 0.5 * box[2:4] - crop_box[0:2] - 0.5 * crop_box[2:4]) * resize_factor
    size = box[2:4] * resize_factor
    return (np.concatenate([centre - 0.5 * size, size]) / out_size).astype(np.float32)


def has_context(crop_box: np.ndarray, factor: float, frame_shape: tuple[int, ...], out_size: int) -> bool:
    """False when the crop is (nearly) all padding.

    The official check: the padding mask, nearest-sampled to out_size/16 cells, must not be all
    padding. Equivalent here: some sample point of that grid falls on real pixels.
    """
    x1, y1, side = crop_window(crop_box, factor)
    scale = out_size / side
    cells = out_size // 16
    points = np.floor(np.arange(cells) * (out_size / cells))
    ok = []
    for start, extent in ((x1, frame_shape[1]), (y1, frame_shape[0])):
        lo = (max(start, 0) - start) * scale
        hi = (min(start + side, extent - 1) - start) * scale  # the official one-pixel-short edge
        ok.append(bool(((points >= math.ceil(lo)) & (points + 1 <= hi)).any()))
    return all(ok)


def _crop(frame, box, factor, size, aug_center, aug_scale, rng):
    jittered = jitter_box(box, rng, aug_center, aug_scale) if (aug_center or aug_scale) else box.astype(np.float64)
    w, h = jittered[2], jittered[3]
    if not (w > 0 and h > 0) or math.ceil(math.sqrt(w * h) * factor) < 1:
        return None
    if not has_context(jittered, factor, frame.shape, size):
        return None
    crop, resize = crop_rgb(frame, jittered, CropRule(size, factor), "bgr")
    return crop, jittered, resize


def _gray(crop: np.ndarray) -> np.ndarray:
    return np.repeat(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)[:, :, None], 3, axis=2)


def make_pair(template_frame, template_box, search_frame, search_box, aug: Augmentation, rng: np.random.Generator):
    """Crops and target for one pair, or None when the official checks reject it."""
    template_box = np.asarray(template_box, dtype=np.float64)
    search_box = np.asarray(search_box, dtype=np.float64)
    t = _crop(template_frame, template_box, aug.template_factor, aug.template_size, 0.0, 0.0, rng)
    s = _crop(search_frame, search_box, aug.search_factor, aug.search_size, aug.center_jitter, aug.scale_jitter, rng)
    if t is None or s is None:
        return None
    template, search = t[0], s[0]
    target = box_in_crop(search_box, s[1], s[2], aug.search_size)
    if rng.random() < aug.gray_prob:
        template, search = _gray(template), _gray(search)
    if rng.random() < aug.flip_prob:
        template = template[:, ::-1]
    if rng.random() < aug.flip_prob:
        search = search[:, ::-1]
        target[0] = 1.0 - target[0] - target[2]
    low = max(0.0, 1.0 - aug.brightness)
    brightness = rng.uniform(low, 1.0 + aug.brightness, size=2).astype(np.float32)
    return {
        "template": np.ascontiguousarray(template),
        "search": np.ascontiguousarray(search),
        "search_box": target,
        "brightness": brightness,
    }


def normalize_crops(crops: torch.Tensor, brightness: torch.Tensor, mean, std) -> torch.Tensor:
    """uint8 RGB (B, H, W, 3) -> normalised (B, 3, H, W) float, with the per-crop brightness
    factor applied as the official ToTensorAndJitter does (scale, clamp to [0, 1])."""
    x = crops.permute(0, 3, 1, 2).float() * (brightness.float().view(-1, 1, 1, 1) / 255.0)
    x = x.clamp_(0.0, 1.0)
    mean_t = torch.as_tensor(mean, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    std_t = torch.as_tensor(std, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x - mean_t) / std_t


# --------------------------------------------------------------------------------------------
# The dataset the DataLoader reads
# --------------------------------------------------------------------------------------------


class PairDataset(torch.utils.data.Dataset):
    """Random pairs from a mix of datasets; item ``i`` is a pure function of (seed, i)."""

    def __init__(
        self,
        datasets: Sequence[SequenceList],
        ratios: Sequence[float] | None,
        aug: Augmentation,
        samples_per_epoch: int,
        seed: int = 0,
        max_attempts: int = 200,
    ):
        if not datasets:
            raise ValueError("no training datasets given")
        ratios = [1.0] * len(datasets) if ratios is None else [float(r) for r in ratios]
        if len(ratios) != len(datasets) or any(r < 0 for r in ratios) or sum(ratios) <= 0:
            raise ValueError(f"dataset ratios {ratios}: expected {len(datasets)} non-negative numbers, not all 0")
        self.datasets = list(datasets)
        self.p = np.asarray(ratios) / sum(ratios)
        self.aug = aug
        self.samples_per_epoch = int(samples_per_epoch)
        self.seed = int(seed)
        self.max_attempts = max_attempts

    def __len__(self) -> int:
        return self.samples_per_epoch

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        rng = np.random.default_rng([self.seed, int(index)])
        for _ in range(self.max_attempts):
            sample = self._attempt(self.datasets[rng.choice(len(self.datasets), p=self.p)], rng)
            if sample is not None:
                return sample
        names = ", ".join(repr(d) for d in self.datasets)
        raise RuntimeError(f"no valid training pair after {self.max_attempts} attempts from {names}")

    def _attempt(self, dataset: SequenceList, rng: np.random.Generator):
        seq = dataset[self._pick_sequence(dataset, rng)]
        if dataset.is_video:
            ids = sample_frame_ids(seq.usable, self.aug.max_gap, rng)
            if ids is None:
                return None
            template_frame, search_frame = seq.frame(ids[0]), seq.frame(ids[1])
        else:
            ids = (0, 0)
            template_frame = search_frame = seq.frame(0)
        boxes = np.asarray(seq.boxes, dtype=np.float32)  # as the official sampler reads them
        return make_pair(template_frame, boxes[ids[0]], search_frame, boxes[ids[1]], self.aug, rng)

    def _pick_sequence(self, dataset: SequenceList, rng: np.random.Generator, tries: int = 1000) -> int:
        for _ in range(tries):
            index = int(rng.integers(len(dataset)))
            if _eligible(dataset, index, self.aug.min_video_frames):
                return index
        raise RuntimeError(
            f"{dataset!r}: no usable sequence found in {tries} draws (a video sequence needs at least "
            f"{self.aug.min_video_frames} frames and more than 4 frames with the target visible)"
        )


class RankSampler(torch.utils.data.Sampler):
    """Global sample indices for one rank: epoch e covers e*N ... e*N + N - 1, split round-robin.

    Like ``DistributedSampler`` (each rank a disjoint, equal share; ``set_epoch`` changes the draw),
    but the content of a sample depends only on its global index.
    """

    def __init__(self, samples_per_epoch: int, rank: int = 0, world_size: int = 1):
        self.samples_per_epoch = int(samples_per_epoch)
        self.rank, self.world_size = rank, world_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.samples_per_epoch // self.world_size

    def __iter__(self) -> Iterator[int]:
        base = self.epoch * self.samples_per_epoch
        for i in range(len(self)):
            yield base + i * self.world_size + self.rank
