"""Training datasets in their published layouts, read with numpy and OpenCV only.

Every dataset is a list of sequences; a sequence has one (x, y, w, h) box per frame and a
visibility flag per frame (the sampler draws only visible frames). Images are sequences of one
frame (``is_video = False``). Annotations are parsed on first use and cached; a malformed file
raises ``AnnotationError`` naming the file and the line.

Layouts (as the datasets are published):

* GOT-10k ``train/`` or ``val/``: ``list.txt`` (one sequence folder per line), per sequence
  ``groundtruth.txt`` (x,y,w,h), ``absence.label`` (1 = target absent), ``cover.label`` (0-8,
  visible eighths), frames ``00000001.jpg``... A frame is visible when not absent and cover > 0.
  An optional split file lists indices into ``list.txt`` (the official ``data_specs`` format) or
  sequence names.
* LaSOT: ``<class>/<class>-<k>/`` with ``groundtruth.txt``, ``full_occlusion.txt`` and
  ``out_of_view.txt`` (one comma-separated line of 0/1 each), frames ``img/00000001.jpg``.
  An optional split file lists sequence names (e.g. the protocol-II training list).
* TrackingNet: ``TRAIN_<k>/anno/<video>.txt`` and ``TRAIN_<k>/frames/<video>/<i>.jpg`` (from 0).
* COCO 2017: ``annotations/instances_train2017.json`` and the images in ``images/train2017/`` or
  ``train2017/``; every non-crowd object is a one-frame sequence (the json is parsed directly).
* A generic folder: ``<seq>/groundtruth.txt`` (comma, tab or space separated) and the frames in
  ``<seq>/img/`` or ``<seq>/`` sorted by name, one box per frame (the layout the procedural
  renderer writes).
"""
from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

__all__ = [
    "AnnotationError",
    "SequenceInfo",
    "TrackingDataset",
    "GOT10k",
    "LaSOT",
    "TrackingNet",
    "COCO",
    "SequenceFolder",
    "read_boxes",
    "read_frame",
    "IMAGE_SUFFIXES",
]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
# Sequences the official sampler never draws (broken annotations in TrackingNet).
TRACKINGNET_EXCLUDED = frozenset({"ceH46gqMWak_0", "ak89dpHVmHc_1", "a3dbdHben-o_2", "p6Rtu645O08_0", "aDxRlCI40wo_0"})


class AnnotationError(ValueError):
    """A malformed annotation file; the message names the file and, where known, the line."""

    def __init__(self, path: str | Path, problem: str | None = None, line: int | None = None):
        if problem is None:  # the one-argument form DataLoader uses to re-raise a worker's error
            self.path, self.line = None, None
            super().__init__(str(path))
            return
        self.path, self.line = str(path), line
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True)
class SequenceInfo:
    boxes: np.ndarray  # (N, 4) float32, x, y, w, h in pixels
    visible: np.ndarray  # (N,) bool

    def __len__(self) -> int:
        return len(self.boxes)


class TrackingDataset(ABC):
    """A list of annotated sequences; subclasses say where the files are."""

    name = "dataset"
    is_video = True

    def __init__(self):
        self._info: dict[int, SequenceInfo] = {}

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def _load_info(self, index: int) -> SequenceInfo: ...

    @abstractmethod
    def frame(self, index: int, frame_id: int) -> np.ndarray:
        """Frame ``frame_id`` (from 0) of sequence ``index`` as BGR uint8."""

    def sequence_info(self, index: int) -> SequenceInfo:
        if index not in self._info:
            self._info[index] = self._load_info(index)
        return self._info[index]

    def check(self) -> None:
        """Parse every annotation now (raises ``AnnotationError`` on the first bad file)."""
        for i in range(len(self)):
            self.sequence_info(i)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} sequences)"


# --------------------------------------------------------------------------------------------
# Parsing helpers
# --------------------------------------------------------------------------------------------

_SEPARATORS = re.compile(r"[,\t ]+")


def _lines(path: Path) -> list[str]:
    if not path.is_file():
        raise AnnotationError(path, "no such file")
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise AnnotationError(path, f"not a text file ({exc.reason} at byte {exc.start})") from exc


