"""COCO 2017 instances as one-frame sequences: ``annotations/instances_train2017.json`` and the
images in ``images/train2017/`` or ``train2017/``. Like the official sampler, every non-crowd
object is used whatever its size (its 50-pixel 'valid' threshold is never consulted for images).
The json is parsed directly (no pycocotools).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .errors import DatasetError
from .sequence import Sequence, SequenceList, require_dir

__all__ = ["COCO"]


class COCO(SequenceList):
    is_video = False
    cache_limit = 0  # a sequence is a row of arrays already in memory

    def __init__(self, root: str | Path, split: str = "train", version: str = "2017"):
        self.root = require_dir(root, "the COCO folder with annotations/ and the images")
        self.annotation_file = self.root / "annotations" / f"instances_{split}{version}.json"
        candidates = [self.root / "images" / f"{split}{version}", self.root / f"{split}{version}"]
        self.image_dir = next((c for c in candidates if c.is_dir()), candidates[0])
        self.files, self.boxes = _parse(self.annotation_file)
        super().__init__(self.files)  # an object is named by its image (several objects share one)

    def _read(self, index: int) -> Sequence:
        name = f"{self.files[index]}#{index}"
        return Sequence(name, self.boxes[index : index + 1], (self.image_dir / self.files[index],))


def _parse(path: Path) -> tuple[list[str], np.ndarray]:
    data = _load_json(path)
    images = {img["id"]: img["file_name"] for img in _entries(path, data, "images", ("id", "file_name"))}
    files, boxes = [], []
    for i, ann in enumerate(_entries(path, data, "annotations", ("image_id", "bbox"))):
        if ann.get("iscrowd", 0):
            continue
        bbox = ann["bbox"]
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(isinstance(v, (int, float)) for v in bbox)):
            raise DatasetError(path, f"annotations[{i}].bbox: expected [x, y, w, h], got {bbox!r}")
        if ann["image_id"] not in images:
            raise DatasetError(path, f"annotations[{i}]: image_id {ann['image_id']} is not in 'images'")
        files.append(images[ann["image_id"]])
        boxes.append(bbox)
    if not files:
        raise DatasetError(path, "no non-crowd annotations")
    return files, np.asarray(boxes, dtype=np.float64)


def _load_json(path: Path) -> dict:
    if not path.is_file():
        raise DatasetError(path, "no such file")
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as exc:
        raise DatasetError(path, f"invalid JSON: {exc.msg} (column {exc.colno})", exc.lineno) from None
    except UnicodeDecodeError as exc:
        raise DatasetError(path, f"not a text file ({exc.reason} at byte {exc.start})") from None
    if not isinstance(data, dict):
        raise DatasetError(path, "expected a JSON object with 'images' and 'annotations'")
    return data


def _entries(path: Path, data: dict, key: str, fields: tuple[str, ...]) -> list[dict]:
    entries = data.get(key)
    if not isinstance(entries, list):
        raise DatasetError(path, f"no '{key}' list")
    for i, entry in enumerate(entries):
        missing = [f for f in fields if not isinstance(entry, dict) or f not in entry]
        if missing:
            raise DatasetError(path, f"{key}[{i}] lacks {', '.join(missing)}")
    return entries
