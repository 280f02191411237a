"""The one box check, the validity rule and the two jitter laws."""
from __future__ import annotations

import numpy as np
import pytest

from asymtrack_deploy.boxes import (
    CENTER_JITTER, MAX_BOX_TO_FRAME, SCALE_JITTER, check_box, check_box_in_frame, jitter_box, valid_boxes,
)


def test_check_box_returns_floats_and_names_what_is_wrong():
    assert check_box([1, 2, 3, 4]) == (1.0, 2.0, 3.0, 4.0)
    with pytest.raises(ValueError, match=r"^the calibration box must be four numbers \(x, y, w, h\), got 'abcd'"):
        check_box("abcd", "the calibration box")
    with pytest.raises(ValueError, match=r"box must be four numbers \(x, y, w, h\), got 3"):
        check_box((1, 2, 3))
    with pytest.raises(ValueError, match="box values must be finite"):
        check_box((1, 2, float("nan"), 4))
    with pytest.raises(ValueError, match="box width and height must be > 0, got w=0.0, h=4.0"):
        check_box((1, 2, 0, 4))


def test_a_starting_box_overlaps_the_frame_and_is_not_huge():
    """Issue 15, case 5: a box outside the frame was snapped to a corner, a huge one ran out of memory."""
    assert check_box_in_frame((-5, -5, 10, 10), 100, 80) == (-5.0, -5.0, 10.0, 10.0)  # partly inside is fine
    assert check_box_in_frame((0, 0, 200, 160), 100, 80) == (0.0, 0.0, 200.0, 160.0)  # the stated multiple
    assert MAX_BOX_TO_FRAME == 2.0
    with pytest.raises(ValueError, match=r"^box \(100000 x 100000\) is too large for the 100 x 80 frame: at most 2 times"):
        check_box_in_frame((0, 0, 100000, 100000), 100, 80)
    for outside in [(100, 0, 5, 5), (0, 80, 5, 5), (-10, 0, 10, 5), (0, -5, 5, 5), (1e9, 1e9, 5, 5)]:
        with pytest.raises(ValueError, match="is outside the 100 x 80 frame: it must overlap the frame"):
            check_box_in_frame(outside, 100, 80)
    with pytest.raises(ValueError, match="^--init values must be finite"):
        check_box_in_frame((float("nan"), 0, 5, 5), 100, 80, "--init")


def test_valid_boxes_marks_nan_and_empty_rows():
    rows = [[0, 0, 5, 5], [0, 0, 0, 5], [np.nan, 0, 5, 5], [1, 1, 5, -1], [1, 1, 0.5, 0.5]]
    np.testing.assert_array_equal(valid_boxes(rows), [True, False, False, False, True])


def test_official_law_is_lognormal_size_and_uniform_centre():
    box = np.array([100.0, 100.0, 40.0, 20.0])
    rng = np.random.default_rng(0)
    out = np.array([jitter_box(box, rng) for _ in range(4000)])
    assert abs(np.log(out[:, 2:] / box[2:]).std() - SCALE_JITTER) < 0.03
    shifts = (out[:, :2] + out[:, 2:] / 2 - (box[:2] + box[2:] / 2)) / np.sqrt(out[:, 2:3] * out[:, 3:4])
    assert np.abs(shifts).max() <= CENTER_JITTER / 2 + 1e-9 and np.abs(shifts).max() > 1.6


def test_uniform_law_moves_by_the_box_size_and_scales_both_sides_alike():
    box = (638.0, 240.0, 50.0, 82.0)
    rng = np.random.default_rng(1)
    out = np.array([jitter_box(box, rng, center=0.15, scale=0.1, uniform=True) for _ in range(4000)])
    ratio = out[:, 2:] / np.array(box[2:])
    np.testing.assert_allclose(ratio[:, 0], ratio[:, 1])  # one factor for both sides
    assert np.log(ratio[:, 0]).min() >= -0.1 - 1e-12 and np.log(ratio[:, 0]).max() <= 0.1 + 1e-12
    shift = (out[:, :2] + out[:, 2:] / 2 - np.array([663.0, 281.0])) / np.array(box[2:])
    assert np.abs(shift).max() <= 0.15 + 1e-12 and np.abs(shift).max() > 0.14


def test_same_generator_state_same_box():
    a = jitter_box((5, 5, 10, 10), np.random.default_rng(7))
    b = jitter_box((5, 5, 10, 10), np.random.default_rng(7))
    assert a.dtype == np.float64 and np.array_equal(a, b)