def read_boxes(path: str | Path, any_separator: bool = False) -> np.ndarray:
    """Boxes (x, y, w, h), one per line, comma-separated (or also tabs/spaces)."""
    path = Path(path)
    rows = []
    lines = _lines(path)
    while lines and not lines[-1].strip():
        lines.pop()  # a trailing newline is common and harmless
    for number, line in enumerate(lines, start=1):
        fields = _SEPARATORS.split(line.strip()) if any_separator else line.strip().split(",")
        rows.append(_parse_box(path, number, line, fields))
    if not rows:
        raise AnnotationError(path, "the file has no boxes")
    return np.asarray(rows, dtype=np.float32)


def _parse_box(path: Path, number: int, line: str, fields: list[str]) -> list[float]:
    if len(fields) != 4:
        raise AnnotationError(path, f"expected 4 numbers x,y,w,h, got {len(fields)} field(s): {line.strip()!r}", number)
    try:
        return [float(f) for f in fields]
    except ValueError:
        raise AnnotationError(path, f"expected 4 numbers x,y,w,h, got {line.strip()!r}", number) from None


def _read_int_lines(path: Path, low: int, high: int) -> np.ndarray:
    """One integer per line (GOT-10k's absence.label and cover.label)."""
    values = []
    lines = _lines(path)
    while lines and not lines[-1].strip():
        lines.pop()
    for number, line in enumerate(lines, start=1):
        values.append(_parse_flag(path, line.strip(), low, high, number))
    return np.asarray(values, dtype=np.int64)


def _read_int_row(path: Path, low: int, high: int) -> np.ndarray:
    """One comma-separated line of integers (LaSOT's occlusion and out-of-view flags)."""
    lines = [ln for ln in _lines(path) if ln.strip()]
    if len(lines) != 1:
        raise AnnotationError(path, f"expected one comma-separated line of flags, found {len(lines)} lines")
    return np.asarray([_parse_flag(path, v.strip(), low, high, 1) for v in lines[0].split(",")], dtype=np.int64)


def _parse_flag(path: Path, text: str, low: int, high: int, line: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise AnnotationError(path, f"expected an integer in [{low}, {high}], got {text!r}", line) from None
    if not low <= value <= high:
        raise AnnotationError(path, f"expected an integer in [{low}, {high}], got {value}", line)
    return value


def _same_length(reference: Path, n: int, path: Path, values: np.ndarray) -> None:
    if len(values) != n:
        raise AnnotationError(path, f"has {len(values)} entries but {reference.name} has {n} boxes")


def _box_valid(boxes: np.ndarray) -> np.ndarray:
    return np.isfinite(boxes).all(axis=1) & (boxes[:, 2] > 0) & (boxes[:, 3] > 0)


def read_frame(path: str | Path) -> np.ndarray:
    frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if frame is None:
        raise FileNotFoundError(f"{path}: missing or not a readable image")
    return frame


def _require_dir(root: Path, what: str) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"{root}: no such folder (expected {what})")
    return root


def _read_split(path: str | Path) -> list[str]:
    path = Path(path)
    return [ln.strip() for ln in _lines(path) if ln.strip()]


# --------------------------------------------------------------------------------------------
# Datasets
# --------------------------------------------------------------------------------------------


class GOT10k(TrackingDataset):
    name = "got10k"

    def __init__(self, root: str | Path, split: str | Path | None = None):
        super().__init__()
        self.root = _require_dir(root, "a GOT-10k train/ or val/ folder with list.txt")
        listing = self.root / "list.txt"
        names = [ln.strip() for ln in _lines(listing) if ln.strip()]
        self.sequences = self._apply_split(names, split) if split is not None else names

    @staticmethod
    def _apply_split(names: list[str], split: str | Path) -> list[str]:
        chosen = []
        for number, entry in enumerate(_read_split(split), start=1):
            if entry.isdigit():
                if int(entry) >= len(names):
                    problem = f"index {entry} is past the end of list.txt ({len(names)} sequences)"
                    raise AnnotationError(split, problem, number)
                chosen.append(names[int(entry)])
            else:
                chosen.append(entry)
        return chosen

    def __len__(self) -> int:
        return len(self.sequences)

    def _load_info(self, index: int) -> SequenceInfo:
        folder = self.root / self.sequences[index]
        gt_path = folder / "groundtruth.txt"
        boxes = read_boxes(gt_path)
        absence = _read_int_lines(folder / "absence.label", 0, 1)
        cover = _read_int_lines(folder / "cover.label", 0, 8)
        _same_length(gt_path, len(boxes), folder / "absence.label", absence)
        _same_length(gt_path, len(boxes), folder / "cover.label", cover)
        return SequenceInfo(boxes, (absence == 0) & (cover > 0) & _box_valid(boxes))

    def frame(self, index: int, frame_id: int) -> np.ndarray:
        return read_frame(self.root / self.sequences[index] / f"{frame_id + 1:08d}.jpg")


