"""The Tracker's arithmetic against the official tracker steps, and its input checks."""
from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from asymtrack_deploy import Tracker
from asymtrack_deploy.runtimes import load_backend
from asymtrack_deploy.tracker import OpenCVTrackerAdapter
from tests.conftest import reference_checkpoint, reference_file

STEP_TOL_PX = 0.05


def replay_steps(tracker: Tracker, steps_file, frames_dir) -> float:
    """Run every step of an official track_*.json from its prev_state; the worst pixel error."""
    steps = json.loads(steps_file.read_text())
    frames = [cv2.imread(str(frames_dir / name)) for name in steps["frames"]]
    tracker.init(frames[0], steps["init_box_xywh"])
    worst = 0.0
    for k, index in enumerate(steps["frame_index"]):
        tracker.state = steps["prev_state_xywh"][k]
        box = tracker.update(frames[index]).box
        worst = max(worst, float(np.abs(np.subtract(box, steps["next_state_xywh"][k])).max()))
    return worst


def replay_reference_steps(tracker: Tracker, variant: str) -> float:
    """``replay_steps`` over the reference set's track_V.json."""
    return replay_steps(tracker, reference_file(f"track_{variant}.json"), reference_file("frames"))


@pytest.fixture(scope="module")
def torch_tiny():
    return load_backend("torch", variant="tiny", checkpoint=reference_checkpoint("tiny"))


@pytest.mark.parametrize("variant", ["tiny", "small", "base"])
def test_torch_tracker_reproduces_official_steps(variant):
    backend = load_backend("torch", variant=variant, checkpoint=reference_checkpoint(variant))
    assert replay_reference_steps(Tracker(backend), variant) < STEP_TOL_PX


def test_rgb_and_grayscale_and_bgra_frames(torch_tiny):
    frame = cv2.imread(str(reference_file("frames/0150.png")))
    box = (410.0, 130.0, 80.0, 120.0)
    results = {}
    for name, image, order in (
        ("bgr", frame, "bgr"),
        ("rgb", np.ascontiguousarray(frame[:, :, ::-1]), "rgb"),
        ("bgra", cv2.cvtColor(frame, cv2.COLOR_BGR2BGRA), "bgr"),
    ):
        tracker = Tracker(torch_tiny, color_order=order)
        tracker.init(image, box)
        results[name] = tracker.update(image).box
    np.testing.assert_allclose(results["rgb"], results["bgr"], atol=1e-4)
    np.testing.assert_allclose(results["bgra"], results["bgr"], atol=1e-4)
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    tracker = Tracker(torch_tiny)
    tracker.init(gray, box)
    assert len(tracker.update(gray).box) == 4


@pytest.mark.parametrize(
    "frame, message",
    [
        ([[0, 0, 0]], "numpy array"),
        (np.zeros((50, 50, 3), np.float32), "uint8"),
        (np.zeros((50, 50, 2), np.uint8), "H x W x 3"),
        (np.zeros((2, 50, 50, 3), np.uint8), "H x W x 3"),
        (np.zeros((0, 50, 3), np.uint8), "H x W x 3"),
    ],
)
def test_bad_frames(torch_tiny, frame, message):
    with pytest.raises(ValueError, match=message):
        Tracker(torch_tiny).init(frame, (1, 1, 10, 10))


@pytest.mark.parametrize(
    "box, message",
    [
        ((1, 2, float("nan"), 4), "finite"),
        ((1, 2, float("inf"), 4), "finite"),
        ((1, 2, 0, 4), "> 0"),
        ((1, 2, 5, -1), "> 0"),
        ((1, 2, 3), "four numbers"),
        ("abcd", "four numbers"),
    ],
)
def test_bad_boxes(torch_tiny, box, message):
    frame = np.zeros((64, 64, 3), np.uint8)
    with pytest.raises(ValueError, match=message):
        Tracker(torch_tiny).init(frame, box)
    tracker = Tracker(torch_tiny)
    with pytest.raises(ValueError, match=message):
        tracker.state = box


@pytest.mark.parametrize(
    "box, message",
    [
        ((0, 0, 100000, 100000), "too large for the 64 x 48 frame"),  # was a MemoryError (112 GiB)
        ((500, 500, 20, 20), "outside the 64 x 48 frame"),  # was snapped to a corner with score 0.25
        ((-30, 0, 20, 20), "outside the 64 x 48 frame"),
    ],
)
def test_a_starting_box_must_overlap_the_frame(torch_tiny, box, message):
    with pytest.raises(ValueError, match=message):
        Tracker(torch_tiny).init(np.zeros((48, 64, 3), np.uint8), box)


@pytest.mark.parametrize("size", [1, 2])
def test_tiny_frames_give_boxes_inside_them(torch_tiny, size):
    """1x1 and 2x2 frames used to give boxes outside the frame (the clip margin is 10 px)."""
    frame = np.full((size, size, 3), 128, np.uint8)
    tracker = Tracker(torch_tiny)
    tracker.init(frame, (0, 0, 2 * size, 2 * size))  # the largest box allowed
    for _ in range(3):
        x, y, w, h = tracker.update(frame).box
        assert 0 <= x and 0 <= y and w > 0 and h > 0 and x + w <= size and y + h <= size


def test_update_before_init(torch_tiny):
    with pytest.raises(RuntimeError, match="before init"):
        Tracker(torch_tiny).update(np.zeros((64, 64, 3), np.uint8))


def test_bad_color_order(torch_tiny):
    with pytest.raises(ValueError, match="color_order"):
        Tracker(torch_tiny, color_order="hsv")


def test_target_leaving_the_frame_keeps_tracking(torch_tiny):
    frame = cv2.imread(str(reference_file("frames/0150.png")))
    tracker = Tracker(torch_tiny)
    tracker.init(frame, (600, 400, 100, 100))
    height, width = frame.shape[:2]
    for state in [(-500, -500, 50, 50), (width + 300, height + 300, 40, 40), (-10, 100, 3000, 3000)]:
        tracker.state = state
        result = tracker.update(frame)
        x, y, w, h = result.box
        assert 0 <= x <= width and 0 <= y <= height and w >= 10 and h >= 10
        assert 0.0 <= result.score <= 1.0


def test_opencv_adapter(torch_tiny):
    frame = cv2.imread(str(reference_file("frames/0150.png")))
    adapter = OpenCVTrackerAdapter(Tracker(torch_tiny), score_threshold=0.0)
    adapter.init(frame, (410, 130, 80, 120))
    ok, bbox = adapter.update(frame)
    assert ok is True and len(bbox) == 4 and all(isinstance(v, int) for v in bbox)
    assert 0.0 <= adapter.getTrackingScore() <= 1.0
    strict = OpenCVTrackerAdapter(Tracker(torch_tiny), score_threshold=1.01)
    strict.init(frame, (410, 130, 80, 120))
    assert strict.update(frame)[0] is False


def test_importing_tracker_does_not_import_torch():
    code = "import sys, asymtrack_deploy; from asymtrack_deploy import Tracker; import asymtrack_deploy.runtimes; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.parametrize("variant", ["tiny", "small"])
def test_onnxruntime_tracker_reproduces_official_steps(variant, tmp_path):
    from asymtrack_deploy.export import export_bundle

    bundle = tmp_path / f"{variant}-onnx"
    export_bundle("onnx", checkpoint=reference_checkpoint(variant), variant=variant, out_dir=bundle)
    backend = load_backend("onnxruntime", bundle=bundle)
    assert replay_reference_steps(Tracker(backend), variant) < STEP_TOL_PX
