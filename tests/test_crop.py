"""The official crop arithmetic on hand-checked cases."""
from __future__ import annotations

import numpy as np
import pytest

from asymtrack_deploy.crop import clip_box, crop_rgb, crop_square, crop_window, map_box_back


def test_window_uses_ceil_and_bankers_rounding():
    assert crop_window((10, 10, 4, 4), 2.0) == (8, 8, 8)
    x1, _, side = crop_window((0, 0, 3, 3), 2.0)  # side 6, cx 1.5 -> round(-1.5) = -2
    assert (x1, side) == (-2, 6)
    assert crop_window((0, 0, 2.5, 2.5), 2.0)[2] == 5


def test_inside_crop_is_the_plain_resize():
    frame = np.arange(20 * 20 * 3, dtype=np.uint8).reshape(20, 20, 3)
    crop, factor = crop_square(frame, (6, 6, 4, 4), 2.0, 8)
    np.testing.assert_array_equal(crop, frame[4:12, 4:12])
    assert factor == 1.0


def test_right_edge_drops_one_real_pixel_like_the_official_tracker():
    frame = np.full((10, 10, 3), 255, np.uint8)
    crop, _ = crop_square(frame, (6, 2, 4, 4), 1.0, 4)  # window x 6..10 touches the right edge
    assert crop[:, :3].min() == 255 and crop[:, 3].max() == 0


def test_wholly_outside_gives_zeros():
    frame = np.full((10, 10), 255, np.uint8)
    crop, _ = crop_square(frame, (100, 100, 4, 4), 2.0, 16)
    assert crop.shape == (16, 16) and crop.max() == 0


def test_map_back_and_clip():
    box = map_box_back((0.5, 0.5, 0.25, 0.25), (100, 100, 20, 20), 256, 256 / 80)
    np.testing.assert_allclose(box, [100, 100, 20, 20])
    assert clip_box((-50, -50, 20, 20), 100, 100) == [0.0, 0.0, 10.0, 10.0]
    assert clip_box((95, 95, 20, 20), 100, 100) == [90.0, 90.0, 10.0, 10.0]


@pytest.mark.parametrize("size", [1, 2, 7])
def test_clip_keeps_the_box_inside_frames_smaller_than_the_margin(size):
    for box in [(-50, -50, 20, 20), (0, 0, 1, 1), (5, 5, 3000, 3000), (-1e6, 3, 2e6, 1)]:
        x, y, w, h = clip_box(box, size, size, 10)
        assert 0 <= x and 0 <= y and x + w <= size and y + h <= size and w > 0 and h > 0, (box, size)


def test_crop_rgb_converts_the_crop_from_the_frames_colour_order():
    frame = np.zeros((20, 20, 3), np.uint8)
    frame[..., 0] = 200  # blue in BGR, red in RGB
    bgr, factor = crop_rgb(frame, (6, 6, 4, 4), 2.0, 8, "bgr")
    rgb, _ = crop_rgb(frame, (6, 6, 4, 4), 2.0, 8, "rgb")
    assert factor == 1.0 and bgr.shape == rgb.shape == (8, 8, 3) and bgr.flags["C_CONTIGUOUS"]
    assert (bgr[..., 2] == 200).all() and (bgr[..., 0] == 0).all()
    assert (rgb[..., 0] == 200).all() and (rgb[..., 2] == 0).all()
    gray, _ = crop_rgb(frame[..., 0], (6, 6, 4, 4), 2.0, 8, "bgr")
    assert gray.shape == (8, 8, 3) and (gray == 200).all()
