"""Readers for tracking benchmarks laid out as their downloads unpack, and a registry by name.

Every reader returns a :class:`Dataset` of :class:`Sequence` objects (frame paths, ground-truth
boxes x, y, w, h, visibility flags where the dataset has them). Reading checks the tree up front
so a malformed one fails before any tracking: the error names the file and, for text files, the
line. numpy and OpenCV only.

Layouts (``root`` is what you pass to ``--root``):

* ``got10k-val`` / ``got10k-test``: ``root/{val,test}/list.txt``, ``<seq>/00000001.jpg``,
  ``<seq>/groundtruth.txt`` (one line on test), and on val ``cover.label`` / ``absence.label``
  and ``meta_info.ini`` (its ``resolution`` bounds the boxes). ``root`` may also be the split
  folder itself.
* ``lasot``: ``root/<class>/<class>-<n>/{img/00000001.jpg, groundtruth.txt, full_occlusion.txt,
  out_of_view.txt}`` for the 280 test videos (or those named in ``root/testing_set.txt``).
* ``trackingnet``: ``root/TEST/anno/<seq>.txt`` (first frame only) and ``root/TEST/frames/<seq>/0.jpg``.
* ``otb`` / ``uav``: OTB-100 (``<Seq>/img/0001.jpg``, ``<Seq>/groundtruth_rect.txt``) and UAV123
  (``data_seq/UAV123/<seq>/000001.jpg``, ``anno/UAV123/<seq>.txt``) with the frame ranges every
  toolkit uses (``splits.py``).
* ``folder``: any folder of sequences, ``<seq>/img/*.jpg`` (or images directly in ``<seq>/``)
  and ``<seq>/groundtruth.txt`` (or ``groundtruth_rect.txt``); optional ``absence.label``,
  ``visibility.txt`` (visible fraction) or ``full_occlusion.txt`` + ``out_of_view.txt``. NaN rows mark frames without the target.
* ``procedural``: the training module's procedural set rendered into a ``folder`` tree.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..sources import IMAGE_SUFFIXES
from . import splits

__all__ = ["Dataset", "DatasetError", "Sequence", "DATASETS", "dataset_names", "load_dataset", "read_boxes"]


class DatasetError(ValueError):
    """A dataset tree that cannot be read; the message names the file (and line)."""


@dataclass(frozen=True, eq=False)
class Sequence:
    """One video: frame paths in order, boxes (x, y, w, h) per frame (only the first row when
    the benchmark withholds the rest), and per-frame visibility when the dataset says."""

    name: str
    frames: tuple[Path, ...]
    ground_truth: np.ndarray
    target_visible: np.ndarray | None = None
    image_size: tuple[int, int] | None = None  # (width, height), when the dataset records it

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def init_box(self) -> tuple[float, float, float, float]:
        return tuple(float(v) for v in self.ground_truth[0])

    @property
    def annotated(self) -> bool:
        """True when every frame has ground truth (so metrics can be computed)."""
        return len(self.ground_truth) == len(self.frames) and len(self.frames) > 1

    def resolve_image_size(self) -> tuple[int, int]:
        """(width, height): from the dataset's metadata, else read from the first frame."""
        if self.image_size is not None:
            return self.image_size
        import cv2

        frame = cv2.imread(str(self.frames[0]), cv2.IMREAD_UNCHANGED)
        if frame is None:
            raise DatasetError(f"{self.frames[0]}: not a readable image")
        return int(frame.shape[1]), int(frame.shape[0])


@dataclass
class Dataset:
    """``protocol`` picks the metrics (see ``report.evaluate``); ``submission`` the writer for
    benchmarks scored by a server ("got10k", "trackingnet") or None."""

    name: str
    root: Path
    sequences: list[Sequence]
    protocol: str
    submission: str | None = None
    rules: str = "default"  # pytracking's per-dataset rules: "default", "lasot" or "uav"

    def __len__(self) -> int:
        return len(self.sequences)

    def limit(self, count: int | None) -> "Dataset":
        """The first ``count`` sequences (in the dataset's order), for quick runs."""
        if count is None:
            return self
        if count < 1:
            raise ValueError(f"sequence limit must be >= 1, got {count}")
        return Dataset(self.name, self.root, self.sequences[:count], self.protocol,
                       self.submission, self.rules)


# -- text files ----------------------------------------------------------------------------------
_SPLIT = re.compile(r"[,\s]+")


def _parse_numbers(path: Path, lineno: int, line: str) -> list[float]:
    try:
        return [float(v) for v in _SPLIT.split(line.strip()) if v]
    except ValueError:
        raise DatasetError(f"{path}:{lineno}: not a list of numbers: {line.strip()!r}") from None


