"""Small generated benchmark trees and a tracker that really tracks them, for the eval tests.

Frames are a bright rectangle (the target) moving over a dark noisy background, saved as JPEG;
``BlobTracker`` finds the bright pixels near its last box, so its output depends on the frames
(not on the ground truth) and is deterministic. It has the ``Tracker`` API (``init``/``update``
returning an object with ``box`` and ``score``); ``BlobSpec`` builds it in worker processes.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

SIZE = (96, 72)  # width, height


def target_boxes(n: int, seed: int, size=SIZE) -> np.ndarray:
    """A smooth path of integer boxes that stays inside the image."""
    rng = np.random.default_rng(seed)
    w, h = rng.integers(14, 24), rng.integers(12, 20)
    t = np.arange(n)
    x = (size[0] - w) / 2 + (size[0] - w) / 3 * np.sin(t / 3 + seed)
    y = (size[1] - h) / 2 + (size[1] - h) / 3 * np.cos(t / 4 + seed)
    return np.stack([np.round(x), np.round(y), np.full(n, w), np.full(n, h)], 1).astype(np.float64)


def render(boxes: np.ndarray, folder: Path, names, visible=None, seed: int = 0, size=SIZE) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i, (box, name) in enumerate(zip(boxes, names)):
        frame = rng.integers(0, 40, (size[1], size[0], 3), dtype=np.uint8)
        if visible is None or visible[i]:
            x, y, w, h = (int(v) for v in box)
            frame[y:y + h, x:x + w] = (230, 220, 210)
        path = folder / name
        cv2.imwrite(str(path), frame)
        paths.append(path)
    return paths


def write_boxes(path: Path, boxes: np.ndarray, delimiter: str = ",") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(delimiter.join(f"{v:g}" for v in b) + "\n" for b in boxes))


def folder_dataset(root: Path, count: int = 3, frames: int = 6) -> dict[str, np.ndarray]:
    """``<seq>/img/00000001.jpg`` + ``<seq>/groundtruth.txt`` (the procedural set's layout)."""
    gts = {}
    for k in range(count):
        name = f"seq{k:02d}"
        gt = target_boxes(frames, seed=k)
        render(gt, root / name / "img", [f"{i:08d}.jpg" for i in range(1, frames + 1)], seed=k)
        write_boxes(root / name / "groundtruth.txt", gt)
        gts[name] = gt
    return gts


def got10k_tree(root: Path, split: str = "val", count: int = 3, frames: int = 6, absent=()) -> dict:
    base = root / split
    names = [f"GOT-10k_{split.capitalize()}_{k + 1:06d}" for k in range(count)]
    (base).mkdir(parents=True, exist_ok=True)
    (base / "list.txt").write_text("\n".join(names) + "\n")
    out = {}
    for k, name in enumerate(names):
        gt = target_boxes(frames, seed=10 + k)
        visible = np.ones(frames, bool)
        for i in absent:
            visible[i] = False
        render(gt, base / name, [f"{i:08d}.jpg" for i in range(1, frames + 1)], visible, seed=k)
        write_boxes(base / name / "groundtruth.txt", gt if split == "val" else gt[:1])
        if split == "val":
            (base / name / "absence.label").write_text("".join(f"{int(not v)}\n" for v in visible))
            (base / name / "cover.label").write_text("".join(f"{8 if v else 0}\n" for v in visible))
            (base / name / "cut_by_image.label").write_text("0\n" * frames)
            (base / name / "meta_info.ini").write_text(
                f"[METAINFO]\nobject_class: thing\nresolution: ({SIZE[0]}, {SIZE[1]})\n"
            )
        out[name] = (gt, visible)
    return out


def lasot_tree(root: Path, names=("cat-1", "cat-3", "dog-7"), frames: int = 6, absent=(2,)) -> dict:
    (root).mkdir(parents=True, exist_ok=True)
    (root / "testing_set.txt").write_text("\n".join(names) + "\n")
    out = {}
    for k, name in enumerate(names):
        folder = root / name.split("-")[0] / name
        gt = target_boxes(frames, seed=20 + k)
        visible = np.ones(frames, bool)
        for i in absent:
            visible[i] = False
        render(gt, folder / "img", [f"{i:08d}.jpg" for i in range(1, frames + 1)], visible, seed=k)
        write_boxes(folder / "groundtruth.txt", gt)
        occlusion = ",".join("0" if v else "1" for v in visible)
        (folder / "full_occlusion.txt").write_text(occlusion + "\n")
        (folder / "out_of_view.txt").write_text(",".join("0" for _ in visible) + "\n")
        out[name] = (gt, visible)
    return out


def trackingnet_tree(root: Path, count: int = 2, frames: int = 5) -> dict:
    out = {}
    for k in range(count):
        name = f"tn_{k}"
        gt = target_boxes(frames, seed=30 + k)
        render(gt, root / "TEST" / "frames" / name, [f"{i}.jpg" for i in range(frames)], seed=k)
        write_boxes(root / "TEST" / "anno" / f"{name}.txt", gt[:1])
        out[name] = gt
    return out


@dataclass
class Result:
    box: tuple
    score: float


class BlobTracker:
    """Finds the bright target near its last box; holds the last box when nothing is bright."""

    def __init__(self, delay: float = 0.0, jitter: float = 0.7):
        self.delay = delay
        self.jitter = jitter
        self.box = None
        self.rng = None

    def init(self, frame, box):
        self.box = tuple(float(v) for v in box)
        self.rng = np.random.default_rng(int(sum(box)))

    def update(self, frame):
        time.sleep(self.delay)
        mask = frame.max(axis=2) > 128
        ys, xs = np.nonzero(mask)
        if len(xs):
            x0, y0 = xs.min(), ys.min()
            found = (x0, y0, xs.max() - x0 + 1, ys.max() - y0 + 1)
            noise = self.rng.normal(0, self.jitter, 4)
            self.box = tuple(float(max(1.0, round(v + d, 3))) if i >= 2 else float(round(v + d, 3))
                             for i, (v, d) in enumerate(zip(found, noise)))
            return Result(self.box, 0.9)
        return Result(self.box, 0.1)


@dataclass(frozen=True)
class BlobSpec:
    label: str = "blob"
    delay: float = 0.0

    def build(self):
        return BlobTracker(self.delay)
