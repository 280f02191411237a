"""The benchmarks evaluation knows by name: which reader of the data layer reads each, which
split, and how it is scored (``protocol``, submission writer, per-dataset rules).

Every benchmark is read whole before any tracking, so a malformed tree fails first, with a
``DatasetError`` that names the file (and line). Layouts (``root`` is what ``--root`` names):

* ``got10k-val`` / ``got10k-test``: ``root/{val,test}/`` (or that split folder itself), see
  ``datasets.got10k``; test withholds the ground truth past the first frame.
* ``lasot``: the 280 test videos (or those named in ``root/testing_set.txt``).
* ``trackingnet``: ``root/TEST/anno/<seq>.txt`` (first frame only) and ``root/TEST/frames/<seq>/``.
* ``otb`` / ``uav``: OTB-100 and UAV123 with the frame ranges every toolkit uses.
* ``folder``: any folder of sequence folders (``datasets.folder``).
* ``procedural``: the procedural set, rendered into ``root`` the first time (``root/procedural.json``
  says which set it holds; another set is refused, more of the same is rendered).
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..boxes import check_box_in_frame
from ..datasets import (
    GOT10k,
    OTB100,
    UAV123,
    DatasetError,
    LaSOT,
    Sequence,
    SequenceFolder,
    TrackingNet,
    procedural_root,
    read_names,
    read_sequence_folder,
    splits,
)

__all__ = ["Dataset", "DATASETS", "check_start", "dataset_names", "load_dataset", "read_otb", "read_uav"]


@dataclass
class Dataset:
    """A benchmark's sequences, read, with how to score them: ``protocol`` picks the metrics
    (see ``report.evaluate``), ``submission`` the writer for benchmarks scored by a server
    ("got10k", "trackingnet") or None, ``rules`` pytracking's per-dataset rules."""

    name: str
    root: Path
    sequences: list[Sequence]
    protocol: str
    submission: str | None = None
    rules: str = "default"  # "default", "lasot" or "uav"

    def __len__(self) -> int:
        return len(self.sequences)

    def limit(self, count: int | None) -> "Dataset":
        """The first ``count`` sequences (in the dataset's order), for quick runs."""
        if count is None:
            return self
        if count < 1:
            raise ValueError(f"sequence limit must be >= 1, got {count}")
        return Dataset(self.name, self.root, self.sequences[:count], self.protocol, self.submission, self.rules)


def _annotated_protocol(sequences: list[Sequence]) -> str:
    return "default" if all(s.annotated for s in sequences) else "none"


def _split_dir(root: Path, split: str) -> Path:
    if (root / split).is_dir():
        return root / split
    if (root / "list.txt").is_file() or root.name.lower() == split:
        return root
    raise DatasetError(root, f"no '{split}' folder (expected the GOT-10k root or its {split} folder)")


def read_got10k(root: Path, split: str) -> Dataset:
    sequences = list(GOT10k(_split_dir(Path(root), split), first_box_only=split == "test"))
    protocol = "got10k" if split == "val" else "none"
    return Dataset(f"got10k-{split}", Path(root), sequences, protocol, "got10k" if split == "test" else None)


def read_lasot(root: Path) -> Dataset:
    list_file = Path(root) / "testing_set.txt"
    if list_file.is_file():
        reader = LaSOT(root, read_names(list_file), names_from=str(list_file))
    else:
        reader = LaSOT(root, splits.LASOT_TEST, names_from="the LaSOT test split")
    return Dataset("lasot", Path(root), list(reader), "lasot", None, rules="lasot")


def read_trackingnet(root: Path, split: str = "TEST") -> Dataset:
    root = Path(root)
    sequences = list(TrackingNet(root, [root / split if (root / split).is_dir() else root]))
    return Dataset("trackingnet", root, sequences, _annotated_protocol(sequences), "trackingnet")


def read_otb(root: Path, names: list[str] | None = None) -> Dataset:
    """OTB-100 (or the named subset of it)."""
    return Dataset("otb", Path(root), list(OTB100(root, names)), "otb")


def read_uav(root: Path, names: list[str] | None = None) -> Dataset:
    """UAV123 (or the named subset); ``root`` holds ``data_seq/`` and ``anno/``."""
    reader = UAV123(root, names)
    return Dataset("uav", reader.root, list(reader), "default", rules="uav")


def read_folder(root: Path, name: str = "folder") -> Dataset:
    sequences = list(SequenceFolder(root))
    nan = any(s.boxes.shape[0] > 1 and np.isnan(s.boxes).any() for s in sequences)
    return Dataset(name, Path(root), sequences, _annotated_protocol(sequences), rules="uav" if nan else "default")


def read_procedural(root: Path, num_sequences: int = 8, length: int = 100, seed: int = 0) -> Dataset:
    """The procedural set (``num_sequences`` of ``length`` frames, ``seed``), rendered into
    ``root`` on first use and extended when more of the same set is asked for; a root that
    holds another set is refused, saying what it holds (``datasets.procedural_root``)."""
    try:
        folders = procedural_root(root, num_sequences, length=length, seed=seed)
    except ImportError as exc:
        raise DatasetError(
            root, f"--dataset procedural renders scikit-image's sample photographs, which are not available "
            f"({exc}); point --dataset folder at an already rendered tree instead"
        ) from exc
    sequences = [read_sequence_folder(folder) for folder in folders]
    return Dataset("procedural", Path(root), sequences, _annotated_protocol(sequences))


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
        raise DatasetError(root, "dataset root not found")
    dataset = DATASETS[key](Path(root), **options)
    for sequence in dataset.sequences:
        check_start(sequence)
    return dataset


def check_start(sequence: Sequence) -> None:
    """A sequence can be tracked: its first frame decodes and its first ground-truth box is one a
    tracker can start from (``boxes.check_box_in_frame``). Checked when the dataset is read, so a
    bad one fails before any tracking, the same way with one worker or several."""
    where = sequence.folder or sequence.name
    frame = sequence.frame(0)  # a DatasetError naming the file when it does not decode
    try:
        check_box_in_frame(sequence.boxes[0], frame.shape[1], frame.shape[0], "the first ground-truth box")
    except ValueError as exc:
        raise DatasetError(where, f"sequence {sequence.name}: {exc}; tracking starts from it") from None
