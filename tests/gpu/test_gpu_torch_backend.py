"""The torch backend on CUDA: the captured search step against the official tracker steps.

Run with ``python -m pytest -m gpu tests/gpu`` on a machine with a CUDA device (benchmarks/gpu.sh
does); without one every test here is skipped, saying so.
"""
from __future__ import annotations

import numpy as np
import pytest

from asymtrack_deploy import Tracker
from asymtrack_deploy.runtimes import load_backend
from tests.gpu.gpu_steps import (
    FP16_REGION_TOL, FP32_STEP_TOL_PX, TRAINED, load_frames, step_errors, steps_and_weights,
)

torch = pytest.importorskip("torch")
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (torch.cuda.is_available() is False)"),
]
CASES = ["tiny", "small", "base", TRAINED]


def _cuda_backend(case: str, name: str = "torch", **options):
    steps, variant, checkpoint = steps_and_weights(case)
    return steps, load_backend(name, variant=variant, checkpoint=checkpoint, device="cuda", **options)


@pytest.mark.parametrize("case", CASES)
def test_cuda_graph_fp32_reproduces_official_steps(case):
    steps, backend = _cuda_backend(case)
    pixels, _ = step_errors(Tracker(backend), steps)
    assert backend.use_cuda_graph and backend._graph is not None  # the steps ran through the graph
    assert pixels.max() < FP32_STEP_TOL_PX, f"worst step {pixels.max():.4f} px"


@pytest.mark.parametrize("case", CASES)
def test_cuda_graph_fp16_within_fp16_tolerance(case):
    steps, backend = _cuda_backend(case, precision="fp16")
    pixels, regions = step_errors(Tracker(backend), steps)
    assert np.isfinite(pixels).all(), "fp16 produced NaN/inf boxes"
    assert regions.max() < FP16_REGION_TOL, f"worst step {regions.max():.2e} of the region ({pixels.max():.2f} px)"


def _search_pairs(backend, steps, frames):
    """(template crop, search crops) of the trained steps, cut by a CPU tracker's arithmetic."""
    from asymtrack_deploy.crop import crop_square, to_rgb

    info = backend.info
    z, _ = crop_square(frames[0], steps["init_box_xywh"], info.rules.template.factor, info.rules.template.size)
    xs = [crop_square(frames[i], s, info.rules.search.factor, info.rules.search.size)[0]
          for i, s in zip(steps["frame_index"], steps["prev_state_xywh"])]
    return to_rgb(z, "bgr")[None], [to_rgb(x, "bgr")[None] for x in xs]


def test_graph_replay_equals_eager_cuda():
    """Same fp32 arithmetic; cuDNN may still pick another algorithm while capturing: 1e-5, the
    box tolerance of the official float32 vectors."""
    steps, graph = _cuda_backend(TRAINED)
    _, eager = _cuda_backend(TRAINED, cuda_graph=False)
    template, searches = _search_pairs(graph, steps, load_frames(steps))
    state_graph, state_eager = graph.template(template), eager.template(template)
    for crop in searches:
        np.testing.assert_allclose(graph.search(crop, state_graph)[0], eager.search(crop, state_eager)[0], atol=1e-5)


def test_graph_rebinds_state_when_targets_alternate():
    """Two targets on one batch-1 backend, interleaved, get the boxes each gets on its own."""
    steps, shared = _cuda_backend(TRAINED)
    frames = load_frames(steps)
    starts = [steps["prev_state_xywh"][0], steps["prev_state_xywh"][10]]
    alone = [_track(Tracker(_cuda_backend(TRAINED)[1]), frames, start) for start in starts]
    trackers = [Tracker(shared), Tracker(shared)]
    for tracker, start in zip(trackers, starts):
        tracker.init(frames[0], start)
    together = [[tracker.update(frame).box for tracker in trackers] for frame in frames[1:]]
    np.testing.assert_allclose(np.array(together).transpose(1, 0, 2), np.array(alone), atol=1e-3)


def test_graph_captured_inside_inference_mode_serves_targets_outside_it():
    steps, backend = _cuda_backend(TRAINED)
    frames = load_frames(steps)
    starts = [steps["prev_state_xywh"][0], steps["prev_state_xywh"][10]]
    with torch.inference_mode():  # capture here: the graph's input buffers must stay ordinary tensors
        first = _track(Tracker(backend), frames, starts[0])
    second = _track(Tracker(backend), frames, starts[1])  # a new state copied in, outside inference_mode
    alone = [_track(Tracker(_cuda_backend(TRAINED)[1]), frames, start) for start in starts]
    np.testing.assert_allclose(np.array([first, second]), np.array(alone), atol=1e-3)


def _track(tracker, frames, start) -> list:
    tracker.init(frames[0], start)
    return [tracker.update(frame).box for frame in frames[1:]]


def test_official_baseline_on_cuda_computes_the_same_boxes():
    """The bench baseline (official order of work, eager) computes what the split graph does.
    It keeps PyTorch's defaults, as the official code runs: TF32 convolutions (10-bit
    mantissa), so the tolerance is fp16's, 1e-2 of the crop; a wrong order of work misses by far more."""
    steps, split = _cuda_backend(TRAINED)
    _, official = _cuda_backend(TRAINED, "torch-official")
    template, searches = _search_pairs(split, steps, load_frames(steps))
    state_split, state_official = split.template(template), official.template(template)
    for crop in searches:
        np.testing.assert_allclose(official.search(crop, state_official)[0], split.search(crop, state_split)[0], atol=1e-2)
