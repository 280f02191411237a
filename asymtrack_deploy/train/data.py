"""``--data NAME[:RATIO]=ROOT`` specifications and the dataset they name (read by the data
layer, ``asymtrack_deploy.datasets``).

Names: got10k, lasot, trackingnet, coco (also coco17), folder (any ``<seq>/groundtruth.txt``
tree), procedural. For ``procedural`` the value is either an integer seed (sequences rendered
on the fly) or a folder the renderer wrote (read as a ``folder``). RATIO (default 1) weighs the
dataset in the mix, as DATASETS_RATIO does. A split file (``--split NAME=FILE``) picks GOT-10k
sequences (indices into ``list.txt`` or names) or LaSOT sequences (names).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..datasets import COCO, GOT10k, LaSOT, ProceduralDataset, SequenceFolder, SequenceList, TrackingNet, read_names

__all__ = ["DataSpec", "parse_data_spec", "build_dataset", "DATASET_NAMES"]

DATASET_NAMES = ("got10k", "lasot", "trackingnet", "coco", "folder", "procedural")
_ALIASES = {"coco17": "coco", "coco2017": "coco", "got-10k": "got10k", "got10k_train": "got10k"}
_SPEC = re.compile(r"^(?P<name>[A-Za-z0-9_-]+)(?::(?P<ratio>[0-9.eE+-]+))?=(?P<value>.+)$")


@dataclass(frozen=True)
class DataSpec:
    name: str
    value: str
    ratio: float = 1.0
    split: str | None = None

    def __str__(self) -> str:
        return f"{self.name}:{self.ratio:g}={self.value}"


def parse_data_spec(text: str, splits: dict[str, str] | None = None) -> DataSpec:
    """'lasot=/data/lasot', 'got10k:2=/data/got10k/train', 'procedural=0' -> DataSpec."""
    m = _SPEC.match(text.strip())
    if not m:
        names = ", ".join(DATASET_NAMES)
        raise ValueError(f"--data {text!r}: expected NAME=ROOT or NAME:RATIO=ROOT, NAME one of {names}")
    name = _ALIASES.get(m["name"].lower(), m["name"].lower())
    if name not in DATASET_NAMES:
        raise ValueError(f"--data {text!r}: unknown dataset {m['name']!r}; expected one of {', '.join(DATASET_NAMES)}")
    try:
        ratio = float(m["ratio"]) if m["ratio"] else 1.0
    except ValueError:
        raise ValueError(f"--data {text!r}: the ratio {m['ratio']!r} is not a number") from None
    if ratio <= 0:
        raise ValueError(f"--data {text!r}: the ratio must be positive")
    return DataSpec(name, m["value"], ratio, (splits or {}).get(name))


def build_dataset(spec: DataSpec, procedural_sequences: int = 1000, procedural_length: int = 200) -> SequenceList:
    if spec.name == "procedural":
        return _procedural(spec.value, procedural_sequences, procedural_length)
    root = Path(spec.value).expanduser()
    if spec.name == "got10k":
        return GOT10k(root, spec.split)
    if spec.name == "lasot":
        return LaSOT(root, read_names(Path(spec.split)), names_from=spec.split) if spec.split else LaSOT(root)
    if spec.name == "trackingnet":
        return TrackingNet(root)
    if spec.name == "coco":
        return COCO(root)
    return SequenceFolder(root)


def _procedural(value: str, sequences: int, length: int) -> SequenceList:
    if re.fullmatch(r"-?\d+", value.strip()):
        return ProceduralDataset(seed=int(value), num_sequences=sequences, length=length)
    if Path(value).expanduser().is_dir():
        return SequenceFolder(Path(value).expanduser())
    raise ValueError(f"--data procedural={value}: expected an integer seed or a folder of rendered sequences")
