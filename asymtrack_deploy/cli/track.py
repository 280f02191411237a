"""Track one target through a video, an image folder or a camera; write one x,y,w,h line per frame."""
from __future__ import annotations

import errno
import os
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Optional

import typer

from .common import frame_source, open_backend, parse_box
from .console import err, fail, out
from .options import Variant

NO_ARGS_IS_HELP = True


def command(
    source: Annotated[str, typer.Argument(help="Video file, folder of images, or camera index (0: the first camera).")],
    init: Annotated[Optional[str], typer.Option(help="Initial box x,y,w,h in pixels on the first frame (or --select).")] = None,
    bundle: Annotated[Optional[Path], typer.Option(help="Exported bundle to run.")] = None,
    checkpoint: Annotated[Optional[Path], typer.Option(help="PyTorch checkpoint (torch backend; default: demo weights).")] = None,
    variant: Annotated[Variant, typer.Option(help="Variant of --checkpoint.")] = Variant.tiny,
    backend: Annotated[Optional[str], typer.Option(help="Backend for --bundle (default: from its target).")] = None,
    device: Annotated[str, typer.Option(help="torch device for --checkpoint.")] = "cpu",
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Boxes file (default: stdout).")] = None,
    video_out: Annotated[Optional[Path], typer.Option("--video-out", help="Write an annotated video here.")] = None,
    show: Annotated[bool, typer.Option(help="Show frames in a window (needs OpenCV with a GUI: opencv-python, not -headless); q or Esc stops.")] = False,
    select: Annotated[bool, typer.Option("--select", help="Draw the starting box on the first frame with the mouse (cv2.selectROI; needs a GUI), instead of --init.")] = False,
    max_frames: Annotated[Optional[int], typer.Option(min=1, help="Stop after this many frames.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing -o or --video-out file.")] = False,
) -> None:
    # The outputs are checked before anything is opened (not an input, not an existing file
    # without --force, writable) and written under a temporary name beside them (outputs.py),
    # renamed into place when the run made a box: a rejected run leaves an earlier file as it was.
    # Each box is flushed as it is computed, so Ctrl-C, SIGTERM (how a camera source ends without
    # --max-frames) or a frame that cannot be read or tracked (a one-line error naming it, exit 2)
    # keep every box made before.
    from ..tracker import Tracker

    if init is not None and select:
        raise typer.BadParameter("give either --init or --select, not both")
    if init is None and not select:
        fail("no starting box: give --init x,y,w,h, or --select to draw it on the first frame")
    if show or select:
        _require_gui("--show" if show else "--select")
    try:
        box = parse_box(init) if init is not None else _select_box
        _check_outputs(output, video_out, force, inputs=(_source_path(source), bundle, checkpoint))
        tracker = Tracker(open_backend(bundle, checkpoint, variant.value, backend, device))
        frames, _ = frame_source(source, limit=max_frames)
        sink = BoxSink(output)
    except (ValueError, OSError, ImportError) as exc:
        fail(str(exc))
    with sink, VideoSink(video_out, frames.fps) as video, _stop_requests() as stop:
        outcome = _run(tracker, frames, box, sink, video, show, stop)
    _report(outcome, sink, frames)


def _source_path(source: str) -> Path | None:
    """The file or folder the frames come from; None for a camera index."""
    return None if source.isdigit() and not Path(source).exists() else Path(source)


def _check_outputs(output: Path | None, video_out: Path | None, force: bool, inputs) -> None:
    """-o and --video-out: neither an input of the run nor each other, writable, and an existing
    file only with --force (ValueError saying which)."""
    from ..outputs import check_output_file, input_files

    reads = input_files(inputs)
    if output is not None:
        check_output_file(output, "the boxes", force, reads)
    if video_out is not None:
        check_output_file(video_out, "the video", force, reads + ([output] if output is not None else []))


WINDOW = "asymtrack-deploy"
GUI_INSTALL = "pip uninstall -y opencv-python-headless && pip install opencv-python"


def gui_backend() -> str:
    """OpenCV's GUI backend as its build information names it ("NONE": a headless build)."""
    import cv2

    for line in cv2.getBuildInformation().splitlines():
        key, _, value = line.strip().partition(":")
        if key == "GUI":
            return value.strip() or "NONE"
    return "NONE"


