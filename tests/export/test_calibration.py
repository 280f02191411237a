"""Calibration crops: sources, boxes, jitter, records, and the errors for bad sources."""
from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

from asymtrack_deploy.boxes import CENTER_JITTER, jitter_box
from asymtrack_deploy.export.calibration import CalibrationWarning, calibration_set
from asymtrack_deploy.models import VARIANTS
from asymtrack_deploy.sources import builtin_sequence

TINY = VARIANTS["tiny"]
VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


def _quiet(**kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        return calibration_set(TINY, **kwargs)


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    return builtin_sequence().frames()[:6]


@pytest.fixture
def sequence_folder(tmp_path, frames) -> Path:
    """A GOT-10k-style sequence: images in img/, one box per line, one empty box."""
    (tmp_path / "img").mkdir()
    for i, frame in enumerate(frames):
        cv2.imwrite(str(tmp_path / "img" / f"{i:08d}.jpg"), frame)
    lines = ["638,240,50,82"] * len(frames)
    lines[2] = "0,0,0,0"
    (tmp_path / "groundtruth.txt").write_text("\n".join(lines) + "\n")
    return tmp_path


def test_default_is_the_builtin_sequence_with_its_initial_box():
    calib = calibration_set(TINY, count=40, seed=1)
    assert calib.templates.shape == (40, 128, 128, 3) and calib.searches.shape == (40, 256, 256, 3)
    assert calib.templates.dtype == np.uint8 and calib.searches.dtype == np.uint8
    r = calib.record
    assert (r["kind"], r["count"], r["seed"], r["frames"]) == ("builtin", 40, 1, 40)
    assert "initial box" in r["boxes"] and r["search_center_jitter"] == 3.5 and r["search_scale_jitter"] == 0.5
    assert "warning" not in r
    # templates are real crops around a target, not blank padding
    assert calib.templates.std() > 20


def test_same_seed_same_crops_other_seed_other_crops():
    a, b, c = (_quiet(count=4, seed=s).searches for s in (3, 3, 4))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_too_few_pairs_warn_and_the_warning_is_recorded():
    with pytest.warns(CalibrationWarning, match="too few"):
        calib = calibration_set(TINY, count=4)
    assert "too few" in calib.record["warning"]


@pytest.mark.parametrize("count", [0, -3, 2.5])
def test_bad_count(count):
    with pytest.raises(ValueError, match="positive integer"):
        calibration_set(TINY, count=count)


def test_jitter_follows_the_training_recipe():
    rng = np.random.default_rng(0)
    box = (100.0, 100.0, 40.0, 60.0)
    centres, scales = [], []
    for _ in range(2000):
        x, y, w, h = jitter_box(box, rng)
        side = np.sqrt(w * h)
        centres.append(((x + w / 2 - 120) / side, (y + h / 2 - 130) / side))
        scales.append(np.log(w / 40.0))
    centres = np.array(centres)
    assert np.abs(centres).max() <= CENTER_JITTER / 2 + 1e-9  # uniform in +-3.5/2 of sqrt(area)
    assert np.abs(centres).max() > 1.6
    assert abs(np.std(scales) - 0.5) < 0.05  # log-size ~ N(0, 0.5)


def test_sequence_folder_uses_its_groundtruth_and_skips_empty_boxes(sequence_folder):
    calib = _quiet(source=sequence_folder, count=6)
    assert calib.record["kind"] == "sequence" and calib.record["frames"] == 5
    assert "groundtruth" in calib.record["boxes"]


def test_sequence_folder_with_images_beside_groundtruth(sequence_folder):
    for image in (sequence_folder / "img").iterdir():
        shutil.move(str(image), sequence_folder / image.name)
    (sequence_folder / "img").rmdir()
    assert _quiet(source=sequence_folder, count=3).record["frames"] == 5


def test_image_folder_without_annotation_draws_random_boxes(tmp_path, frames):
    for i, frame in enumerate(frames[:3]):
        cv2.imwrite(str(tmp_path / f"{i}.png"), frame)
    calib = _quiet(source=tmp_path, count=5)
    assert calib.record["kind"] == "image folder" and "random boxes" in calib.record["boxes"]
    boxed = _quiet(source=tmp_path, count=5, init_box=(638, 240, 50, 82))
    assert "given box" in boxed.record["boxes"]


@pytest.mark.skipif(not VTEST.is_file(), reason="vtest.avi (Debian package opencv-doc) not installed")
def test_video_source_spreads_its_frames():
    calib = _quiet(source=VTEST, count=6, init_box=(638, 240, 50, 82))
    assert calib.record["kind"] == "video" and calib.record["frames"] == 48
    assert calib.searches.shape == (6, 256, 256, 3)


def test_missing_source(tmp_path):
    with pytest.raises(ValueError, match="no such file or folder"):
        calibration_set(TINY, source=tmp_path / "nope.mp4")


def test_empty_folder(tmp_path):
    with pytest.raises(ValueError, match="no images"):
        calibration_set(TINY, source=tmp_path)


def test_folder_of_unreadable_images(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match="no readable frame"):
        calibration_set(TINY, source=tmp_path)


def test_file_that_is_not_a_video(tmp_path):
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"\x00" * 1000)
    with pytest.raises(ValueError, match="not a video|no readable frame"):
        calibration_set(TINY, source=path)


def test_groundtruth_without_a_usable_box(sequence_folder):
    (sequence_folder / "groundtruth.txt").write_text("0,0,0,0\nnan,1,2,3\n")
    with pytest.raises(ValueError, match="no usable box"):
        calibration_set(TINY, source=sequence_folder)


@pytest.mark.parametrize("box", [(1, 2, 3), (1, 2, 0, 4), "abcd", (1, 2, float("nan"), 4)])
def test_bad_box(box):
    with pytest.raises(ValueError, match="calibration box"):
        calibration_set(TINY, init_box=box)


@pytest.mark.skipif(not VTEST.is_file(), reason="vtest.avi (Debian package opencv-doc) not installed")
@pytest.mark.parametrize("box, message", [((5000, 0, 10, 10), "outside the 768 x 576 frame"),
                                          ((0, 0, 1e5, 1e5), "too large for the 768 x 576 frame")])
def test_a_box_the_tracker_could_not_start_from(box, message):
    with pytest.raises(ValueError, match=f"the calibration box .*{message}"):
        calibration_set(TINY, source=VTEST, init_box=box)
