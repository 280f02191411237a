"""Many streams through the Triton server against the in-process tracker over the same bundle.

``python -m asymtrack_deploy.serving.load_test REPO [--streams 1 4 16] [--rounds 2] [--json F]``
starts the server on the repository (or uses ``--url``), then for each stream count N:

* server: N threads, one ``TritonTracker`` each (its own stream id), every thread tracking the
  built-in real sequence (mirrored differently per stream) ``rounds`` times;
* in-process: N ``Tracker``s over one backend of the repository's bundle, stepped round-robin
  in one thread (what one process does without a server).

Reported: aggregate tracked frames per second (all streams, wall clock over the tracking, the
first frame of each stream excluded) and the per-frame latency of ``update`` (p50, p99) as the
caller sees it: for the server, crop, graph and post-processing in the server plus the round
trip; the in-process latency of one stream's step.
"""
from __future__ import annotations

import argparse
import json
import threading
import time
from pathlib import Path

import numpy as np

from ..sources import builtin_sequence
from .repository import BUNDLE_FOLDER, TRACKER_MODEL

__all__ = ["stream_frames", "measure_server", "measure_in_process", "summarize"]

_FLIPS = (None, 1, 0, (0, 1))  # per stream: as it is, mirrored, upside down, both


def stream_frames(count: int, rounds: int = 1) -> list[tuple[list[np.ndarray], tuple]]:
    """``count`` streams over the built-in sequence, each flipped its own way, ``rounds`` times
    through (forwards then backwards, so the target moves on continuously)."""
    seq = builtin_sequence()
    base = seq.frames()
    frames = [base[i] for r in range(rounds) for i in (range(len(base)) if r % 2 == 0 else range(len(base) - 1, -1, -1))]
    height, width = base[0].shape[:2]
    streams = []
    for index in range(count):
        flip = _FLIPS[index % len(_FLIPS)]
        x, y, w, h = seq.init_box
        if flip is None:
            streams.append((frames, (x, y, w, h)))
            continue
        axes = (flip,) if isinstance(flip, int) else flip
        box = (width - x - w if 1 in axes else x, height - y - h if 0 in axes else y, w, h)
        streams.append(([np.ascontiguousarray(np.flip(f, axes)) for f in frames], box))
    return streams


def summarize(latencies_ms: list[float], seconds: float) -> dict:
    lat = np.asarray(latencies_ms)
    return {"frames": int(lat.size), "fps": lat.size / seconds, "p50_ms": float(np.percentile(lat, 50)),
            "p99_ms": float(np.percentile(lat, 99))}


def measure_server(url: str, streams, first_id: int = 1000, protocol: str | None = None) -> dict:
    """N threads, one TritonTracker each; starts together once every stream is initialised."""
    from .client import TritonTracker

    latencies: list[list[float]] = [[] for _ in streams]
    ready = threading.Barrier(len(streams) + 1)
    errors: list[BaseException] = []

    def run(index: int, frames, box) -> None:
        try:
            with TritonTracker(url, stream_id=first_id + index, protocol=protocol) as tracker:
                tracker.init(frames[0], box)
                ready.wait()
                for frame in frames[1:]:
                    t0 = time.perf_counter()
                    tracker.update(frame)
                    latencies[index].append((time.perf_counter() - t0) * 1e3)
        except BaseException as exc:  # reported after join
            errors.append(exc)
            ready.abort()

    threads = [threading.Thread(target=run, args=(i, *s)) for i, s in enumerate(streams)]
    for t in threads:
        t.start()
    ready.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return summarize([v for per in latencies for v in per], time.perf_counter() - started)


def measure_in_process(bundle: str | Path, streams) -> dict:
    """N Trackers over one backend, stepped round-robin in this thread."""
    from ..runtimes import load_bundle_backend
    from ..tracker import Tracker

    with load_bundle_backend(bundle) as backend:
        trackers = [Tracker(backend) for _ in streams]
        for tracker, (frames, box) in zip(trackers, streams):
            tracker.init(frames[0], box)
        latencies, started = [], time.perf_counter()
        for i in range(1, len(streams[0][0])):
            for tracker, (frames, _) in zip(trackers, streams):
                t0 = time.perf_counter()
                tracker.update(frames[i])
                latencies.append((time.perf_counter() - t0) * 1e3)
        return summarize(latencies, time.perf_counter() - started)


def _rows(repository: Path, url: str, counts, rounds: int, protocol: str | None) -> list[dict]:
    bundle = repository / TRACKER_MODEL / "1" / BUNDLE_FOLDER
    rows = []
    for count in counts:
        streams = stream_frames(count, rounds)
        rows.append({"streams": count, "where": "in-process", **measure_in_process(bundle, streams)})
        rows.append({"streams": count, "where": f"triton ({protocol or 'http'})",
                     **measure_server(url, streams, first_id=1000 * count, protocol=protocol)})
    return rows


def _table(rows: list[dict]) -> str:
    lines = ["| streams | where | frames | aggregate frames/s | p50 ms | p99 ms |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['streams']} | {r['where']} | {r['frames']} | {r['fps']:.1f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} |"
              for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("repository", type=Path)
    parser.add_argument("--streams", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--rounds", type=int, default=2, help="passes over the 40-frame sequence per stream")
    parser.add_argument("--url", help="a running server (default: start one on the repository)")
    parser.add_argument("--protocol", choices=["http", "grpc"], default=None)
    parser.add_argument("--instances", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    from .server import TritonServer

    server = None if args.url else TritonServer(args.repository, instances=args.instances).start()
    try:
        url = args.url or (server.grpc_url if args.protocol == "grpc" else server.http_url)
        rows = _rows(args.repository, url, args.streams, args.rounds, args.protocol)
    finally:
        if server is not None:
            server.stop()
    print(_table(rows))
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "settings": vars(args) | {"repository": str(args.repository),
                                         "json": str(args.json)}}, indent=2))


if __name__ == "__main__":  # pragma: no cover
    main()
