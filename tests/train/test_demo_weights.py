"""The shipped demo weights track: a guard against shipping weights that load but do not follow
a target (as the first demo weights did on box.mp4, where the box grew to three times the box)."""
from __future__ import annotations

import numpy as np
import pytest

from asymtrack_deploy.datasets import procedural_sequence
from asymtrack_deploy.eval.metrics import iou_exclusive
from asymtrack_deploy.runtimes.torch_backend import TorchBackend, default_checkpoint
from asymtrack_deploy.tracker import Tracker

BOX_MP4_START = (298.0, 15.0, 297.0, 227.0)  # the box held in the hand, first frame

pytestmark = pytest.mark.skipif(default_checkpoint() is None, reason="no demo weights installed")


@pytest.fixture(scope="module")
def tracker():
    with TorchBackend(variant="tiny", threads=2) as backend:
        yield Tracker(backend)


def _track(tracker, frames, start) -> np.ndarray:
    frames = iter(frames)
    tracker.init(next(frames), start)
    return np.array([start, *(tracker.update(frame).box for frame in frames)])


def test_demo_weights_track_a_held_out_procedural_sequence(tracker):
    """Sequence 4 of the evaluation set (seed 0), never trained on: measured mean IoU 0.68 (the
    first demo weights: 0.21)."""
    sequence = procedural_sequence(seed=0, index=4, length=100)
    boxes = _track(tracker, sequence.iter_frames(), sequence.init_box)
    overlap = iou_exclusive(boxes[1:], sequence.boxes[1:])
    assert overlap.mean() >= 0.5, f"mean IoU {overlap.mean():.3f}"


def test_demo_weights_keep_the_box_of_box_mp4_at_its_size(tracker, box_mp4):
    """No ground truth ships with box.mp4; the box moves but keeps about its size, so a box that
    grows or shrinks by half means the tracker has lost it (measured: 1.0x to 1.28x
    over these 200 frames; the first demo weights: up to 1.84x)."""
    import cv2

    capture = cv2.VideoCapture(str(box_mp4))
    frames = []
    while len(frames) < 200:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    assert len(frames) == 200, f"{box_mp4}: read {len(frames)} frames"
    boxes = _track(tracker, frames, BOX_MP4_START)
    side = np.sqrt(boxes[:, 2] * boxes[:, 3]) / np.sqrt(BOX_MP4_START[2] * BOX_MP4_START[3])
    assert 0.67 <= side.min() and side.max() <= 1.5, f"box side from {side.min():.2f}x to {side.max():.2f}x"
