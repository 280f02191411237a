"""The official crop arithmetic on hand-checked cases."""
from __future__ import annotations

import numpy as np
import pytest

from asymtrack_deploy.crop import clip_box, crop_rgb, crop_square, crop_window, map_box_back
from asymtrack_deploy.tracker_spec import CropRule, StepRules

RULES = StepRules(CropRule(128, 2.0), CropRule(256, 4.0))  # the defaults: clip margin 10


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
    box = map_box_back((0.5, 0.5, 0.25, 0.25), (100, 100, 20, 20), RULES, 256 / 80)
    np.testing.assert_allclose(box, [100, 100, 20, 20])
    assert clip_box((-50, -50, 20, 20), 100, 100, RULES) == [0.0, 0.0, 10.0, 10.0]
    assert clip_box((95, 95, 20, 20), 100, 100, RULES) == [90.0, 90.0, 10.0, 10.0]


def test_clip_takes_the_margin_from_the_rules():
    """The rules record's clip margin, not a constant: 0 and 25 clip the same box differently."""
    assert clip_box((95, 95, 20, 20), 100, 100, RULES.with_clip_margin(0)) == [95.0, 95.0, 5.0, 5.0]
    assert clip_box((95, 95, 20, 20), 100, 100, RULES.with_clip_margin(25)) == [75.0, 75.0, 25.0, 25.0]


@pytest.mark.parametrize("size", [1, 2, 7])
def test_clip_keeps_the_box_inside_frames_smaller_than_the_margin(size):
    for box in [(-50, -50, 20, 20), (0, 0, 1, 1), (5, 5, 3000, 3000), (-1e6, 3, 2e6, 1)]:
        x, y, w, h = clip_box(box, size, size, RULES)
        assert 0 <= x and 0 <= y and x + w <= size and y + h <= size and w > 0 and h > 0, (box, size)


def test_crop_rgb_converts_the_crop_from_the_frames_colour_order():
    frame = np.zeros((20, 20, 3), np.uint8)
    frame[..., 0] = 200  # blue in BGR, red in RGB
    bgr, factor = crop_rgb(frame, (6, 6, 4, 4), CropRule(8, 2.0), "bgr")
    rgb, _ = crop_rgb(frame, (6, 6, 4, 4), CropRule(8, 2.0), "rgb")
    assert factor == 1.0 and bgr.shape == rgb.shape == (8, 8, 3) and bgr.flags["C_CONTIGUOUS"]
    assert (bgr[..., 2] == 200).all() and (bgr[..., 0] == 0).all()
    assert (rgb[..., 0] == 200).all() and (rgb[..., 2] == 0).all()
    gray, _ = crop_rgb(frame[..., 0], (6, 6, 4, 4), CropRule(8, 2.0), "bgr")
    assert gray.shape == (8, 8, 3) and (gray == 200).all()


def _reference_crop_square(frame, box, factor, out_size):
    """crop_square as it was before CropCanvas (the rule docs/manifest.md and runtime-c state),
    kept verbatim as the reference of the bit-exactness tests."""
    import cv2

    from asymtrack_deploy.crop import crop_window

    x1, y1, side = crop_window(box, factor)
    height, width = frame.shape[:2]
    xs, ys = max(x1, 0), max(y1, 0)
    xe = min(x1 + side, width - 1) if x1 + side >= width else x1 + side
    ye = min(y1 + side, height - 1) if y1 + side >= height else y1 + side
    if xs == x1 and ys == y1 and xe == x1 + side and ye == y1 + side:
        window = frame[ys:ye, xs:xe]
    else:
        window = np.zeros((side, side) + frame.shape[2:], dtype=frame.dtype)
        if xe > xs and ye > ys:
            window[ys - y1 : ye - y1, xs - x1 : xe - x1] = frame[ys:ye, xs:xe]
    return cv2.resize(window, (out_size, out_size), interpolation=cv2.INTER_LINEAR), out_size / side


def _random_case(rng):
    """A frame and a box: any size from 1 pixel, any channel layout, boxes inside, across the
    edges, wholly outside, tiny and far larger than the frame."""
    h, w = (int(v) for v in rng.choice([1, 2, 3, 17, 240, 481, 576], size=2))
    if rng.random() < 0.3:
        h, w = int(rng.integers(1, 700)), int(rng.integers(1, 900))
    shape = [(h, w, 3), (h, w), (h, w, 1), (h, w, 4)][int(rng.choice(4, p=[0.7, 0.1, 0.1, 0.1]))]
    frame = rng.integers(0, 256, size=shape, dtype=np.uint8)
    size = float(np.exp(rng.uniform(np.log(0.3), np.log(4 * max(h, w) + 2))))
    bw, bh = size * rng.uniform(0.3, 3), size * rng.uniform(0.3, 3)
    x = rng.uniform(-1.5 * bw - 20, w + 20)
    y = rng.uniform(-1.5 * bh - 20, h + 20)
    return frame, (x, y, bw, bh)


def test_canvas_crops_are_bit_exact_with_the_reference_over_random_cases():
    """Thousands of random frames and boxes through one canvas per output size (so stale rows
    of earlier frames are in it), against the reference: not one pixel may differ."""
    from asymtrack_deploy.crop import CropCanvas

    rng = np.random.default_rng(12)
    canvases = {}
    for case in range(3000):
        frame, box = _random_case(rng)
        out_size = int(rng.choice([128, 256, 384, 7]))
        factor = float(rng.choice([2.0, 4.0, 5.0, 1.0, 0.5]))
        canvas = canvases.setdefault(out_size, CropCanvas())
        want, want_factor = _reference_crop_square(frame, box, factor, out_size)
        got, got_factor = crop_square(frame, box, factor, out_size, canvas=canvas)
        assert got_factor == want_factor
        if not np.array_equal(got, want):
            raise AssertionError(f"case {case}: frame {frame.shape}, box {box}, factor {factor}, out {out_size}: "
                                 f"{int((got != want).sum())} values differ")