class LaSOT(TrackingDataset):
    name = "lasot"

    def __init__(self, root: str | Path, split: str | Path | None = None):
        super().__init__()
        self.root = _require_dir(root, "the LaSOT folder with one folder per class")
        if split is not None:
            self.sequences = _read_split(split)
        else:
            self.sequences = sorted(
                p.name for c in self.root.iterdir() if c.is_dir() for p in c.iterdir() if p.is_dir() and "-" in p.name
            )
        if not self.sequences:
            raise ValueError(f"{self.root}: no LaSOT sequences (expected <class>/<class>-<k>/groundtruth.txt)")

    def __len__(self) -> int:
        return len(self.sequences)

    def _folder(self, index: int) -> Path:
        name = self.sequences[index]
        return self.root / name.rsplit("-", 1)[0] / name

    def _load_info(self, index: int) -> SequenceInfo:
        folder = self._folder(index)
        gt_path = folder / "groundtruth.txt"
        boxes = read_boxes(gt_path)
        occluded = _read_int_row(folder / "full_occlusion.txt", 0, 1)
        out_of_view = _read_int_row(folder / "out_of_view.txt", 0, 1)
        _same_length(gt_path, len(boxes), folder / "full_occlusion.txt", occluded)
        _same_length(gt_path, len(boxes), folder / "out_of_view.txt", out_of_view)
        return SequenceInfo(boxes, (occluded == 0) & (out_of_view == 0) & _box_valid(boxes))

    def frame(self, index: int, frame_id: int) -> np.ndarray:
        return read_frame(self._folder(index) / "img" / f"{frame_id + 1:08d}.jpg")


class TrackingNet(TrackingDataset):
    name = "trackingnet"

    def __init__(self, root: str | Path, sets: list[int] | None = None):
        super().__init__()
        self.root = _require_dir(root, "the TrackingNet folder with TRAIN_<k>/ sets")
        found = sorted(int(p.name[6:]) for p in self.root.glob("TRAIN_*") if p.name[6:].isdigit())
        sets = found if sets is None else sets
        if not sets:
            raise ValueError(f"{self.root}: no TRAIN_<k> folders (expected TRAIN_<k>/anno and TRAIN_<k>/frames)")
        self.sequences = [
            (s, p.stem)
            for s in sets
            for p in sorted((self.root / f"TRAIN_{s}" / "anno").glob("*.txt"))
            if p.stem not in TRACKINGNET_EXCLUDED
        ]

    def __len__(self) -> int:
        return len(self.sequences)

    def _load_info(self, index: int) -> SequenceInfo:
        s, video = self.sequences[index]
        boxes = read_boxes(self.root / f"TRAIN_{s}" / "anno" / f"{video}.txt")
        return SequenceInfo(boxes, _box_valid(boxes))

    def frame(self, index: int, frame_id: int) -> np.ndarray:
        s, video = self.sequences[index]
        return read_frame(self.root / f"TRAIN_{s}" / "frames" / video / f"{frame_id}.jpg")