def read_boxes(path: Path, allow_nan: bool = False) -> np.ndarray:
    """Boxes x, y, w, h, one per line, separated by commas, tabs or spaces (all three occur in
    the wild). Trailing blank lines are fine; a blank line in between, a line without exactly
    four numbers or (unless allowed) NaN is an error naming the file and line."""
    if not path.is_file():
        raise DatasetError(f"{path}: ground-truth file not found")
    lines = path.read_text().splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise DatasetError(f"{path}: empty ground-truth file (expected one x,y,w,h line per frame)")
    rows = []
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            raise DatasetError(f"{path}:{lineno}: blank line inside the ground truth")
        values = _parse_numbers(path, lineno, line)
        if len(values) != 4:
            raise DatasetError(f"{path}:{lineno}: expected 4 numbers (x, y, w, h), got {len(values)}: {line.strip()!r}")
        if not allow_nan and any(np.isnan(values)):
            raise DatasetError(f"{path}:{lineno}: NaN box (this dataset annotates every frame)")
        rows.append(values)
    return np.asarray(rows, dtype=np.float64)


def _read_flags(path: Path, count: int) -> np.ndarray:
    """Per-frame integer labels (one per line, or comma-separated on one line as LaSOT has)."""
    values = []
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        values += _parse_numbers(path, lineno, line)
    if len(values) != count:
        raise DatasetError(f"{path}: {len(values)} labels for {count} frames")
    return np.asarray(values)


def _natural_key(path: Path):
    return (0, int(path.stem), "") if path.stem.isdigit() else (1, 0, path.stem)


def _images(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise DatasetError(f"{folder}: image folder not found")
    files = sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=_natural_key)
    if not files:
        raise DatasetError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
    return files


def _check_count(gt_path: Path, boxes: np.ndarray, frames: list, allow_first_only: bool) -> None:
    if len(boxes) == len(frames) or (allow_first_only and len(boxes) == 1):
        return
    raise DatasetError(f"{gt_path}: {len(boxes)} boxes for {len(frames)} images in {Path(frames[0]).parent}")


def _visible_from_files(folder: Path, count: int) -> np.ndarray | None:
    """Visibility flags from whichever convention's files the sequence has."""
    if (folder / "cover.label").is_file():
        return _read_flags(folder / "cover.label", count) > 0
    if (folder / "absence.label").is_file():
        return _read_flags(folder / "absence.label", count) == 0
    if (folder / "visibility.txt").is_file():  # the procedural set: visible fraction per frame
        return _read_flags(folder / "visibility.txt", count) > 0
    occlusion, out_of_view = folder / "full_occlusion.txt", folder / "out_of_view.txt"
    if occlusion.is_file() or out_of_view.is_file():
        for path in (occlusion, out_of_view):
            if not path.is_file():
                raise DatasetError(f"{path}: missing (LaSOT-style flags come as a pair)")
        return (_read_flags(occlusion, count) == 0) & (_read_flags(out_of_view, count) == 0)
    return None


def _read_list(path: Path) -> list[str]:
    names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if not names:
        raise DatasetError(f"{path}: lists no sequences")
    return names


# -- GOT-10k -------------------------------------------------------------------------------------
def _got10k_resolution(folder: Path) -> tuple[int, int] | None:
    meta = folder / "meta_info.ini"
    if not meta.is_file():
        return None
    for lineno, line in enumerate(meta.read_text().splitlines(), 1):
        key, _, value = line.partition(":")
        if key.strip() == "resolution":
            numbers = re.findall(r"\d+", value)
            if len(numbers) != 2:
                raise DatasetError(f"{meta}:{lineno}: resolution should be '(width, height)', got {value.strip()!r}")
            return int(numbers[0]), int(numbers[1])
    return None


def _split_dir(root: Path, split: str) -> Path:
    if (root / split).is_dir():
        return root / split
    if (root / "list.txt").is_file() or root.name.lower() == split:
        return root
    raise DatasetError(f"{root}: no '{split}' folder (expected the GOT-10k root or its {split} folder)")


