"""BatchTracker rows: one target replaced or removed mid-stream while the others keep their
template state and their boxes, exactly as if nothing had happened to them."""
from __future__ import annotations

import numpy as np
import pytest

from asymtrack_deploy.demo_weights import DEMO_CHECKPOINT
from asymtrack_deploy.runtimes import load_backend
from asymtrack_deploy.sources import builtin_sequence
from asymtrack_deploy.tracker import BatchTracker

# two people in vtest: row 0 is kept throughout, row 1 is replaced or removed
KEPT_BOX = builtin_sequence().init_box
OTHER_BOX = (120.0, 90.0, 40.0, 90.0)
NEW_BOX = (600.0, 200.0, 40.0, 90.0)
SWITCH = 3


@pytest.fixture(scope="module")
def batch_two():
    return load_backend("torch", variant="tiny", checkpoint=DEMO_CHECKPOINT, batch=2)


@pytest.fixture(scope="module")
def frames():
    return builtin_sequence().frames()[:9]


def kept_track(batch_two, frames, change) -> list[tuple[float, ...]]:
    tracker = BatchTracker(batch_two)
    tracker.init(frames[0], [KEPT_BOX, OTHER_BOX])
    track = []
    for k, frame in enumerate(frames[1:], start=1):
        if k == SWITCH:
            change(tracker, frame)
        shown = [frame, frame if tracker.active_rows == [0, 1] else None]
        track.append(tracker.update(shown)[0].box)
    return track


def test_replacing_one_row_leaves_the_other_rows_track_identical(batch_two, frames):
    uninterrupted = kept_track(batch_two, frames, lambda t, f: None)
    replaced = kept_track(batch_two, frames, lambda t, f: t.add(1, f, NEW_BOX))
    removed = kept_track(batch_two, frames, lambda t, f: t.remove(1))
    assert replaced == uninterrupted
    assert removed == uninterrupted
    # the old way, init of every row on the current frame, re-crops the kept target's template
    reinit = kept_track(batch_two, frames, lambda t, f: t.init(f, [t.states[0], NEW_BOX]))
    assert reinit != uninterrupted


def test_an_added_row_tracks_its_new_target(batch_two, frames):
    tracker = BatchTracker(batch_two)
    tracker.add(1, frames[0], NEW_BOX)
    assert tracker.active_rows == [1]
    results = [tracker.update([None, frame]) for frame in frames[1:4]]
    assert all(r[0] is None for r in results)
    assert np.abs(np.subtract(results[-1][1].box[:2], NEW_BOX[:2])).max() < 40


def test_row_arguments_are_checked(batch_two, frames):
    tracker = BatchTracker(batch_two)
    with pytest.raises(RuntimeError, match="before init"):
        tracker.update(frames[0])
    with pytest.raises(ValueError, match=r"row must be an integer in \[0, 1\]"):
        tracker.add(2, frames[0], NEW_BOX)
    with pytest.raises(ValueError, match="follows no target"):
        tracker.remove(0)
    tracker.add(0, frames[0], NEW_BOX)
    with pytest.raises(ValueError, match="frame must be a numpy array"):
        tracker.update([None, None])
