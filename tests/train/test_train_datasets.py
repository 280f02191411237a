"""Datasets in their published layouts: reading, visibility semantics, malformed files, and two
real training iterations on each layout."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from train_fixtures import FRAMES, LAYOUTS, SIZE, make_tree

from asymtrack_deploy.datasets import COCO, DatasetError, GOT10k, LaSOT, SequenceFolder, TrackingNet
from asymtrack_deploy.models import build_model, load_checkpoint
from asymtrack_deploy.train import TrainConfig, Trainer, build_dataset, parse_data_spec


def test_got10k_visibility_follows_absence_and_cover(tmp_path):
    ds = GOT10k(make_tree("got10k", tmp_path))
    assert len(ds) == 2
    seq = ds[0]
    assert seq.boxes.shape == (FRAMES, 4)
    assert not seq.usable[3] and not seq.usable[5]  # absent; cover 0
    assert seq.usable.sum() == FRAMES - 2
    assert seq.frame(0).shape == (SIZE[1], SIZE[0], 3)


def test_got10k_split_file_indices_and_names(tmp_path):
    root = make_tree("got10k", tmp_path / "got")
    (tmp_path / "split.txt").write_text("1\n")
    assert GOT10k(root, tmp_path / "split.txt").names == ["GOT-10k_Train_000002"]
    (tmp_path / "names.txt").write_text("GOT-10k_Train_000001\n")
    assert GOT10k(root, tmp_path / "names.txt").names == ["GOT-10k_Train_000001"]
    (tmp_path / "bad.txt").write_text("0\n7\n")
    with pytest.raises(DatasetError, match=r"bad\.txt:2: index 7 is past the end of list\.txt"):
        GOT10k(root, tmp_path / "bad.txt")


def test_lasot_visibility_follows_occlusion_and_out_of_view(tmp_path):
    ds = LaSOT(make_tree("lasot", tmp_path))
    assert ds.names == ["person-1", "person-2"]
    seq = ds[1]
    assert not seq.usable[2] and not seq.usable[7] and seq.usable.sum() == FRAMES - 2
    assert seq.frame(FRAMES - 1).shape == (SIZE[1], SIZE[0], 3)


def test_trackingnet_frames_count_from_zero(tmp_path):
    root = make_tree("trackingnet", tmp_path)
    ds = TrackingNet(root)
    assert ds.names == ["vid_a_0", "vid_b_1"]
    assert ds[1].files[0] == root / "TRAIN_1" / "frames" / "vid_b_1" / "0.jpg"  # one chunk per video
    assert ds[0].usable.all()
    assert ds[0].frame(0).shape == (SIZE[1], SIZE[0], 3)


def test_coco_objects_are_one_frame_sequences_without_crowds(tmp_path):
    ds = COCO(make_tree("coco", tmp_path))
    assert len(ds) == 3 and not ds.is_video
    assert ds[2].boxes.shape == (1, 4)
    assert ds[2].frame(0).shape == (SIZE[1], SIZE[0], 3)


def test_folder_accepts_tabs_and_commas(tmp_path):
    ds = SequenceFolder(make_tree("folder", tmp_path))
    np.testing.assert_allclose(ds[0].boxes, ds[1].boxes, atol=1e-6)


# --------------------------------------------------------------------------------------------
# Malformed files name the file and the line
# --------------------------------------------------------------------------------------------


def _replace_line(path, number, text):
    lines = path.read_text().splitlines()
    lines[number - 1] = text
    path.write_text("\n".join(lines) + "\n")


def test_bad_groundtruth_line_is_named(tmp_path):
    root = make_tree("got10k", tmp_path)
    _replace_line(root / "GOT-10k_Train_000001" / "groundtruth.txt", 3, "12.0,abc,4,5")
    with pytest.raises(DatasetError) as info:
        GOT10k(root)[0]
    assert re.search(r"GOT-10k_Train_000001[/\\]groundtruth\.txt:3: expected 4 numbers", str(info.value))
    assert "12.0,abc,4,5" in str(info.value)


def test_bad_cover_label_is_named(tmp_path):
    root = make_tree("got10k", tmp_path)
    _replace_line(root / "GOT-10k_Train_000002" / "cover.label", 6, "9")
    with pytest.raises(DatasetError, match=r"cover\.label:6: expected an integer in \[0, 8\], got 9"):
        GOT10k(root).check()


def test_lasot_flag_count_mismatch_is_named(tmp_path):
    root = make_tree("lasot", tmp_path)
    (root / "person" / "person-1" / "out_of_view.txt").write_text("0,0,0")
    with pytest.raises(DatasetError, match=r"out_of_view\.txt: 3 labels for 20 frames"):
        LaSOT(root)[0]


def test_trackingnet_wrong_field_count_is_named(tmp_path):
    root = make_tree("trackingnet", tmp_path)
    _replace_line(root / "TRAIN_1" / "anno" / "vid_b_1.txt", 11, "1,2,3")
    with pytest.raises(DatasetError, match=r"vid_b_1\.txt:11: expected 4 numbers \(x, y, w, h\), got 3: '1,2,3'"):
        TrackingNet(root).check()


def test_coco_json_syntax_error_is_named(tmp_path):
    root = make_tree("coco", tmp_path)
    path = root / "annotations" / "instances_train2017.json"
    lines = path.read_text().splitlines()
    lines[4] = lines[4] + " oops"
    path.write_text("\n".join(lines))
    with pytest.raises(DatasetError, match=r"instances_train2017\.json:5: invalid JSON"):
        COCO(root)


def test_coco_bad_bbox_is_named(tmp_path):
    root = make_tree("coco", tmp_path)
    path = root / "annotations" / "instances_train2017.json"
    path.write_text(path.read_text().replace('"bbox": [\n', '"bbox": ["x", \n', 1))
    with pytest.raises(DatasetError, match=r"instances_train2017\.json: annotations\[0\]\.bbox"):
        COCO(root)


def test_folder_box_count_must_match_frames(tmp_path):
    root = make_tree("folder", tmp_path)
    gt = root / "walk_a" / "groundtruth.txt"
    gt.write_text("\n".join(gt.read_text().splitlines()[:-2]) + "\n")
    with pytest.raises(DatasetError, match=r"walk_a[/\\]groundtruth\.txt: 18 boxes for 20 images"):
        SequenceFolder(root).check()


def test_missing_layout_is_explained(tmp_path):
    with pytest.raises(DatasetError, match=r"list\.txt: no such file"):
        GOT10k(tmp_path)
    with pytest.raises(ValueError, match="no TRAIN_<k> folders"):
        TrackingNet(tmp_path)
    with pytest.raises(ValueError, match="no <sequence>/groundtruth.txt"):
        SequenceFolder(tmp_path)


def test_data_spec_parsing():
    spec = parse_data_spec("GOT10K:2.5=/data/got", {"got10k": "/s.txt"})
    assert (spec.name, spec.value, spec.ratio, spec.split) == ("got10k", "/data/got", 2.5, "/s.txt")
    assert parse_data_spec("coco17=/c").name == "coco"
    for bad in ("lasot", "imagenet=/x", "lasot:0=/x", "lasot:x=/y"):
        with pytest.raises(ValueError, match="--data"):
            parse_data_spec(bad)


# --------------------------------------------------------------------------------------------
# Two training iterations on each layout
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", LAYOUTS)
def test_two_training_iterations_per_layout(tmp_path, layout):
    root = make_tree(layout, tmp_path / layout)
    config = TrainConfig(variant="tiny", data=(f"{layout}={root}",), out=tmp_path / "run", epochs=1, batch_size=2,
                         samples_per_epoch=4, workers=0, threads=1, progress=False, log_every=1)  # fmt: skip
    trainer = Trainer(config)
    assert isinstance(trainer.datasets[0], type(build_dataset(parse_data_spec(f"{layout}={root}"))))
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    last = trainer.run()
    trainer.close()
    rows = (tmp_path / "run" / "log.csv").read_text().splitlines()
    assert [r.split(",")[1] for r in rows[1:]] == ["1", "2", "2"]  # two steps, then the epoch row
    after = trainer.model.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert torch.isfinite(torch.tensor(trainer.info["loss"]))
    load_checkpoint(build_model("tiny"), last)  # the training-form checkpoint fuses into deploy form
