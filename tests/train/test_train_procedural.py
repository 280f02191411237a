"""The procedural dataset: real photographs, deterministic, exact boxes, usable for training and
as an evaluation set (in memory or written in the generic folder layout)."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("skimage", reason="the procedural dataset needs scikit-image's sample photographs")

from asymtrack_deploy.train import SequenceFolder, TrainConfig, Trainer, build_dataset, parse_data_spec  # noqa: E402
from asymtrack_deploy.train.procedural import (  # noqa: E402
    FRAME_SIZE,
    SPRITES,
    ProceduralDataset,
    ProceduralSequence,
    generate_sequences,
    render_sequences,
)


def test_frames_are_deterministic_in_seed_and_render_in_any_order():
    a, b = ProceduralSequence(7, 3, 30), ProceduralSequence(7, 3, 30)
    late = a.frame(29)
    np.testing.assert_array_equal(b.frame(0), a.frame(0))
    np.testing.assert_array_equal(b.frame(29), late)
    np.testing.assert_array_equal(a.boxes, b.boxes)
    assert a.frame(0).shape == (FRAME_SIZE[1], FRAME_SIZE[0], 3)
    other = ProceduralSequence(8, 3, 30)
    assert not np.array_equal(other.frame(0), a.frame(0))


@pytest.mark.parametrize("index", range(6))
def test_boxes_are_exact_and_inside_the_frame(index):
    seq = ProceduralSequence(0, index, 40)
    track = seq.script.target
    for t in (0, 13, 39):
        frame, box, visible = seq.render(t)
        np.testing.assert_array_equal(box, seq.boxes[t])  # boxes without rendering == rendered
        x, y, w, h = box
        assert w > 0 and h > 0 and x >= 0 and y >= 0 and x + w <= FRAME_SIZE[0] and y + h <= FRAME_SIZE[1]
        assert 0.25 <= visible <= 1.0  # occluders hide at most ~70%
        inside = x > 0 and y > 0 and x + w < FRAME_SIZE[0] and y + h < FRAME_SIZE[1]
        if inside and SPRITES[track.sprite].shape != "alpha":  # symmetric outline: the box is centred on it
            assert abs(x + (w - 1) / 2 - track.cx[t]) <= 1.0 and abs(y + (h - 1) / 2 - track.cy[t]) <= 1.0


def test_sequences_vary():
    scripts = [s.script for s in generate_sequences(12, 20, seed=1)]
    assert len({s.background for s in scripts}) > 3
    assert len({SPRITES[s.target.sprite].family for s in scripts}) > 4
    assert any(s.distractors for s in scripts) and any(s.occluders for s in scripts)


def test_render_writes_the_generic_folder_layout(tmp_path):
    folders = render_sequences(tmp_path, num_sequences=2, length=8, seed=3)
    assert [f.name for f in folders] == ["procedural_3_00000", "procedural_3_00001"]
    assert (folders[0] / "img" / "00000001.jpg").is_file() and (folders[0] / "img" / "00000008.jpg").is_file()
    ds = SequenceFolder(tmp_path)
    expected = ProceduralSequence(3, 1, 8).boxes
    np.testing.assert_allclose(ds.sequence_info(1).boxes, expected)
    assert ds.frame(1, 7).shape == (FRAME_SIZE[1], FRAME_SIZE[0], 3)
    assert isinstance(build_dataset(parse_data_spec(f"procedural={tmp_path}")), SequenceFolder)


def test_dataset_spec_with_a_seed_renders_on_the_fly():
    ds = build_dataset(parse_data_spec("procedural=5"), procedural_sequences=10, procedural_length=30)
    assert isinstance(ds, ProceduralDataset) and len(ds) == 10
    assert ds.sequence_info(4).boxes.shape == (30, 4) and ds.sequence_info(4).visible.all()


def test_two_training_iterations_on_procedural_data(tmp_path):
    config = TrainConfig(variant="tiny", data=("procedural=0",), out=tmp_path, epochs=1, batch_size=2,
                         samples_per_epoch=4, workers=0, threads=1, progress=False, procedural_sequences=20,
                         procedural_length=40)  # fmt: skip
    trainer = Trainer(config)
    last = trainer.run()
    trainer.close()
    assert last.is_file() and np.isfinite(trainer.info["loss"])