def _require_gui(option: str) -> None:
    """Exit 2 with one line when no window can open: a headless OpenCV (what to install), or no
    display to open it on. Checked before anything loads (a GUI OpenCV started without a
    display aborts the process instead of raising)."""
    import os
    import sys

    if gui_backend().upper() == "NONE":
        fail(f"{option} needs OpenCV with a GUI; this one is headless: {GUI_INSTALL}")
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        fail(f"{option} needs a display and none is set (DISPLAY, WAYLAND_DISPLAY): run it in a desktop session, "
             "or use --video-out FILE")


def _select_box(frame) -> tuple[float, float, float, float]:
    """The starting box drawn with the mouse on ``frame`` (Enter or Space accepts, c cancels)."""
    import cv2

    x, y, w, h = cv2.selectROI(f"{WINDOW}: drag the target's box, then Enter", frame, showCrosshair=True)
    cv2.destroyWindow(f"{WINDOW}: drag the target's box, then Enter")
    if w <= 0 or h <= 0:
        raise ValueError("--select: no box was drawn (drag a box on the first frame, then Enter or Space)")
    return float(x), float(y), float(w), float(h)


@dataclass
class _Outcome:
    elapsed: float = 0.0  # seconds in update() calls
    stopped_by: str | None = None  # the signal that ended the run
    error: str | None = None  # the frame that ended it: could not be read or tracked
    code: int = 2  # exit code for ``error``: 2 bad input, 1 a runtime failure


def _run(tracker, frames, box, sink, video, show, stop) -> _Outcome:
    import cv2
    from rich.progress import Progress

    outcome = _Outcome()
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("tracking", total=frames.length)
        for i, frame in _numbered(frames, outcome):
            current, score = _step(tracker, i, frame, box, outcome)
            if current is None:
                break
            if video.path or show:
                drawn = _draw(frame, current, score)
                video.write(drawn)
                if show:
                    cv2.imshow(WINDOW, drawn)
                    if cv2.waitKey(1) & 0xFF in (27, ord("q")):
                        break
            if not _written(sink, current, outcome):
                break
            progress.advance(task)
            if stop.is_set():
                outcome.stopped_by = stop.signal_name
                break
    return outcome


def _written(sink: "BoxSink", box, outcome: _Outcome) -> bool:
    """Write one box; a full disk or a closed pipe ends the run with a one-line error."""
    try:
        sink.write(box)
        return True
    except OSError as exc:
        outcome.error = f"{sink.name}: cannot write the boxes ({exc.strerror or exc})"
        return False


def _numbered(frames, outcome: _Outcome):
    """(index, frame) pairs; a frame the source cannot read ends them, recorded in ``outcome``."""
    iterator, index = iter(frames), 0
    while True:
        try:
            frame = next(iterator)
        except StopIteration:
            return
        except ValueError as exc:  # DatasetError: an image file OpenCV cannot decode, named
            outcome.error = f"frame {index}: {exc}"
            return
        yield index, frame
        index += 1


def _step(tracker, index: int, frame, box, outcome: _Outcome):
    """(box, score) of frame ``index``: init on the first (``box``, or drawn by ``box(frame)``),
    update after; (None, 0) on an error."""
    t0 = time.perf_counter()
    try:
        if index == 0:
            box = box(frame) if callable(box) else box
            tracker.init(frame, box)
            return box, 1.0
        result = tracker.update(frame)
    except ValueError as exc:  # a bad frame or box, or non-finite outputs (the weights)
        outcome.error = f"frame {index}: {exc}"
        return None, 0.0
    except RuntimeError as exc:  # the runtime itself failed
        outcome.error, outcome.code = f"frame {index}: {exc}", 1
        return None, 0.0
    outcome.elapsed += time.perf_counter() - t0
    return result.box, result.score


