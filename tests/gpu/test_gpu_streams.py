"""``bench --streams N`` on CUDA: a BatchTracker over one batch-N graph gives each target the
boxes that target gets alone (a batch-1 graph, one target after another)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from asymtrack_deploy import Tracker
from asymtrack_deploy.runtimes import load_backend
from asymtrack_deploy.tracker import BatchTracker
from tests.gpu.gpu_steps import FP16_REGION_TOL, FP32_STEP_TOL_PX, TRAINED, load_frames, steps_and_weights

torch = pytest.importorskip("torch")
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (torch.cuda.is_available() is False)"),
]
STREAMS = 32  # as benchmarks/gpu.sh runs bench --streams


def _targets(steps: dict, count: int) -> list[tuple]:
    """count distinct boxes: the trained steps' states, shifted 7 px per round."""
    states = steps["prev_state_xywh"]
    return [tuple(np.add(states[k % len(states)], [7 * (k // len(states)), 0, 0, 0])) for k in range(count)]


def _solo_steps(backend, frames, boxes, previous) -> np.ndarray:
    """Each target alone, teacher-forced: from previous[f][t] on frame f + 1."""
    out = np.zeros((len(frames) - 1, len(boxes), 4))
    for t, box in enumerate(boxes):
        tracker = Tracker(backend)
        tracker.init(frames[0], box)
        for f, frame in enumerate(frames[1:]):
            tracker.state = previous[f][t]
            out[f, t] = tracker.update(frame).box
    return out


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_batch_tracker_gives_each_target_its_solo_boxes(precision):
    steps, variant, checkpoint = steps_and_weights(TRAINED)
    frames = load_frames(steps)
    boxes = _targets(steps, STREAMS)
    batch = BatchTracker(load_backend("torch", variant=variant, checkpoint=checkpoint, device="cuda",
                                      precision=precision, batch=STREAMS))
    batch.init(frames[0], boxes)
    previous, together = [], []
    for frame in frames[1:]:
        previous.append(list(batch.states))
        together.append([r.box for r in batch.update(frame)])
    solo = _solo_steps(load_backend("torch", variant=variant, checkpoint=checkpoint, device="cuda",
                                    precision=precision), frames, boxes, previous)
    error = np.abs(np.array(together) - solo).max(axis=2)
    if precision == "fp32":
        assert error.max() < FP32_STEP_TOL_PX, f"worst {error.max():.4f} px"
    else:
        sides = np.array([[math.ceil(math.sqrt(w * h) * 4.0) for _, _, w, h in row] for row in previous])
        assert (error / sides).max() < FP16_REGION_TOL, f"worst {(error / sides).max():.2e} of the region"
