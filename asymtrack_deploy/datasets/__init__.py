"""The data layer: tracking datasets in their published layouts, read into one ``Sequence`` type.

One reader per format (``GOT10k``, ``LaSOT``, ``TrackingNet``, ``OTB100``, ``UAV123``, ``COCO``,
``SequenceFolder``, and the rendered ``ProceduralDataset``), each a ``SequenceList`` that reads
a sequence when first asked for it; every malformed file is a ``DatasetError`` naming the file
and line. Evaluation (``eval/``), training (``train/``) and int8 calibration
(``export/calibration.py``) all read through here.

numpy and OpenCV only (scikit-image for the procedural photographs, when first rendered); never
torch.
"""
from __future__ import annotations

from . import splits
from .annotations import read_boxes, read_flags, read_names, read_visibility
from .coco import COCO
from .errors import DatasetError
from .folder import SequenceFolder, is_sequence_folder, read_sequence_folder, sequence_files
from .frames import IMAGE_SUFFIXES, FrameFiles, image_files, read_frame, try_read_frame
from .got10k import GOT10k
from .lasot import LaSOT
from .procedural import ProceduralDataset, generate_sequences, procedural_root, procedural_sequence, render_sequences
from .sequence import Sequence, SequenceList
from .frame_ranges import OTB100, UAV123
from .trackingnet import TRACKINGNET_EXCLUDED, TrackingNet

__all__ = [
    "COCO", "DatasetError", "FrameFiles", "GOT10k", "IMAGE_SUFFIXES", "LaSOT", "OTB100", "ProceduralDataset",
    "Sequence", "SequenceFolder", "SequenceList", "TRACKINGNET_EXCLUDED", "TrackingNet", "UAV123",
    "generate_sequences", "image_files", "is_sequence_folder", "procedural_root", "procedural_sequence", "read_boxes", "read_flags",
    "read_frame", "read_names", "read_sequence_folder", "read_visibility", "render_sequences", "sequence_files",
    "splits", "try_read_frame",
]  # fmt: skip
