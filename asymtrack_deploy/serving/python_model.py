"""The Triton python-backend ``tracker`` model: requests in, a ``StreamTable`` step, responses out.

The repository's ``tracker/1/model.py`` is a few lines that import ``TritonPythonModel`` from
here, so the code that runs in the server is this package's, tested with it. Triton's sequence
batcher (``oldest`` strategy) hands ``execute`` a batch of requests from different streams,
at most one per stream, each with its control tensors: START (first frame: carries INIT_BOX),
END (last request: the stream is forgotten after it), READY and CORRID (the stream id, UINT64).
Frames of all streams in the batch go through the graphs together (``StreamTable.track``).

Tensors cross through DLPack both ways: the python backend of Triton 2.51 (r24.10) misreads
numpy 2 arrays (its pybind11 predates numpy 2's descriptor layout: ``as_numpy()`` gives zero
strides, ``pb_utils.Tensor(name, array)`` zero bytes), and it crashes decoding BYTES inputs, so
encoded frames come as UINT8. Imports numpy, OpenCV, this package's runtime side and
``triton_python_backend_utils`` (present only inside the server).
"""
from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .. import __version__, catalogue
from ..bundle import MANIFEST_NAME, load_bundle
from ..runtimes import load_backend
from .streams import MAX_STREAM_ID, StreamTable, UnknownStreamError

__all__ = ["TritonPythonModel", "Request", "parse_request", "open_table"]

@dataclass
class Request:
    """One request, decoded: the stream, its flags, its frame (BGR) and, on START, its box."""

    stream_id: int
    start: bool
    end: bool
    ready: bool
    frame: np.ndarray | None
    box: np.ndarray | None


def _control(get, name: str) -> bool:
    value = get(name)
    return value is not None and bool(value.reshape(-1)[0])


