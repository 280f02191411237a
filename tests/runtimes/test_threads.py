"""Backends shared between threads: N trackers in N threads over one backend give exactly the boxes
each gives alone (issue 15, case 1: ONNX Runtime mixed the targets silently, OpenVINO raised
"Infer Request is busy")."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from asymtrack_deploy.runtimes import load_backend
from asymtrack_deploy.sources import builtin_sequence
from asymtrack_deploy.tracker import Tracker
from tests.export.conftest import shared_bundle
from tests.export.derived_bundles import shared_derived_bundle

# four different targets on the built-in sequence (pedestrians and background), one per tracker
BOXES = [(638, 240, 50, 82), (300, 200, 60, 90), (100, 300, 40, 80), (450, 120, 70, 70)]
FRAMES = 16


@pytest.fixture(scope="module")
def frames():
    return builtin_sequence().frames()[:FRAMES]


def _track(backend, frames, box, barrier=None):
    tracker = Tracker(backend)
    tracker.init(frames[0], box)
    if barrier is not None:
        barrier.wait()  # every thread tracks at once
    return [tracker.update(frame) for frame in frames[1:]]


def _in_threads(backend, frames, boxes):
    results, errors = [None] * len(boxes), []
    barrier = threading.Barrier(len(boxes))

    def run(i):
        try:
            results[i] = _track(backend, frames, boxes[i], barrier)
        except Exception as exc:  # reported below, with the thread's own error
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(boxes))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return results


def _bundle(tmp_path_factory, backend):
    if backend == "onnxruntime":
        return shared_bundle(tmp_path_factory, batch=1)
    pytest.importorskip("openvino")
    return shared_derived_bundle(tmp_path_factory, "openvino", "fp32")


@pytest.mark.parametrize("backend_name", ["onnxruntime", "openvino"])
@pytest.mark.parametrize("count", [2, 4])
def test_trackers_in_threads_get_what_each_gets_alone(tmp_path_factory, frames, backend_name, count):
    with load_backend(backend_name, bundle=_bundle(tmp_path_factory, backend_name), threads=1) as backend:
        alone = [_track(backend, frames, box) for box in BOXES[:count]]
        together = _in_threads(backend, frames, BOXES[:count])
    for i in range(count):
        assert [r.box for r in together[i]] == [r.box for r in alone[i]], f"target {i}"
        assert [r.score for r in together[i]] == [r.score for r in alone[i]], f"target {i}"
    assert len({alone[i][-1].box for i in range(count)}) == count  # the targets really differ


def test_a_thread_keeps_its_own_bound_state(tmp_path_factory, frames):
    """The state bound in one thread's context is not the one another thread binds."""
    with load_backend("onnxruntime", bundle=shared_bundle(tmp_path_factory, batch=1), threads=1) as backend:
        tracker = Tracker(backend)
        tracker.init(frames[0], BOXES[0])
        tracker.update(frames[1])
        mine = backend._contexts.get(backend._new_search_context)
        seen = []
        thread = threading.Thread(target=lambda: seen.append(backend._contexts.get(backend._new_search_context)))
        thread.start()
        thread.join()
        assert seen[0] is not mine and seen[0].bound_state is None
        assert mine.bound_state is not None


def test_serialised_backends_take_turns(tmp_path_factory, frames):
    """torch (and TensorRT, not runnable here) share one execution state: calls take turns under
    a lock and still give each thread its own answer."""
    with load_backend("torch", variant="tiny") as backend:
        assert backend.serialize_calls
        few = frames[:4]
        alone = [_track(backend, few, box) for box in BOXES[:2]]
        together = _in_threads(backend, few, BOXES[:2])
    assert [[r.box for r in rs] for rs in together] == [[r.box for r in rs] for rs in alone]


def test_non_finite_outputs_are_an_error_naming_the_cause(tmp_path_factory, frames, monkeypatch):
    from asymtrack_deploy.runtimes import NonFiniteOutputError

    with load_backend("onnxruntime", bundle=shared_bundle(tmp_path_factory, batch=1), threads=1) as backend:
        tracker = Tracker(backend)
        tracker.init(frames[0], BOXES[0])
        before = tracker.state
        real = type(backend)._search_impl
        monkeypatch.setattr(type(backend), "_search_impl",
                            lambda self, c, s: (real(self, c, s)[0] * np.nan, real(self, c, s)[1]))
        with pytest.raises(NonFiniteOutputError, match="non-finite box or score .*NaN or infinite values"):
            tracker.update(frames[1])
        assert tracker.state == before  # the state is kept
