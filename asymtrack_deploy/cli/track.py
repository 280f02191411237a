"""Track one target through a video, an image folder or a camera; write one x,y,w,h line per frame."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from .common import frame_source, open_backend, parse_box
from .console import err, fail, out
from .options import Variant

NO_ARGS_IS_HELP = True


def command(
    source: Annotated[str, typer.Argument(help="Video file, folder of images, or camera index (0, 1, ...).")],
    init: Annotated[str, typer.Option(help="Initial box x,y,w,h in pixels on the first frame.")],
    bundle: Annotated[Optional[Path], typer.Option(help="Exported bundle to run.")] = None,
    checkpoint: Annotated[Optional[Path], typer.Option(help="PyTorch checkpoint (torch backend; default: demo weights).")] = None,
    variant: Annotated[Variant, typer.Option(help="Variant of --checkpoint.")] = Variant.tiny,
    backend: Annotated[Optional[str], typer.Option(help="Backend for --bundle (default: from its target).")] = None,
    device: Annotated[str, typer.Option(help="torch device for --checkpoint.")] = "cpu",
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Boxes file (default: stdout).")] = None,
    video_out: Annotated[Optional[Path], typer.Option("--video-out", help="Write an annotated video here.")] = None,
    show: Annotated[bool, typer.Option(help="Show frames in a window (needs OpenCV with a GUI).")] = False,
    max_frames: Annotated[Optional[int], typer.Option(min=1, help="Stop after this many frames.")] = None,
) -> None:
    from ..tracker import Tracker

    try:
        box = parse_box(init)
        tracker = Tracker(open_backend(bundle, checkpoint, variant.value, backend, device))
        frames, _ = frame_source(source, limit=max_frames)
    except (ValueError, OSError, ImportError) as exc:
        fail(str(exc))
    show = show and _gui_available()
    boxes, elapsed = _run(tracker, frames, box, video_out, show)
    _write_boxes(boxes, output)
    fps = (len(boxes) - 1) / elapsed if elapsed > 0 and len(boxes) > 1 else float("nan")
    err.print(f"{len(boxes)} frames, {fps:.1f} FPS (tracking only, after the first frame)")


def _gui_available() -> bool:
    import cv2

    try:
        cv2.namedWindow("asymtrack-deploy")
        return True
    except cv2.error:
        err.print("[yellow]--show: this OpenCV has no GUI support (opencv-python-headless); not showing frames[/]")
        return False


def _run(tracker, frames, box, video_out, show):
    import cv2
    from rich.progress import Progress

    writer, boxes, elapsed = None, [], 0.0
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("tracking", total=frames.length)
        for i, frame in enumerate(frames):
            if i == 0:
                tracker.init(frame, box)
                current, score = box, 1.0
            else:
                t0 = time.perf_counter()
                result = tracker.update(frame)
                elapsed += time.perf_counter() - t0
                current, score = result.box, result.score
            boxes.append(current)
            if video_out or show:
                drawn = _draw(frame, current, score)
                writer = writer or _open_writer(video_out, drawn, frames.fps)
                if writer is not None:
                    writer.write(drawn)
                if show:
                    cv2.imshow("asymtrack-deploy", drawn)
                    if cv2.waitKey(1) & 0xFF in (27, ord("q")):
                        break
            progress.advance(task)
    if writer is not None:
        writer.release()
    if not boxes:
        fail(f"{frames.description}: no frames could be read")
    return boxes, elapsed


def _draw(frame, box, score):
    import cv2
    import numpy as np

    image = frame if frame.ndim == 3 and frame.shape[2] == 3 else cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    image = np.ascontiguousarray(image).copy()
    x, y, w, h = (int(round(v)) for v in box)
    cv2.rectangle(image, (x, y), (x + w, y + h), (0, 0, 255), 2)
    cv2.putText(image, f"{score:.2f}", (x, max(12, y - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 255), 1)
    return image


def _open_writer(path, frame, fps):
    import cv2

    if path is None:
        return None
    height, width = frame.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps or 25.0, (width, height))
    if not writer.isOpened():
        fail(f"{path}: cannot write a video here (try a .mp4 or .avi name)")
    return writer


def _write_boxes(boxes, output: Path | None) -> None:
    lines = "".join(f"{x:.2f},{y:.2f},{w:.2f},{h:.2f}\n" for x, y, w, h in boxes)
    if output is None:
        out.print(lines, end="")
    else:
        output.write_text(lines)
