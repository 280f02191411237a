"""``TritonTracker``: the ``Tracker`` interface over a Triton server's ``tracker`` model.

``TritonTracker("127.0.0.1:8000", stream_id=7)``; ``init(frame, box)``; ``update(frame) ->
TrackResult``; ``close()`` sends END, which frees the stream on the server. The stream id is
Triton's sequence id (1 <= id < 2**63: gRPC carries it as int64): all frames of one id go to
the same model instance, in order, and frames of different ids are batched together. Frames go
raw (uint8 H x W x 3, BGR as OpenCV reads them) or, with ``encode="jpeg"`` / ``"png"``, as
encoded bytes (less network, some accuracy for JPEG); the server decodes them.

A server that no longer knows the stream (it restarted, the stream sat idle longer than the
repository's ``idle_seconds``, or another client ended that id) answers the next frame with an
error. Then ``on_lost="error"`` (the default) raises ``StreamLostError``; ``on_lost="reinit"``
starts the stream again on that frame at the last box it had, and tracks that frame once more.
Requires ``tritonclient`` (``pip install 'asymtrack-deploy[serve]'``).
"""
from __future__ import annotations

import hashlib

import cv2
import numpy as np

from ..runtimes.base import require
from ..boxes import check_box_in_frame
from ..tracker import TrackResult, check_frame
from .repository import TRACKER_MODEL
from .streams import MAX_STREAM_ID

__all__ = ["TritonTracker", "StreamLostError", "MAX_STREAM_ID", "pick_server"]

_LOST_MARKERS = ("must specify the START flag", "has no template")
_ENCODINGS = {"jpeg": ".jpg", "jpg": ".jpg", "png": ".png"}


class StreamLostError(RuntimeError):
    """The server does not know this stream any more; call ``init`` again (or use on_lost="reinit")."""


