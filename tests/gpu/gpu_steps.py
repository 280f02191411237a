"""Helpers of the GPU tests: the official tracker steps, replayed, with errors in two units.

A step's error in pixels grows with the search region (up to about 2200 px wide in the
reference steps); divided by the region's side in frame pixels it is the error on the
network's own scale, in which fp16 rounding is roughly constant.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from asymtrack_deploy import Tracker
from asymtrack_deploy.runtimes.torch_backend import default_checkpoint
from tests.conftest import REFERENCE_DIR, reference_checkpoint, reference_file

FP32_STEP_TOL_PX = 0.05  # the tolerance the official float32 run supports (reference README)
# fp16: 1e-2 of the search region (2.6 px on a 256-px crop), the fp16 box tolerance the
# exporter's own check uses. PyTorch's CPU half arithmetic (fp16 storage, fp32 accumulation,
# as cuDNN/cuBLAS do) gave at most 3.8e-3 on the trained steps and 1.4e-3 on the random ones.
FP16_REGION_TOL = 1e-2
TRAINED = "trained"  # the compact reference's steps with the shipped demo weights


def trained_steps_path() -> Path:
    """trained/track_tiny.json: in the reference folder, or in reference-compact beside it."""
    for folder in (REFERENCE_DIR / "trained", REFERENCE_DIR.parent / "reference-compact" / "trained"):
        if (folder / "track_tiny.json").is_file():
            return folder / "track_tiny.json"
    pytest.skip(f"trained/track_tiny.json not found in {REFERENCE_DIR} or reference-compact beside it")


def steps_and_weights(case: str) -> tuple[dict, str, Path]:
    """(steps, variant, checkpoint) for a variant's random-weight steps or the trained ones."""
    if case == TRAINED:
        if default_checkpoint() is None:
            pytest.skip("no demo weights installed")
        return json.loads(trained_steps_path().read_text()), "tiny", default_checkpoint()
    return json.loads(reference_file(f"track_{case}.json").read_text()), case, reference_checkpoint(case)


def load_frames(steps: dict) -> list[np.ndarray]:
    return [cv2.imread(str(reference_file(f"frames/{name}"))) for name in steps["frames"]]


def step_errors(tracker: Tracker, steps: dict) -> tuple[np.ndarray, np.ndarray]:
    """Every step from its prev_state: worst coordinate error in pixels, and that error over
    the side of the step's search region in frame pixels."""
    frames = load_frames(steps)
    tracker.init(frames[0], steps["init_box_xywh"])
    pixels, regions = [], []
    for k, index in enumerate(steps["frame_index"]):
        prev = steps["prev_state_xywh"][k]
        tracker.state = prev
        box = tracker.update(frames[index]).box
        pixels.append(float(np.abs(np.subtract(box, steps["next_state_xywh"][k])).max()))
        regions.append(math.ceil(math.sqrt(prev[2] * prev[3]) * steps["search_factor"]))
    pixels = np.asarray(pixels)
    return pixels, pixels / np.asarray(regions)