def _report(outcome: _Outcome, sink: "BoxSink", frames) -> None:
    count = sink.count
    if count:
        fps = (count - 1) / outcome.elapsed if outcome.elapsed > 0 and count > 1 else float("nan")
        err.print(f"{count} frames, {fps:.1f} FPS (tracking only, after the first frame)")
    if outcome.stopped_by:
        err.print(f"stopped by {outcome.stopped_by}: {count} boxes written to {sink.name}")
    if outcome.error:
        kept = f"; the {count} boxes before it are in {sink.name}" if count and not sink.failed else ""
        fail(f"{outcome.error}{kept}", outcome.code)
    if not count and not outcome.stopped_by:
        fail(f"{frames.description}: no frames could be read")


class BoxSink:
    """One ``x,y,w,h`` line per box, written with one unbuffered write each (so flushed as it
    goes): to stdout, or to ``path`` through a ``StagedFile`` (its temporary name holds the boxes
    during the run; renamed to ``path`` at the end if any box was written, removed if none)."""

    def __init__(self, path: Path | None):
        from ..outputs import StagedFile

        self.count, self.failed = 0, False
        self.name = "stdout" if path is None else str(path)
        self._staged = None if path is None else StagedFile(path)
        try:
            self._fd = None if path is None else self._staged.open_fd()
        except OSError as exc:
            raise OSError(f"{path}: cannot write the boxes there ({exc.strerror or exc})") from None

    def write(self, box) -> None:
        x, y, w, h = box
        line = f"{x:.2f},{y:.2f},{w:.2f},{h:.2f}\n"
        try:
            if self._fd is None:
                out.file.write(line)
                out.file.flush()
            elif os.write(self._fd, line.encode()) != len(line):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        except OSError:
            self.failed = True
            raise
        self.count += 1

    def __enter__(self) -> "BoxSink":
        return self

    def __exit__(self, *exc) -> None:
        if self._staged is None:
            return
        os.close(self._fd)
        if self.count:
            self._staged.commit()
        else:
            self._staged.discard()


class VideoSink:
    """The annotated frames, through a ``StagedFile`` as the boxes: opened at the first frame
    (its size), renamed into place at the end if a frame was written. ``path`` None: nothing."""

    def __init__(self, path: Path | None, fps: float | None):
        from ..outputs import StagedFile

        self.path, self.fps, self.count, self._writer = path, fps, 0, None
        self._staged = None if path is None else StagedFile(path)

    def write(self, image) -> None:
        if self._staged is None:
            return
        if self._writer is None:
            self._writer = _open_writer(self.path, self._staged.temp, image, self.fps)
        self._writer.write(image)
        self.count += 1

    def __enter__(self) -> "VideoSink":
        return self

    def __exit__(self, *exc) -> None:
        if self._writer is not None:
            self._writer.release()
        if self._staged is None:
            return
        if self.count:
            self._staged.commit()
        else:
            self._staged.discard()


class _StopRequest:
    """Set by SIGINT or SIGTERM: the frame in flight finishes, its box is written, the run ends."""

    def __init__(self):
        self.signal_name: str | None = None

    def is_set(self) -> bool:
        return self.signal_name is not None

    def handle(self, signum, _frame) -> None:
        if self.is_set():  # a second signal interrupts at once (a source that blocks)
            raise KeyboardInterrupt
        self.signal_name = signal.Signals(signum).name


@contextmanager
def _stop_requests():
    stop = _StopRequest()
    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        yield stop
        return
    previous = {sig: signal.signal(sig, stop.handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _draw(frame, box, score):
    import cv2
    import numpy as np

    image = frame if frame.ndim == 3 and frame.shape[2] == 3 else cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    image = np.ascontiguousarray(image).copy()
    x, y, w, h = (int(round(v)) for v in box)
    cv2.rectangle(image, (x, y), (x + w, y + h), (0, 0, 255), 2)
    cv2.putText(image, f"{score:.2f}", (x, max(12, y - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 255), 1)
    return image


def _open_writer(path, temp, frame, fps):
    """OpenCV's writer of ``temp`` (which keeps ``path``'s suffix: the container comes from it)."""
    import cv2

    height, width = frame.shape[:2]
    writer = cv2.VideoWriter(str(temp), cv2.VideoWriter_fourcc(*"mp4v"), fps or 25.0, (width, height))
    if not writer.isOpened():
        fail(f"{path}: cannot write a video here (try a .mp4 or .avi name)")
    return writer
