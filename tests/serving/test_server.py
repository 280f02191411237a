"""The real Triton server on 127.0.0.1: streams, sequence control, errors, clean shutdown."""
from __future__ import annotations

import os
import threading

import numpy as np
import pytest

from tests.serving.conftest import reference_boxes, server_or_skip

pytestmark = pytest.mark.slow


def _track(url: str, stream_id: int, frames, box, **options) -> list[tuple]:
    from asymtrack_deploy.serving import TritonTracker

    with TritonTracker(url, stream_id=stream_id, **options) as tracker:
        tracker.init(frames[0], box)
        return [tracker.update(f).box for f in frames[1:]]


def test_three_streams_in_three_threads_get_the_in_process_trackers_boxes(server, onnx_b1, streams):
    boxes, errors = {}, []

    def run(stream_id, frames, box):
        try:
            boxes[stream_id] = _track(server.http_url, stream_id, frames, box)
        except Exception as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(sid, *stream)) for sid, stream in zip((101, 102, 103), streams)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for sid, (frames, box) in zip((101, 102, 103), streams):
        np.testing.assert_allclose(boxes[sid], reference_boxes(onnx_b1, frames, box), atol=0.01, rtol=0)


def test_a_batch2_bundle_serves_frames_of_different_streams_in_one_call(onnx_b1, onnx_b2, streams, tmp_path):
    """Triton hands the model requests of several streams at once; over a batch-2 bundle they
    share graph calls. The boxes stay within 0.01 px of the in-process batch-1 Tracker."""
    import json
    import urllib.request

    server_or_skip()
    from asymtrack_deploy.serving import TritonServer, write_repository

    repo = write_repository(onnx_b2, tmp_path / "repo", max_batch=4)
    boxes = {}
    with TritonServer(repo, log_path=tmp_path / "tritonserver.log") as server:
        threads = [threading.Thread(target=lambda i=i: boxes.__setitem__(i, _track(server.http_url, 700 + i, *streams[i])))
                   for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with urllib.request.urlopen(f"http://{server.http_url}/v2/models/tracker/stats", timeout=10) as response:
            batches = json.load(response)["model_stats"][0]["batch_stats"]
    assert max(b["batch_size"] for b in batches) >= 2, batches
    for i, (frames, box) in enumerate(streams):
        np.testing.assert_allclose(boxes[i], reference_boxes(onnx_b1, frames, box), atol=0.01, rtol=0)


def test_interleaved_streams_do_not_mix_over_grpc_and_encoded_frames(server, onnx_b1, streams):
    """Two streams alternate frame by frame on one thread: gRPC with raw frames, HTTP with PNG."""
    from asymtrack_deploy.serving import TritonTracker

    (frames_a, box_a), (frames_b, box_b) = streams[0], streams[1]
    a = TritonTracker(f"grpc://{server.grpc_url}", stream_id=201)
    b = TritonTracker(server.http_url, stream_id=202, encode="png")
    a.init(frames_a[0], box_a)
    b.init(frames_b[0], box_b)
    got_a, got_b = [], []
    for fa, fb in zip(frames_a[1:], frames_b[1:]):
        got_a.append(a.update(fa).box)
        got_b.append(b.update(fb).box)
    a.close()
    b.close()
    np.testing.assert_allclose(got_a, reference_boxes(onnx_b1, frames_a, box_a), atol=0.01, rtol=0)
    np.testing.assert_allclose(got_b, reference_boxes(onnx_b1, frames_b, box_b), atol=0.01, rtol=0)


def test_end_frees_the_streams_state_on_the_server(server, streams):
    from asymtrack_deploy.serving import TritonTracker

    frames, box = streams[0]
    trackers = [TritonTracker(server.http_url, stream_id=300 + i) for i in range(3)]
    for t in trackers:
        t.init(frames[0], box)
    assert trackers[-1].last_streams == 3
    for t in trackers[:2]:
        t.close()
    trackers[2].update(frames[1])
    assert trackers[2].last_streams == 1
    trackers[2].close()
    with pytest.raises(RuntimeError, match="before init"):
        trackers[2].update(frames[2])


def _raw_request(server, stream_id: int, frame=None, box=None, **flags):
    import tritonclient.http as http

    client = http.InferenceServerClient(server.http_url)
    inputs = []
    if frame is not None:
        inputs.append(http.InferInput("FRAME", [1, *frame.shape], "UINT8"))
        inputs[-1].set_data_from_numpy(frame[None])
    if box is not None:
        inputs.append(http.InferInput("INIT_BOX", [1, 4], "FP32"))
        inputs[-1].set_data_from_numpy(np.asarray([box], np.float32))
    return client.infer("tracker", inputs, sequence_id=stream_id, **flags)


def test_a_frame_without_start_is_a_clear_client_error(server, streams):
    from tritonclient.utils import InferenceServerException

    with pytest.raises(InferenceServerException, match="must specify the START flag"):
        _raw_request(server, 400, streams[0][0][0])
    with pytest.raises(InferenceServerException, match="START request needs a frame and INIT_BOX"):
        _raw_request(server, 401, streams[0][0][0], sequence_start=True)


def test_a_lost_stream_raises_or_reinits_from_the_last_box(server, onnx_b1, streams):
    from asymtrack_deploy.serving import StreamLostError, TritonTracker

    frames, box = streams[0]
    strict = TritonTracker(server.http_url, stream_id=500)
    strict.init(frames[0], box)
    strict.update(frames[1])
    _raw_request(server, 500, box=box, sequence_end=True)  # another client ends the stream
    with pytest.raises(StreamLostError, match="stream 500: the server does not know this stream"):
        strict.update(frames[2])
    lenient = TritonTracker(server.http_url, stream_id=501, on_lost="reinit")
    lenient.init(frames[0], box)
    last = lenient.update(frames[1]).box
    _raw_request(server, 501, box=box, sequence_end=True)
    result = lenient.update(frames[2])
    expected = reference_boxes(onnx_b1, [frames[2], frames[2]], last)[0]  # re-init on frame 2 at the last box
    np.testing.assert_allclose(result.box, expected, atol=0.01, rtol=0)
    lenient.close()


def test_bad_input_is_refused_with_its_reason(server, streams):
    import tritonclient.http as http
    from tritonclient.utils import InferenceServerException

    from asymtrack_deploy.serving import TritonTracker

    frames, box = streams[0]
    tracker = TritonTracker(server.http_url, stream_id=600)
    with pytest.raises(ValueError, match="uint8"):
        tracker.init(frames[0].astype(np.float32), box)
    client = http.InferenceServerClient(server.http_url)
    garbage = http.InferInput("FRAME_ENCODED", [1, 5], "UINT8")
    garbage.set_data_from_numpy(np.arange(5, dtype=np.uint8)[None])
    start_box = http.InferInput("INIT_BOX", [1, 4], "FP32")
    start_box.set_data_from_numpy(np.asarray([box], np.float32))
    with pytest.raises(InferenceServerException, match="not a JPEG or PNG image"):
        client.infer("tracker", [garbage, start_box], sequence_id=601, sequence_start=True, sequence_end=True)
    with pytest.raises(ValueError, match="stream_id must be an integer from 1"):
        TritonTracker(server.http_url, stream_id=0)


def test_a_stream_id_above_2_63_and_a_request_with_both_frames_are_refused_over_http(server, streams):
    import cv2
    import tritonclient.http as http
    from tritonclient.utils import InferenceServerException

    frames, box = streams[0]
    with pytest.raises(InferenceServerException, match=r"sequence id 18446744073709551615 is above 2\*\*63 - 1"):
        _raw_request(server, 2**64 - 1, frames[0], box, sequence_start=True, sequence_end=True)
    encoded = np.frombuffer(cv2.imencode(".png", frames[1])[1].tobytes(), np.uint8)[None]
    inputs = [http.InferInput("FRAME", [1, *frames[0].shape], "UINT8"),
              http.InferInput("FRAME_ENCODED", list(encoded.shape), "UINT8"), http.InferInput("INIT_BOX", [1, 4], "FP32")]
    for tensor, value in zip(inputs, (frames[0][None], encoded, np.asarray([box], np.float32))):
        tensor.set_data_from_numpy(value)
    client = http.InferenceServerClient(server.http_url)
    with pytest.raises(InferenceServerException, match="carries both FRAME and FRAME_ENCODED: send one of them"):
        client.infer("tracker", inputs, sequence_id=602, sequence_start=True, sequence_end=True)


def _group_members(group: int) -> list[int]:
    """Live processes in a process group, read from /proc (zombies awaiting their reaper excluded)."""
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == group and fields[0] != "Z":
                members.append(int(entry))
    return members


def test_stop_leaves_no_process_of_the_server_behind(repository, tmp_path):
    server_or_skip()
    from asymtrack_deploy.serving import TritonServer

    server = TritonServer(repository, instances=2, log_path=tmp_path / "tritonserver.log").start()
    group = server.process.pid
    assert len(_group_members(group)) == 3  # the server and one python stub per instance
    server.stop()
    assert _group_members(group) == []


def test_bench_measures_the_server_and_the_in_process_tracker(server, repository):
    from asymtrack_deploy.serving.load_test import measure_in_process, measure_server, stream_frames

    streams = [(frames[:4], box) for frames, box in stream_frames(2)]
    assert [b for _, b in streams][1] != [b for _, b in streams][0]  # the second stream is mirrored
    for row in (measure_server(server.http_url, streams), measure_in_process(repository / "tracker/1/bundle", streams)):
        assert row["frames"] == 6 and row["fps"] > 0 and 0 < row["p50_ms"] <= row["p99_ms"]