class TritonTracker:
    """One stream on a Triton server; see the module docstring.

    ``url``: "host:port", or "grpc://host:port" / "http://host:port" (``protocol`` overrides).
    ``color_order``: of the frames you pass ("bgr" or "rgb"); the server works in BGR.
    """

    def __init__(self, url: str = "127.0.0.1:8000", stream_id: int = 1, *, protocol: str | None = None,
                 model: str = TRACKER_MODEL, encode: str | None = None, color_order: str = "bgr",
                 on_lost: str = "error", timeout: float = 60.0):
        self.protocol, address = _split_url(url, protocol)
        if not isinstance(stream_id, int) or isinstance(stream_id, bool) or not 1 <= stream_id <= MAX_STREAM_ID:
            raise ValueError(f"stream_id must be an integer from 1 to 2**63 - 1, got {stream_id!r}")
        if encode is not None and encode not in _ENCODINGS:
            raise ValueError(f"encode must be None, 'jpeg' or 'png', got {encode!r}")
        if color_order not in ("bgr", "rgb") or on_lost not in ("error", "reinit"):
            raise ValueError(f"color_order must be 'bgr' or 'rgb' and on_lost 'error' or 'reinit', "
                             f"got {color_order!r}, {on_lost!r}")
        self._lib = require(f"tritonclient.{self.protocol}", "serve", "tritonclient")
        self._client = self._lib.InferenceServerClient(address, network_timeout=timeout) if self.protocol == "http" \
            else self._lib.InferenceServerClient(address)
        self.stream_id, self.model, self.encode, self.color_order, self.on_lost = \
            stream_id, model, encode, color_order, on_lost
        self._state: tuple[float, float, float, float] | None = None
        self.last_streams = 0  # streams the answering model instance held after the last request

    @property
    def state(self) -> tuple[float, float, float, float] | None:
        """The last box (x, y, w, h) the server returned."""
        return self._state

    @property
    def initialized(self) -> bool:
        return self._state is not None

    def init(self, frame: np.ndarray, box_xywh) -> None:
        """START the stream: the server crops the template around the box and keeps its state."""
        inputs = self._frame_inputs(frame)
        box = check_box_in_frame(box_xywh, frame.shape[1], frame.shape[0])  # the frame was checked above
        self._infer(inputs + [self._box_input(box)], start=True)
        self._state = box

    def update(self, frame: np.ndarray) -> TrackResult:
        """Track into ``frame``; see the module docstring for a stream the server lost."""
        if not self.initialized:
            raise RuntimeError("update() called before init(): call init(frame, box) first")
        inputs = self._frame_inputs(frame)
        try:
            result = self._infer(inputs)
        except StreamLostError:
            if self.on_lost != "reinit":
                raise
            self._infer(inputs + [self._box_input(self._state)], start=True)
            result = self._infer(inputs)
        self._state = result.box
        return result

    def close(self) -> None:
        """Send END (the server frees the stream); the tracker then needs ``init`` again."""
        if not self.initialized:
            return
        try:
            self._infer([self._box_input(self._state)], end=True)
        except StreamLostError:
            pass  # already gone on the server: nothing to free
        finally:
            self._state = None

    def __enter__(self) -> "TritonTracker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------------------
    def _frame_inputs(self, frame: np.ndarray) -> list:
        check_frame(frame)
        bgr = _as_bgr(frame, self.color_order)
        if self.encode is None:
            tensor = self._lib.InferInput("FRAME", [1, *bgr.shape], "UINT8")
            tensor.set_data_from_numpy(bgr[None])
            return [tensor]
        ok, data = cv2.imencode(_ENCODINGS[self.encode], bgr)
        if not ok:
            raise ValueError(f"OpenCV could not encode a {bgr.shape} frame as {self.encode}")
        tensor = self._lib.InferInput("FRAME_ENCODED", [1, data.size], "UINT8")
        tensor.set_data_from_numpy(data.reshape(1, -1))
        return [tensor]

    def _box_input(self, box) -> object:
        tensor = self._lib.InferInput("INIT_BOX", [1, 4], "FP32")
        tensor.set_data_from_numpy(np.asarray([box], dtype=np.float32))
        return tensor

    def _infer(self, inputs: list, start: bool = False, end: bool = False) -> TrackResult:
        from tritonclient.utils import InferenceServerException

        try:
            answer = self._client.infer(self.model, inputs, sequence_id=self.stream_id,
                                        sequence_start=start, sequence_end=end)
        except InferenceServerException as exc:
            message = exc.message() or str(exc)
            if any(marker in message for marker in _LOST_MARKERS):
                raise StreamLostError(
                    f"stream {self.stream_id}: the server does not know this stream (it restarted, the stream "
                    f"was idle too long, or was ended); call init(frame, box) again, or create the "
                    f"TritonTracker with on_lost='reinit'. Server said: {message}"
                ) from None
            raise RuntimeError(f"stream {self.stream_id}: the server refused the frame: {message}") from None
        self.last_streams = int(answer.as_numpy("STREAMS").reshape(-1)[0])
        box = answer.as_numpy("BOX").reshape(-1)
        return TrackResult(tuple(float(v) for v in box), float(answer.as_numpy("SCORE").reshape(-1)[0]))


def pick_server(servers: list[str], stream_id: int) -> str:
    """The server that owns ``stream_id`` among ``servers`` (rendezvous hashing): every client
    picks the same one, and adding or removing a server moves only the streams it gains or
    loses. A stream's state lives in one server, so all its frames must go there."""
    if not servers:
        raise ValueError("pick_server needs at least one server")
    return max(servers, key=lambda server: hashlib.sha256(f"{server}|{stream_id}".encode()).digest())


def _split_url(url: str, protocol: str | None) -> tuple[str, str]:
    scheme, sep, address = url.partition("://")
    if not sep:
        scheme, address = "http", url
    protocol = protocol or scheme
    if protocol not in ("http", "grpc"):
        raise ValueError(f"protocol must be 'http' or 'grpc', got {protocol!r} (from {url!r})")
    return protocol, address


def _as_bgr(frame: np.ndarray, color_order: str) -> np.ndarray:
    """The frame as contiguous BGR uint8 (H, W, 3), which the server's model takes."""
    if frame.ndim == 2 or frame.shape[2] == 1:
        return cv2.cvtColor(frame.reshape(frame.shape[:2]), cv2.COLOR_GRAY2BGR)
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR if color_order == "bgr" else cv2.COLOR_RGBA2BGR)
    return np.ascontiguousarray(frame if color_order == "bgr" else frame[:, :, ::-1])
