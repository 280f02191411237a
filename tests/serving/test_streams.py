"""StreamTable in-process: the per-stream state the Triton ``tracker`` model keeps."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from asymtrack_deploy.runtimes import Backend, load_bundle_backend
from asymtrack_deploy.serving.streams import StreamTable, UnknownStreamError
from tests.serving.conftest import reference_boxes


def _track_interleaved(table: StreamTable, streams, ids) -> dict[int, list]:
    """Start every stream, then one track() call per frame index holding all streams' frames."""
    table.start([(sid, frames[0], box) for sid, (frames, box) in zip(ids, streams)])
    boxes = {sid: [] for sid in ids}
    for i in range(1, len(streams[0][0])):
        for sid, result in zip(ids, table.track([(sid, frames[i]) for sid, (frames, _) in zip(ids, streams)])):
            boxes[sid].append(result.box)
    return boxes


def test_streams_over_a_batch1_bundle_get_exactly_the_trackers_boxes(onnx_b1, streams):
    with load_bundle_backend(onnx_b1) as backend:
        boxes = _track_interleaved(StreamTable(backend), streams, [11, 12, 13])
    for sid, (frames, box) in zip([11, 12, 13], streams):
        assert boxes[sid] == reference_boxes(onnx_b1, frames, box)


def test_openvino_backend_gives_the_trackers_boxes(openvino_b1, streams):
    with load_bundle_backend(openvino_b1) as backend:
        boxes = _track_interleaved(StreamTable(backend), streams[:2], [1, 2])
    for sid, (frames, box) in zip([1, 2], streams[:2]):
        assert boxes[sid] == reference_boxes(openvino_b1, frames, box)


def test_a_batch2_bundle_runs_three_streams_in_two_padded_calls(onnx_b1, onnx_b2, streams):
    """Streams of one call share the graph; the third rides alone in a padded call. The batch-2
    graph differs from the batch-1 graph in summation order only: within 0.01 px."""
    with load_bundle_backend(onnx_b2) as backend:
        calls = []
        search = backend.search
        backend.search = lambda crops, state: calls.append(len(crops)) or search(crops, state)
        boxes = _track_interleaved(StreamTable(backend), streams, [1, 2, 3])
    assert calls and set(calls) == {2} and len(calls) == 2 * (len(streams[0][0]) - 1)
    for sid, (frames, box) in zip([1, 2, 3], streams):
        np.testing.assert_allclose(boxes[sid], reference_boxes(onnx_b1, frames, box), atol=0.01)


def test_unknown_ended_and_idle_streams(onnx_b1, streams):
    frames, box = streams[0]
    with load_bundle_backend(onnx_b1) as backend:
        table = StreamTable(backend, idle_seconds=5.0)
        with pytest.raises(UnknownStreamError, match="stream 4 has no template"):
            table.track([(4, frames[1])])
        table.start([(4, frames[0], box), (5, frames[0], box)])
        assert len(table) == 2 and table.box(4) == tuple(float(v) for v in box)
        with pytest.raises(ValueError, match="one frame per track"):
            table.track([(4, frames[1]), (4, frames[2])])
        assert table.end(4) and not table.end(4) and 4 not in table
        assert table.evict_idle() == [] and table.evict_idle(now=1e12) == [5] and len(table) == 0


def test_bad_frames_and_boxes_are_refused_before_any_graph_call(onnx_b1, streams):
    frames, box = streams[0]
    with load_bundle_backend(onnx_b1) as backend:
        table = StreamTable(backend)
        with pytest.raises(ValueError, match="width and height must be > 0"):
            table.start([(1, frames[0], (1, 2, 0, 5))])
        with pytest.raises(ValueError, match="uint8"):
            table.start([(1, frames[0].astype(np.float32), box)])
        assert len(table) == 0


def test_only_backends_whose_state_it_can_stack(onnx_b1):
    class Other(Backend):  # a backend whose state handles do not come from numpy rows
        name = "other"

        def _template_impl(self, crops):
            return None

        def _search_impl(self, crops, state):
            return None

    with pytest.raises(ValueError, match="the other backend cannot serve streams"):
        StreamTable(Other())


def test_the_servers_side_never_imports_torch(onnx_b1):
    """What runs inside the Triton stub: the model module, a StreamTable step on ONNX Runtime."""
    import subprocess
    import sys

    code = (
        "import sys, numpy as np\n"
        "from asymtrack_deploy.serving import python_model, client, server\n"
        "from asymtrack_deploy.serving.streams import StreamTable\n"
        "from asymtrack_deploy.runtimes import load_bundle_backend\n"
        "from asymtrack_deploy.sources import builtin_sequence\n"
        "seq = builtin_sequence(); frames = seq.frames()[:2]\n"
        f"table = StreamTable(load_bundle_backend({str(onnx_b1)!r}))\n"
        "table.start([(1, frames[0], seq.init_box)]); table.track([(1, frames[1])])\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch'))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def _getter(**inputs):
    return lambda name: inputs.get(name)


def test_requests_the_model_refuses_before_any_graph_runs():
    """Accepted before: both frame inputs (one silently ignored) and a stream id HTTP allows
    (up to 2**64 - 1) beyond the 2**63 - 1 that gRPC carries and the README promises."""
    from asymtrack_deploy.serving.python_model import _checked, parse_request

    frame = np.zeros((1, 24, 32, 3), np.uint8)
    encoded = np.frombuffer(cv2.imencode(".png", frame[0])[1].tobytes(), np.uint8)[None]
    box = np.asarray([[1, 1, 8, 8]], np.float32)
    start = np.ones((1, 1), np.int32)
    with pytest.raises(ValueError, match="carries both FRAME and FRAME_ENCODED: send one of them"):
        parse_request(_getter(FRAME=frame, FRAME_ENCODED=encoded, INIT_BOX=box, CORRID=np.uint64([[7]])))
    for stream_id in (2**63, 2**64 - 1):
        request = parse_request(_getter(FRAME=frame, INIT_BOX=box, START=start, READY=start,
                                        CORRID=np.asarray([[stream_id]], np.uint64)))
        with pytest.raises(ValueError, match=rf"sequence id {stream_id} is above 2\*\*63 - 1"):
            _checked(request)
    largest = parse_request(_getter(FRAME_ENCODED=encoded, INIT_BOX=box, START=start, READY=start,
                                    CORRID=np.asarray([[2**63 - 1]], np.uint64)))
    assert _checked(largest).stream_id == 2**63 - 1 and largest.frame.shape == (24, 32, 3)