def _frame(get) -> np.ndarray | None:
    """FRAME (uint8 1 x H x W x 3) or FRAME_ENCODED (1 x N uint8: the bytes of a JPEG or PNG file),
    decoded to BGR. Encoded bytes travel as UINT8, not BYTES: the r24.10 stub crashes decoding
    BYTES inputs under numpy 2."""
    raw, encoded = get("FRAME"), get("FRAME_ENCODED")
    if raw is not None and encoded is not None:  # which one to track would be a guess
        raise ValueError("the request carries both FRAME and FRAME_ENCODED: send one of them")
    if raw is not None:
        return np.ascontiguousarray(raw[0])
    if encoded is None:
        return None
    data = np.ascontiguousarray(encoded.reshape(-1), dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise ValueError(f"FRAME_ENCODED ({data.size} bytes) is not a JPEG or PNG image OpenCV can decode")
    return image


def parse_request(get) -> Request:
    """``get(name)`` -> the named input as numpy, or None when the request lacks it."""
    corrid = get("CORRID")
    box = get("INIT_BOX")
    return Request(
        stream_id=int(corrid.reshape(-1)[0]) if corrid is not None else 0,
        start=_control(get, "START"), end=_control(get, "END"), ready=_control(get, "READY"),
        frame=_frame(get), box=None if box is None else box.reshape(-1),
    )


def open_table(model_dir: Path, parameters: dict[str, str]) -> StreamTable:
    """The bundle inside the model folder, checked against the repository's record and its own
    hashes, opened on the backend the repository was written for."""
    bundle_dir = model_dir / parameters["bundle"]
    expected = parameters.get("bundle_manifest_sha256")
    manifest = bundle_dir / MANIFEST_NAME
    if expected and manifest.is_file() and hashlib.sha256(manifest.read_bytes()).hexdigest() != expected:
        raise ValueError(f"{manifest}: differs from the one this repository was written with; re-export it")
    bundle = load_bundle(bundle_dir, verify=True)
    options = {"threads": int(parameters.get("threads") or 0) or None}
    if parameters.get("device"):  # the backend's own keyword for it (its registry entry)
        options[catalogue.backend_entry(parameters["backend"]).device_option] = parameters["device"]
    backend = load_backend(parameters["backend"], bundle=bundle, **options)
    idle = float(parameters.get("idle_seconds") or 0) or None
    return StreamTable(backend, color_order="bgr", idle_seconds=idle)


class TritonPythonModel:
    """Triton's python-backend entry points: ``initialize``, ``execute``, ``finalize``."""

    def initialize(self, args: dict) -> None:
        import triton_python_backend_utils as pb_utils

        self.pb = pb_utils
        sys.unraisablehook = _quiet_dlpack_rename(sys.unraisablehook)
        config = json.loads(args["model_config"])
        parameters = {k: v.get("string_value", "") for k, v in config.get("parameters", {}).items()}
        model_dir = Path(args["model_repository"]) / args["model_version"]
        self.table = open_table(model_dir, parameters)
        info = self.table.info
        pb_utils.Logger.log_info(
            f"asymtrack-deploy {__version__}: {args['model_instance_name']} runs AsymTrack-{info.variant} "
            f"{info.precision} batch {info.batch} on {self.table.backend.name}"
        )

    def execute(self, requests: list) -> list:
        self.table.evict_idle()
        parsed, errors = self._parse(requests)
        results = self._run(parsed, errors)
        for req in parsed.values():
            if req.end:  # Triton forgets the sequence after END, whatever the answer was
                self.table.end(req.stream_id)
        return [self._response(results.get(i), errors.get(i)) for i in range(len(requests))]

    def finalize(self) -> None:
        self.table.backend.close()

    # -- internals ---------------------------------------------------------------------------
    def _parse(self, requests: list) -> tuple[dict[int, Request], dict[int, str]]:
        parsed, errors = {}, {}
        for i, request in enumerate(requests):
            def get(name, request=request):
                return _as_numpy(self.pb.get_input_tensor_by_name(request, name))
            try:
                parsed[i] = _checked(parse_request(get))
            except ValueError as exc:
                errors[i] = str(exc)
        return parsed, errors

    def _run(self, parsed: dict[int, Request], errors: dict[int, str]) -> dict[int, tuple]:
        """START requests run the template branch, the others one batched search step; a
        request that fails alone gets its own error, the rest of the batch goes on."""
        results = {}
        starts = {i: r for i, r in parsed.items() if r.ready and r.start}
        frames = {i: r for i, r in parsed.items() if r.ready and not r.start and r.frame is not None}
        closing = {i: r for i, r in parsed.items() if r.ready and not r.start and r.frame is None}
        _each_or_alone(starts, errors, lambda group: self._start(group, results))
        known = {i: r for i, r in frames.items() if self._known(i, r, errors)}
        _each_or_alone(known, errors, lambda group: self._track(group, results))
        for i, r in closing.items():  # END without a frame: answer with the last box
            if self._known(i, r, errors):
                results[i] = (self.table.box(r.stream_id), 0.0)
        return results

    def _known(self, i: int, r: Request, errors: dict[int, str]) -> bool:
        try:
            self.table.box(r.stream_id)
        except UnknownStreamError as exc:
            errors[i] = str(exc)
            return False
        return True

    def _start(self, group: dict[int, Request], results: dict) -> None:
        self.table.start([(r.stream_id, r.frame, r.box) for r in group.values()])
        for i, r in group.items():
            results[i] = (self.table.box(r.stream_id), 1.0)

    def _track(self, group: dict[int, Request], results: dict) -> None:
        answers = self.table.track([(r.stream_id, r.frame) for r in group.values()])
        for i, answer in zip(group, answers):
            results[i] = (answer.box, answer.score)

    def _response(self, result: tuple | None, error: str | None):
        pb = self.pb
        if error is not None:
            return pb.InferenceResponse(output_tensors=[], error=pb.TritonError(error))
        box, score = result if result is not None else ((0.0, 0.0, 0.0, 0.0), 0.0)  # READY=0: nothing to do
        return pb.InferenceResponse(output_tensors=[
            pb.Tensor.from_dlpack("BOX", np.asarray([box], np.float32)),
            pb.Tensor.from_dlpack("SCORE", np.asarray([[score]], np.float32)),
            pb.Tensor.from_dlpack("STREAMS", np.asarray([[len(self.table)]], np.int32)),
        ])


def _quiet_dlpack_rename(hook):
    """The r24.10 stub renames a consumed DLPack capsule "used_dlpack" instead of the standard
    "used_dltensor", so numpy's capsule destructor reports a ValueError for every output tensor
    (harmless: the stub frees the tensor itself). Drop exactly that report, keep all others."""
    def hook_without_rename_noise(unraisable):
        message = str(unraisable.exc_value)
        if isinstance(unraisable.exc_value, ValueError) and "PyCapsule_GetPointer called with incorrect name" in message:
            return
        hook(unraisable)
    return hook_without_rename_noise


def _as_numpy(tensor) -> np.ndarray | None:
    """An input tensor as numpy, through DLPack: with numpy 2, the r24.10 stub's ``as_numpy()``
    builds arrays with zero strides (every element reads as the first)."""
    return None if tensor is None else np.from_dlpack(tensor)


def _checked(req: Request) -> Request:
    """What every request needs before it reaches the graphs."""
    if req.stream_id == 0:
        raise ValueError("no sequence id: send every frame with a sequence id (the stream) > 0")
    if req.stream_id > MAX_STREAM_ID:  # HTTP carries up to 2**64 - 1; gRPC and the README stop here
        raise ValueError(f"sequence id {req.stream_id} is above 2**63 - 1, the largest stream id")
    if req.start and (req.frame is None or req.box is None):
        raise ValueError(f"stream {req.stream_id}: the START request needs a frame and INIT_BOX (x, y, w, h)")
    if req.box is not None and req.box.size != 4:
        raise ValueError(f"stream {req.stream_id}: INIT_BOX must hold 4 numbers (x, y, w, h), got {req.box.size}")
    return req


def _each_or_alone(group: dict[int, Request], errors: dict[int, str], run) -> None:
    """Run the whole group in one call; if that fails, each request alone, so that one bad
    request (a bad box, a broken frame) fails by itself with its own message."""
    if not group:
        return
    try:
        run(group)
    except (ValueError, KeyError):
        for i, r in group.items():
            try:
                run({i: r})
            except (ValueError, KeyError) as exc:
                errors[i] = str(exc)