def test_canvas_hits_the_special_sizes_of_the_resize():
    """Same size (a copy), exactly 2x (OpenCV's area path), just past 2x (rows start to be
    skipped) and large windows, each reaching past the frame, on one canvas, against the reference."""
    from asymtrack_deploy.crop import CropCanvas, crop_window, rows_read

    rng = np.random.default_rng(3)
    canvas = CropCanvas()
    for side in (256, 512, 513, 514, 767, 768, 1025, 2600):
        for corner in ((-5.0, -7.0), (600.0, 400.0), (-300.0, 500.0)):
            frame = rng.integers(0, 256, size=(480, 640, 3), dtype=np.uint8)
            box = (corner[0], corner[1], side / 4, side / 4)
            assert crop_window(box, 4.0)[2] == side
            want, _ = _reference_crop_square(frame, box, 4.0, 256)
            np.testing.assert_array_equal(crop_square(frame, box, 4.0, 256, canvas=canvas)[0], want)
    assert rows_read(512, 256) is None and len(rows_read(2600, 256)) <= 512


def test_canvas_memory_is_bounded():
    from asymtrack_deploy.crop import CropCanvas

    frame = np.full((100, 100, 3), 200, dtype=np.uint8)
    small = CropCanvas(max_bytes=100_000)  # too small for this window: the reference square instead
    box = (-400.0, -400.0, 300.0, 300.0)
    np.testing.assert_array_equal(crop_square(frame, box, 4.0, 64, canvas=small)[0],
                                  _reference_crop_square(frame, box, 4.0, 64)[0])
    assert small._canvas is None
    canvas = CropCanvas()
    crop_square(frame, box, 4.0, 64, canvas=canvas)
    first = canvas._canvas
    crop_square(frame, (10.0, 10.0, 80.0, 80.0), 4.0, 64, canvas=canvas)  # needs no wider margins
    assert canvas._canvas is first
    crop_square(frame[:50], box, 4.0, 64, canvas=canvas)  # another frame size: a new canvas
    assert canvas._canvas is not first and canvas._canvas.shape[2] == 3


@pytest.mark.skipif(__import__("platform").machine().lower() not in ("x86_64", "amd64"),
                    reason="the resize's definition is x86 OpenCV's arithmetic: compared where that OpenCV runs")
def test_numpy_resize_is_bit_exact_with_x86_opencv_over_random_sizes():
    """The numpy resize (what every non-x86 CPU runs) against x86 OpenCV's INTER_LINEAR: random
    sizes up and down, exact 2x, same size, 1-4 channels, contiguous images and frame views."""
    import cv2

    from asymtrack_deploy.crop import _resize_linear_numpy

    rng = np.random.default_rng(26)
    for case in range(800):
        h = int(rng.integers(1, 900)) if rng.random() < 0.6 else int(rng.integers(1, 40))
        w = h if rng.random() < 0.7 else int(rng.integers(1, 900))
        oh = int(rng.choice([128, 256, 7, 1, 384, int(rng.integers(1, 600))]))
        ow = oh if rng.random() < 0.8 else int(rng.integers(1, 600))
        if rng.random() < 0.05:
            h, w = 2 * oh, 2 * ow
        channels = int(rng.choice([1, 3, 4, 0]))
        big = rng.integers(0, 256, size=(h + 5, w + 9) + ((channels,) if channels else ()), dtype=np.uint8)
        image = big[2 : 2 + h, 3 : 3 + w] if rng.random() < 0.6 else np.ascontiguousarray(big[:h, :w])
        want = cv2.resize(image, (ow, oh), interpolation=cv2.INTER_LINEAR)
        got = _resize_linear_numpy(image, ow, oh)
        assert got.shape == want.shape and np.array_equal(got, want), (case, image.shape, ow, oh)


def test_crops_do_not_depend_on_the_cpus_opencv(monkeypatch):
    """On a CPU whose OpenCV resizes differently (as the aarch64 wheels do: off by 1 in many
    pixels), the crop is still the reference crop: OpenCV's resize is trusted on x86-64 only,
    and only after its probe agrees."""
    import cv2

    from asymtrack_deploy import crop as crop_module

    x86_resize = cv2.resize

    def other_cpus_resize(image, size, interpolation):  # x86's result, off by one where odd
        out = x86_resize(image, size, interpolation=interpolation)
        return out ^ (out & 1) if interpolation == cv2.INTER_LINEAR else out

    rng = np.random.default_rng(5)
    cases = [_random_case(rng) for _ in range(60)]
    wants = [_reference_crop_square(frame, box, 4.0, 256)[0] for frame, box in cases]
    monkeypatch.setattr(crop_module.cv2, "resize", other_cpus_resize)
    for machine in ("aarch64", "x86_64"):  # aarch64: never trusted; x86_64: its probe disagrees
        monkeypatch.setattr(crop_module.platform, "machine", lambda: machine)
        crop_module._opencv_is_exact.cache_clear()
        assert not crop_module._opencv_is_exact()
        canvas = crop_module.CropCanvas()
        for (frame, box), want in zip(cases, wants):
            np.testing.assert_array_equal(crop_square(frame, box, 4.0, 256, canvas=canvas)[0], want)
    crop_module._opencv_is_exact.cache_clear()
