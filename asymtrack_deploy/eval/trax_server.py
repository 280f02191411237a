"""Serve the tracker over the TraX protocol, for the VOT toolkit (``vot-trax`` package).

The VOT toolkit starts a tracker as a process and talks TraX to it (over the process's stdin and
stdout, or a socket named by ``TRAX_SOCKET``): an ``initialize`` request with the first image
and region, then a ``frame`` request per image; the server answers each with a region. Register
it in a VOT workspace's ``trackers.ini`` (see :func:`trackers_ini`)::

    [asymtrack_tiny_ort]
    label = AsymTrack (onnxruntime)
    protocol = traxpython
    command = asymtrack_deploy.eval.trax_server
    python = /path/to/python
    env_ASYMTRACK_BUNDLE = /path/to/bundle

``traxpython`` runs ``python -m <command>`` without arguments, so the tracker is configured by
environment variables: ``ASYMTRACK_BUNDLE`` (+ optional ``ASYMTRACK_BACKEND``), or
``ASYMTRACK_CHECKPOINT`` with ``ASYMTRACK_VARIANT`` / ``ASYMTRACK_DEVICE`` for the PyTorch
reference (``ASYMTRACK_RANDOM_WEIGHTS=1`` for smoke tests). The same names work as flags
(``--bundle``...) when the module is run by hand.

stdout is the protocol channel: before the TraX handshake the server moves the channel to a
duplicate descriptor (``TRAX_OUT``) and points file descriptor 1 at stderr, so a library that
prints while loading cannot corrupt the stream.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from .. import catalogue
from ..datasets import read_frame
from .runner import TrackerSpec

__all__ = ["serve", "spec_from_env", "trackers_ini", "main"]

ENV_PREFIX = "ASYMTRACK_"


def _protect_stdout() -> None:
    """Give TraX its own copies of stdin/stdout and send fd 1 to stderr (pipe mode only)."""
    if os.environ.get("TRAX_SOCKET") or os.environ.get("TRAX_OUT"):
        return
    os.environ["TRAX_IN"] = str(os.dup(0))
    os.environ["TRAX_OUT"] = str(os.dup(1))
    sys.stdout.flush()
    os.dup2(2, 1)
    sys.stdout = sys.stderr


def _read_image(image) -> np.ndarray:
    """A TraX image (file path, raw memory or encoded buffer) as an OpenCV BGR frame."""
    import cv2
    from trax import Image

    kind = image.type() if callable(image.type) else image.type
    if kind == Image.PATH:
        return read_frame(image.path())
    if kind == Image.MEMORY:
        array = image.array()
        return cv2.cvtColor(array, cv2.COLOR_RGB2BGR) if array.shape[2] == 3 else array
    if kind == Image.BUFFER:
        frame = cv2.imdecode(np.frombuffer(image.buffer(), np.uint8), cv2.IMREAD_COLOR)
        if frame is None:
            raise ValueError("image buffer is not a JPEG or PNG OpenCV can decode")
        return frame
    raise ValueError(f"unsupported TraX image type {kind!r}")


def _region_box(region) -> tuple[float, float, float, float]:
    """x, y, w, h of a TraX rectangle, or the bounding box of a polygon."""
    from trax import Region

    if region.type == Region.RECTANGLE:
        return tuple(float(v) for v in region.bounds())
    if region.type == Region.POLYGON:
        points = np.asarray([region[i] for i in range(region.size())], dtype=np.float64)
        (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
        return float(x0), float(y0), float(x1 - x0), float(y1 - y0)
    raise ValueError(f"unsupported TraX region type {region.type!r} (expected rectangle or polygon)")


def serve(tracker, name: str = "AsymTrack", log: bool = False) -> int:
    """Answer TraX requests until the client quits; returns the number of frames tracked."""
    from trax import Image, Rectangle, Region, Server, TraxStatus

    frames = 0
    with Server([Region.RECTANGLE, Region.POLYGON], [Image.PATH, Image.MEMORY, Image.BUFFER],
                tracker_name=name, tracker_family="asymtrack", log=log) as server:
        while True:
            request = server.wait()
            if request.type == TraxStatus.QUIT:
                return frames
            frame = _read_image(request.image["color"])
            if request.type == TraxStatus.INITIALIZE:
                region = request.objects[0][0]
                box = _region_box(region)
                tracker.init(frame, box)
                server.status([(Rectangle.create(*box), {"confidence": 1.0})])
            else:
                result = tracker.update(frame)
                server.status([(Rectangle.create(*result.box), {"confidence": float(result.score)})])
            frames += 1


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m asymtrack_deploy.eval.trax_server", description=__doc__.split("\n")[0])
    env = os.environ.get
    p.add_argument("--bundle", default=env(ENV_PREFIX + "BUNDLE"))
    p.add_argument("--backend", default=env(ENV_PREFIX + "BACKEND"))
    p.add_argument("--checkpoint", default=env(ENV_PREFIX + "CHECKPOINT"))
    p.add_argument("--variant", default=env(ENV_PREFIX + "VARIANT", "tiny"))
    p.add_argument("--device", default=env(ENV_PREFIX + "DEVICE", "cpu"))
    p.add_argument("--random-weights", action="store_true", default=env(ENV_PREFIX + "RANDOM_WEIGHTS", "") == "1")
    p.add_argument("--log", action="store_true", default=env(ENV_PREFIX + "TRAX_LOG", "") == "1")
    return p


def spec_from_env(args: argparse.Namespace) -> TrackerSpec:
    """The tracker the server runs, from flags or ``ASYMTRACK_*`` variables."""
    if args.bundle:
        return TrackerSpec(Path(args.bundle).name, backend=args.backend, bundle=args.bundle)
    if not (args.checkpoint or args.random_weights):
        raise ValueError("set ASYMTRACK_BUNDLE (an exported bundle) or ASYMTRACK_CHECKPOINT (a PyTorch checkpoint)")
    options = {"variant": args.variant, "checkpoint": args.checkpoint, "device": args.device,
               "random_weights": bool(args.random_weights and not args.checkpoint)}
    reference = catalogue.reference_backend()
    return TrackerSpec(f"{reference}-{args.variant}", backend=reference, options=options)


def trackers_ini(name: str, env: dict[str, str], label: str | None = None, python: str | None = None,
                 paths: list[str] | None = None) -> str:
    """A ``trackers.ini`` section that registers this server with the VOT toolkit; ``env``
    holds the ``ASYMTRACK_*`` settings (keys without the prefix are given it)."""
    lines = [f"[{name}]", f"label = {label or name}", "protocol = traxpython",
             "command = asymtrack_deploy.eval.trax_server", f"python = {python or sys.executable}"]
    if paths:
        lines.append(f"paths = {os.pathsep.join(paths)}")
    for key, value in env.items():
        key = key if key.startswith(ENV_PREFIX) else ENV_PREFIX + key.upper()
        lines.append(f"env_{key} = {value}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    _protect_stdout()
    args = _parser().parse_args(argv)
    tracker = spec_from_env(args).build()
    frames = serve(tracker, log=args.log)
    print(f"trax server: {frames} frames tracked", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