class COCO(TrackingDataset):
    """COCO instances as one-frame sequences. Like the official sampler, every non-crowd object
    is used whatever its size (its 50-pixel 'valid' threshold is never consulted for images)."""

    name = "coco"
    is_video = False

    def __init__(self, root: str | Path, split: str = "train", version: str = "2017"):
        super().__init__()
        self.root = _require_dir(root, "the COCO folder with annotations/ and the images")
        self.annotation_file = self.root / "annotations" / f"instances_{split}{version}.json"
        candidates = [self.root / "images" / f"{split}{version}", self.root / f"{split}{version}"]
        self.image_dir = next((c for c in candidates if c.is_dir()), candidates[0])
        self.files, self.boxes = self._parse(self.annotation_file)

    @staticmethod
    def _parse(path: Path) -> tuple[list[str], np.ndarray]:
        data = _load_json(path)
        images = {img["id"]: img["file_name"] for img in _entries(path, data, "images", ("id", "file_name"))}
        files, boxes = [], []
        for i, ann in enumerate(_entries(path, data, "annotations", ("image_id", "bbox"))):
            if ann.get("iscrowd", 0):
                continue
            bbox = ann["bbox"]
            if not (isinstance(bbox, list) and len(bbox) == 4 and all(isinstance(v, (int, float)) for v in bbox)):
                raise AnnotationError(path, f"annotations[{i}].bbox: expected [x, y, w, h], got {bbox!r}")
            if ann["image_id"] not in images:
                raise AnnotationError(path, f"annotations[{i}]: image_id {ann['image_id']} is not in 'images'")
            files.append(images[ann["image_id"]])
            boxes.append(bbox)
        if not files:
            raise AnnotationError(path, "no non-crowd annotations")
        return files, np.asarray(boxes, dtype=np.float32)

    def __len__(self) -> int:
        return len(self.files)

    def _load_info(self, index: int) -> SequenceInfo:
        box = self.boxes[index : index + 1]
        return SequenceInfo(box, _box_valid(box))

    def frame(self, index: int, frame_id: int) -> np.ndarray:
        return read_frame(self.image_dir / self.files[index])


def _load_json(path: Path) -> dict:
    if not path.is_file():
        raise AnnotationError(path, "no such file")
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as exc:
        raise AnnotationError(path, f"invalid JSON: {exc.msg} (column {exc.colno})", exc.lineno) from None
    if not isinstance(data, dict):
        raise AnnotationError(path, "expected a JSON object with 'images' and 'annotations'")
    return data


def _entries(path: Path, data: dict, key: str, fields: tuple[str, ...]) -> list[dict]:
    entries = data.get(key)
    if not isinstance(entries, list):
        raise AnnotationError(path, f"no '{key}' list")
    for i, entry in enumerate(entries):
        missing = [f for f in fields if not isinstance(entry, dict) or f not in entry]
        if missing:
            raise AnnotationError(path, f"{key}[{i}] lacks {', '.join(missing)}")
    return entries


class SequenceFolder(TrackingDataset):
    """Any folder of sequences, each with ``groundtruth.txt`` and one box per frame."""

    name = "folder"

    def __init__(self, root: str | Path):
        super().__init__()
        self.root = _require_dir(root, "a folder of sequences, each with groundtruth.txt")
        self.sequences = sorted(p.parent.name for p in self.root.glob("*/groundtruth.txt"))
        if not self.sequences:
            raise ValueError(f"{self.root}: no <sequence>/groundtruth.txt found")
        self._frames: dict[int, list[Path]] = {}

    def __len__(self) -> int:
        return len(self.sequences)

    def frame_files(self, index: int) -> list[Path]:
        if index not in self._frames:
            folder = self.root / self.sequences[index]
            img = folder / "img" if (folder / "img").is_dir() else folder
            self._frames[index] = sorted(p for p in img.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        return self._frames[index]

    def _load_info(self, index: int) -> SequenceInfo:
        gt_path = self.root / self.sequences[index] / "groundtruth.txt"
        boxes = read_boxes(gt_path, any_separator=True)
        frames = self.frame_files(index)
        if len(frames) != len(boxes):
            raise AnnotationError(gt_path, f"has {len(boxes)} boxes but the sequence has {len(frames)} frames")
        return SequenceInfo(boxes, _box_valid(boxes))

    def frame(self, index: int, frame_id: int) -> np.ndarray:
        return read_frame(self.frame_files(index)[frame_id])