def _subfolders(base: Path) -> list[str]:
    names = sorted(p.name for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not names:
        raise DatasetError(f"{base}: empty folder (expected one sub-folder per sequence)")
    return names


def read_got10k(root: Path, split: str) -> Dataset:
    base = _split_dir(Path(root), split)
    list_file = base / "list.txt"
    names = _read_list(list_file) if list_file.is_file() else _subfolders(base)
    sequences = []
    for name in names:
        folder = base / name
        if not folder.is_dir():
            raise DatasetError(f"{list_file}: names {name!r}, but {folder} is not a folder")
        frames = _images(folder)
        gt_path = folder / "groundtruth.txt"
        boxes = read_boxes(gt_path)
        _check_count(gt_path, boxes, frames, allow_first_only=split == "test")
        visible = _visible_from_files(folder, len(frames)) if len(boxes) == len(frames) else None
        sequences.append(Sequence(name, tuple(frames), boxes, visible, _got10k_resolution(folder)))
    protocol = "got10k" if split == "val" else "none"
    return Dataset(f"got10k-{split}", Path(root), sequences, protocol, "got10k" if split == "test" else None)


# -- LaSOT ---------------------------------------------------------------------------------------
def _lasot_folder(root: Path, name: str) -> Path:
    nested = root / name.rsplit("-", 1)[0] / name
    return nested if nested.is_dir() else root / name


def _lasot_sequence(root: Path, name: str) -> Sequence:
    folder = _lasot_folder(root, name)
    gt_path = folder / "groundtruth.txt"
    boxes = read_boxes(gt_path)
    n = len(boxes)
    flags = {f: folder / f for f in ("full_occlusion.txt", "out_of_view.txt")}
    for path in flags.values():
        if not path.is_file():
            raise DatasetError(f"{path}: missing (LaSOT marks absent frames with it)")
    visible = (_read_flags(flags["full_occlusion.txt"], n) == 0) & (_read_flags(flags["out_of_view.txt"], n) == 0)
    available = _images(folder / "img")
    frames = [folder / "img" / f"{i:08d}.jpg" for i in range(1, n + 1)]
    if len(available) < n or not frames[-1].is_file():
        raise DatasetError(f"{gt_path}: {n} boxes but {len(available)} images in {folder / 'img'} (or {frames[-1].name} missing)")
    return Sequence(name, tuple(frames), boxes, visible)


def read_lasot(root: Path) -> Dataset:
    root = Path(root)
    list_file = root / "testing_set.txt"
    names = _read_list(list_file) if list_file.is_file() else list(splits.LASOT_TEST)
    missing = [n for n in names if not _lasot_folder(root, n).is_dir()]
    if missing:
        where = str(list_file) if list_file.is_file() else "the LaSOT test split"
        raise DatasetError(
            f"{root}: {len(missing)} of {len(names)} sequences from {where} are missing "
            f"(first: {', '.join(missing[:3])}); expected <class>/<class>-<n>/ folders"
        )
    return Dataset("lasot", root, [_lasot_sequence(root, n) for n in names], "lasot", None, rules="lasot")


# -- TrackingNet ---------------------------------------------------------------------------------
def read_trackingnet(root: Path, split: str = "TEST") -> Dataset:
    root = Path(root)
    base = root / split if (root / split).is_dir() else root
    anno_dir, frames_dir = base / "anno", base / "frames"
    for d in (anno_dir, frames_dir):
        if not d.is_dir():
            raise DatasetError(f"{d}: not found (expected TrackingNet's {split}/anno and {split}/frames)")
    names = sorted(p.stem for p in anno_dir.glob("*.txt"))
    if not names:
        raise DatasetError(f"{anno_dir}: no <sequence>.txt annotation files")
    sequences = []
    for name in names:
        frames = _images(frames_dir / name)
        boxes = read_boxes(anno_dir / f"{name}.txt")
        _check_count(anno_dir / f"{name}.txt", boxes, frames, allow_first_only=True)
        sequences.append(Sequence(name, tuple(frames), boxes))
    protocol = "default" if all(s.annotated for s in sequences) else "none"
    return Dataset("trackingnet", root, sequences, protocol, "trackingnet")


# -- OTB-100 / UAV123 (frame ranges from splits.py) ----------------------------------------------
def _table_sequence(root: Path, name: str, row: dict, allow_nan: bool) -> Sequence:
    folder = root / row["folder"]
    if not folder.is_dir():
        raise DatasetError(f"{folder}: image folder of sequence {name} not found")
    first = row["first"] + row["omit"]
    frames = [folder / f"{i:0{row['digits']}d}.jpg" for i in range(first, row["last"] + 1)]
    for frame in (frames[0], frames[-1]):
        if not frame.is_file():
            raise DatasetError(f"{frame}: frame of sequence {name} not found")
    gt_path = root / row["anno"]
    boxes = read_boxes(gt_path, allow_nan=allow_nan)[row["omit"]:]
    _check_count(gt_path, boxes, frames, allow_first_only=False)
    visible = ~np.isnan(boxes).any(axis=1) if allow_nan else None
    return Sequence(name, tuple(frames), boxes, visible)


def _read_table(root: Path, table: dict, dataset: str, allow_nan: bool, names=None) -> list[Sequence]:
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: not a folder")
    if names is not None:
        unknown = [n for n in names if n not in table]
        if unknown:
            raise ValueError(f"not {dataset} sequences: {', '.join(unknown)}")
        table = {n: table[n] for n in names}
    missing = [n for n, row in table.items() if not (root / row["folder"]).is_dir()]
    if missing:
        raise DatasetError(
            f"{root}: {len(missing)} of {len(table)} {dataset} sequences are missing "
            f"(first: {', '.join(missing[:3])}, expected {table[missing[0]]['folder']}/)"
        )
    return [_table_sequence(root, n, row, allow_nan) for n, row in table.items()]


def read_otb(root: Path, names: list[str] | None = None) -> Dataset:
    """OTB-100 (or the named subset of it)."""
    return Dataset("otb", Path(root), _read_table(root, splits.OTB100, "OTB-100", False, names), "otb")


def read_uav(root: Path, names: list[str] | None = None) -> Dataset:
    """UAV123 (or the named subset); ``root`` holds ``data_seq/`` and ``anno/``."""
    root = Path(root)
    if (root / "UAV123" / "data_seq").is_dir():
        root = root / "UAV123"
    return Dataset("uav", root, _read_table(root, splits.UAV123, "UAV123", True, names), "default", rules="uav")


# -- generic folder of sequences -----------------------------------------------------------------
_GT_NAMES = ("groundtruth.txt", "groundtruth_rect.txt")


def _folder_sequence(folder: Path) -> Sequence:
    gt_path = next((folder / n for n in _GT_NAMES if (folder / n).is_file()), None)
    if gt_path is None:
        raise DatasetError(f"{folder / _GT_NAMES[0]}: ground-truth file not found (sequence {folder.name})")
    frames = _images(folder / "img" if (folder / "img").is_dir() else folder)
    boxes = read_boxes(gt_path, allow_nan=True)
    _check_count(gt_path, boxes, frames, allow_first_only=True)
    visible = None
    if len(boxes) == len(frames):
        visible = _visible_from_files(folder, len(frames))
        if np.isnan(boxes).any():
            present = ~np.isnan(boxes).any(axis=1)
            visible = present if visible is None else visible & present
    if np.isnan(boxes[0]).any():
        raise DatasetError(f"{gt_path}:1: the first frame needs a box to start tracking")
    return Sequence(folder.name, tuple(frames), boxes, visible)


def read_folder(root: Path, name: str = "folder") -> Dataset:
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: not a folder")
    if any((root / n).is_file() for n in _GT_NAMES):
        sequences = [_folder_sequence(root)]
    else:
        sequences = [_folder_sequence(root / n) for n in _subfolders(root)]
    nan = any(s.ground_truth.shape[0] > 1 and np.isnan(s.ground_truth).any() for s in sequences)
    protocol = "default" if all(s.annotated for s in sequences) else "none"
    return Dataset(name, root, sequences, protocol, rules="uav" if nan else "default")


def read_procedural(root: Path, num_sequences: int = 8, length: int = 100, seed: int = 0) -> Dataset:
    """The training module's procedural sequences: rendered into ``root`` the first time
    (``asymtrack_deploy.train.procedural.render_sequences``), read as a folder tree afterwards
    (the options only matter for that first rendering)."""
    root = Path(root)
    if not (root.is_dir() and any(p.is_dir() for p in root.iterdir())):
        try:
            from ..train import procedural
        except ImportError as exc:
            raise DatasetError(
                f"--dataset procedural needs asymtrack_deploy.train.procedural, which is not "
                f"available ({exc}); point --dataset folder at an already rendered tree instead"
            ) from exc
        root.mkdir(parents=True, exist_ok=True)
        procedural.render_sequences(root, num_sequences, length=length, seed=seed)
    return read_folder(root, name="procedural")


# -- registry ------------------------------------------------------------------------------------
DATASETS: dict[str, Callable[..., Dataset]] = {
    "got10k-val": functools.partial(read_got10k, split="val"),
    "got10k-test": functools.partial(read_got10k, split="test"),
    "lasot": read_lasot,
    "trackingnet": read_trackingnet,
    "otb": read_otb,
    "uav": read_uav,
    "folder": read_folder,
    "procedural": read_procedural,
}


def dataset_names() -> list[str]:
    return list(DATASETS)


def load_dataset(name: str, root: str | Path, **options) -> Dataset:
    """``load_dataset("lasot", "/data/LaSOT")``; names accept ``_`` for ``-``; ``options`` go to
    the reader (``names=[...]`` for otb/uav subsets, ``num_sequences=`` for procedural)."""
    key = name.lower().replace("_", "-")
    if key not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}: expected one of {', '.join(DATASETS)}")
    if key != "procedural" and not Path(root).is_dir():
        raise DatasetError(f"{root}: dataset root not found")
    return DATASETS[key](Path(root), **options)
