"""Small dataset trees in the published layouts, built from the real frames of the built-in
sequence (OpenCV's vtest.avi, a pedestrian), so the JPEGs are real-looking and no download or
scikit-image is needed."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from asymtrack_deploy.sources import builtin_sequence

FRAMES = 20  # the official sampler wants at least 20 frames per video
SIZE = (192, 144)  # width, height of the fixture frames
LAYOUTS = ("got10k", "lasot", "trackingnet", "coco", "folder")

_cache: dict[str, object] = {}


def frames_and_boxes(offset: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """20 real frames resized to 192x144 and a box around the pedestrian (moving a little)."""
    if "frames" not in _cache:
        seq = builtin_sequence()
        raw = seq.frames()
        sx, sy = SIZE[0] / raw[0].shape[1], SIZE[1] / raw[0].shape[0]
        _cache["frames"] = [cv2.resize(f, SIZE, interpolation=cv2.INTER_AREA) for f in raw]
        x, y, w, h = seq.init_box
        _cache["box"] = np.array([x * sx, y * sy, w * sx, h * sy], np.float32)
    frames = _cache["frames"][offset : offset + FRAMES]
    boxes = np.stack([_cache["box"] + np.array([-0.5 * i, 0.2 * i, 0, 0], np.float32) for i in range(FRAMES)])
    return frames, boxes


def _write_frames(folder: Path, frames, name=lambda i: f"{i + 1:08d}.jpg") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        cv2.imwrite(str(folder / name(i)), frame, [cv2.IMWRITE_JPEG_QUALITY, 85])


def _boxes_text(boxes, sep=",") -> str:
    return "".join(sep.join(f"{v:.2f}" for v in b) + "\n" for b in boxes)


def make_got10k(root: Path) -> Path:
    names = ["GOT-10k_Train_000001", "GOT-10k_Train_000002"]
    for k, name in enumerate(names):
        frames, boxes = frames_and_boxes(offset=10 * k)
        seq = root / name
        _write_frames(seq, frames)
        (seq / "groundtruth.txt").write_text(_boxes_text(boxes))
        absence = ["1" if i == 3 else "0" for i in range(FRAMES)]
        cover = ["0" if i == 5 else "8" for i in range(FRAMES)]
        (seq / "absence.label").write_text("\n".join(absence) + "\n")
        (seq / "cover.label").write_text("\n".join(cover) + "\n")
        (seq / "meta_info.ini").write_text("[METAINFO]\nobject_class: pedestrian\n")
    (root / "list.txt").write_text("\n".join(names) + "\n")
    return root


def make_lasot(root: Path) -> Path:
    for k, name in enumerate(["person-1", "person-2"]):
        frames, boxes = frames_and_boxes(offset=10 * k)
        seq = root / "person" / name
        _write_frames(seq / "img", frames)
        (seq / "groundtruth.txt").write_text(_boxes_text(boxes))
        (seq / "full_occlusion.txt").write_text(",".join("1" if i == 2 else "0" for i in range(FRAMES)))
        (seq / "out_of_view.txt").write_text(",".join("1" if i == 7 else "0" for i in range(FRAMES)))
        (seq / "nlp.txt").write_text("a person walking\n")
    return root


def make_trackingnet(root: Path) -> Path:
    for k, video in enumerate(["vid_a_0", "vid_b_1"]):
        frames, boxes = frames_and_boxes(offset=10 * k)
        part = root / f"TRAIN_{k}"
        _write_frames(part / "frames" / video, frames, name=lambda i: f"{i}.jpg")
        (part / "anno").mkdir(parents=True, exist_ok=True)
        (part / "anno" / f"{video}.txt").write_text(_boxes_text(boxes))
    return root


def make_coco(root: Path) -> Path:
    frames, boxes = frames_and_boxes()
    images, annotations = [], []
    for i in range(3):
        name = f"{i:012d}.jpg"
        _write_frames(root / "images" / "train2017", [frames[i * 5]], name=lambda _, n=name: n)
        images.append({"id": i + 1, "file_name": name, "width": SIZE[0], "height": SIZE[1]})
        x, y, w, h = (float(v) for v in boxes[i * 5])
        annotations.append({"id": 10 + i, "image_id": i + 1, "bbox": [x, y, w, h], "iscrowd": 0, "category_id": 1})
    annotations.append({"id": 99, "image_id": 1, "bbox": [0, 0, 50, 50], "iscrowd": 1, "category_id": 1})
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    doc = {"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "person"}]}
    (root / "annotations" / "instances_train2017.json").write_text(json.dumps(doc, indent=1))
    return root


def make_folder(root: Path) -> Path:
    for k, name in enumerate(["walk_a", "walk_b"]):
        frames, boxes = frames_and_boxes(offset=10 * k)
        _write_frames(root / name / "img", frames)
        (root / name / "groundtruth.txt").write_text(_boxes_text(boxes, sep="\t" if k else ","))
    return root


MAKERS = {"got10k": make_got10k, "lasot": make_lasot, "trackingnet": make_trackingnet, "coco": make_coco,
          "folder": make_folder}  # fmt: skip


def make_tree(layout: str, root: Path) -> Path:
    return MAKERS[layout](Path(root))
