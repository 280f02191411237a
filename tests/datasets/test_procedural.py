"""The procedural sequences: real photographs, deterministic, exact boxes, frames rendered in any
order; written in the generic folder layout they read back as a ``SequenceFolder``."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("skimage", reason="the procedural dataset needs scikit-image's sample photographs")

from asymtrack_deploy.datasets import SequenceFolder  # noqa: E402
from asymtrack_deploy.datasets.procedural import (  # noqa: E402
    FRAME_SIZE,
    SPRITES,
    ProceduralDataset,
    generate_sequences,
    make_script,
    procedural_sequence,
    render_frame,
    render_sequences,
)


def test_frames_are_deterministic_in_seed_and_render_in_any_order():
    a, b = procedural_sequence(7, 3, 30), procedural_sequence(7, 3, 30)
    late = a.frame(29)
    np.testing.assert_array_equal(b.frame(0), a.frame(0))
    np.testing.assert_array_equal(b.frame(29), late)
    np.testing.assert_array_equal(a.boxes, b.boxes)
    assert a.frame(0).shape == (FRAME_SIZE[1], FRAME_SIZE[0], 3)
    other = procedural_sequence(8, 3, 30)
    assert not np.array_equal(other.frame(0), a.frame(0))


@pytest.mark.parametrize("index", range(6))
def test_boxes_are_exact_and_inside_the_frame(index):
    seq, script = procedural_sequence(0, index, 40), make_script(0, index, 40)
    track = script.target
    for t in (0, 13, 39):
        frame, box, visible = render_frame(script, t)
        np.testing.assert_array_equal(box, seq.boxes[t])  # boxes without rendering == rendered
        np.testing.assert_array_equal(frame, seq.frame(t))
        x, y, w, h = box
        assert w > 0 and h > 0 and x >= 0 and y >= 0 and x + w <= FRAME_SIZE[0] and y + h <= FRAME_SIZE[1]
        assert 0.25 <= visible <= 1.0  # occluders hide at most ~70%
        inside = x > 0 and y > 0 and x + w < FRAME_SIZE[0] and y + h < FRAME_SIZE[1]
        if inside and SPRITES[track.sprite].shape != "alpha":  # symmetric outline: the box is centred on it
            assert abs(x + (w - 1) / 2 - track.cx[t]) <= 1.0 and abs(y + (h - 1) / 2 - track.cy[t]) <= 1.0


def test_sequences_vary():
    scripts = [make_script(1, i, 20) for i in range(12)]
    assert [s.name for s in scripts] == [s.name for s in generate_sequences(12, 20, seed=1)]
    assert len({s.background for s in scripts}) > 3
    assert len({SPRITES[s.target.sprite].family for s in scripts}) > 4
    assert any(s.distractors for s in scripts) and any(s.occluders for s in scripts)


def test_render_writes_the_generic_folder_layout(tmp_path):
    folders = render_sequences(tmp_path, num_sequences=2, length=8, seed=3)
    assert [f.name for f in folders] == ["procedural_3_00000", "procedural_3_00001"]
    assert (folders[0] / "img" / "00000001.jpg").is_file() and (folders[0] / "img" / "00000008.jpg").is_file()
    ds = SequenceFolder(tmp_path)
    np.testing.assert_allclose(ds[1].boxes, procedural_sequence(3, 1, 8).boxes)
    assert ds[1].frame(7).shape == (FRAME_SIZE[1], FRAME_SIZE[0], 3)


def test_dataset_reads_sequences_when_asked():
    ds = ProceduralDataset(seed=5, num_sequences=10, length=30)
    assert len(ds) == 10 and ds.names[4] == "procedural_5_00004"
    assert ds[4].boxes.shape == (30, 4) and ds[4].usable.all() and len(ds[4]) == 30


def test_too_short_a_sequence_is_refused():
    with pytest.raises(ValueError, match="at least 2 frames"):
        procedural_sequence(0, 0, 1)
