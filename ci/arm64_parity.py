"""The two halves of ci/arm64-parity.sh: ``record`` on x86, ``check`` on aarch64 (under qemu).

``record WORK``: exports (or reuses from the bench cache) the tiny bundles with the demo weights,
copies them to WORK/bundles, and stores what x86 computes: the frames as decoded here (so both
sides track the same pixels: the JPEG decoder is not under test), the crops the tracker hands to
the graphs, the graphs' outputs on those crops, the Python tracker's boxes, and the C tracker's
boxes teacher-forced on the same states (OpenVINO bundles, when a C library is given).

``check WORK``: on aarch64, per bundle (two at a time, one process each: ``--jobs``), (1) the tracker's crops must be the stored bytes, (2) the
graphs on the stored crops must give x86's outputs within the precision's export tolerance
(``parity.tolerances``, normalised box units), (3) the Python tracker teacher-forced on x86's
states must give x86's boxes (fp32: within 0.01 px; other precisions: the precision's
teacher-forced IoU), (4) likewise the C tracker. One line per bundle, a summary; exit 1 on a miss.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

# (name, target, precision): what the parity covers. OpenVINO int8 compiles on aarch64 only with
# the exporter's ReduceSum rewrite (runtimes.openvino_backend.check_int8_cpu).
BUNDLES = (
    ("onnxruntime-fp32", "onnxruntime", "fp32"),
    ("onnxruntime-fp16", "onnxruntime", "fp16"),
    ("onnxruntime-int8", "onnxruntime", "int8"),
    ("openvino-fp32", "openvino", "fp32"),
    ("openvino-fp16", "openvino", "fp16"),
    ("openvino-int8", "openvino", "int8"),
)
FP32_MAX_PX = 0.01


class Recorder:
    """Wraps a backend's template and search calls to keep the crops they get and what they return."""

    def __init__(self, backend):
        self.backend, self.template_crops, self.search_crops, self.outputs = backend, [], [], []
        template, search = backend.template, backend.search

        def recording_template(crops):
            self.template_crops.append(np.array(crops))
            return template(crops)

        def recording_search(crops, state):
            pred, score = search(crops, state)
            self.search_crops.append(np.array(crops))
            self.outputs.append(np.concatenate([np.asarray(pred, np.float64).ravel(), np.asarray(score, np.float64).ravel()]))
            return pred, score

        backend.template, backend.search = recording_template, recording_search


def load_backend_for(bundle: Path):
    from asymtrack_deploy.runtimes import load_bundle_backend

    return load_bundle_backend(bundle, threads=1)


def teacher_forced(tracker, frames, init_box, states):
    """Boxes and scores of ``tracker`` on frames[1:], each update starting from states[i]."""
    tracker.init(frames[0], init_box)
    boxes, scores = [], []
    for frame, state in zip(frames[1:], states):
        tracker.state = tuple(float(v) for v in state)
        result = tracker.update(frame)
        boxes.append(result.box)
        scores.append(result.score)
    return np.asarray(boxes, np.float64), np.asarray(scores, np.float64)


class CTrackerAdapter:
    """CTracker under the Tracker's names (init, update -> .box/.score, settable state)."""

    def __init__(self, ctracker):
        self.ctracker = ctracker

    def init(self, frame, box):
        self.ctracker.init(frame, box)

    @property
    def state(self):
        return self.ctracker.get_state()

    @state.setter
    def state(self, box):
        self.ctracker.set_state(box)

    def update(self, frame):
        box, score = self.ctracker.update(frame)
        return argparse.Namespace(box=box, score=score)


def record(work: Path, frame_count: int, c_library: Path | None, bundles) -> None:
    from asymtrack_deploy.demo_weights import DEMO_CHECKPOINT
    from asymtrack_deploy.export.bench_bundles import cached_bundle
    from asymtrack_deploy.sources import builtin_sequence
    from asymtrack_deploy.tracker import Tracker

    sequence = builtin_sequence()
    frames = np.stack([sequence.frame(i) for i in range(frame_count + 1)])
    init_box = np.asarray(sequence.boxes[0], np.float64)
    (work / "bundles").mkdir(parents=True, exist_ok=True)
    np.savez(work / "frames.npz", frames=frames, init_box=init_box)
    for name, target, precision in bundles:
        started = time.perf_counter()
        source = cached_bundle(target, precision, 1, variant="tiny", checkpoint=DEMO_CHECKPOINT)
        bundle = work / "bundles" / name
        shutil.rmtree(bundle, ignore_errors=True)
        shutil.copytree(source, bundle)
        backend = load_backend_for(bundle)
        recorder = Recorder(backend)
        tracker = Tracker(backend)
        tracker.init(frames[0], init_box)
        states, boxes, scores = [], [], []
        for frame in frames[1:]:
            states.append(tracker.state)
            result = tracker.update(frame)
            boxes.append(result.box)
            scores.append(result.score)
        record = {"states": np.asarray(states, np.float64), "boxes": np.asarray(boxes, np.float64),
                  "scores": np.asarray(scores, np.float64), "template_crop": recorder.template_crops[0],
                  "search_crops": np.concatenate(recorder.search_crops), "outputs": np.stack(recorder.outputs)}
        backend.close()
        if c_library is not None and target == "openvino":
            from asymtrack_deploy.c_tracker import CTracker

            with CTracker(bundle, c_library, threads=1) as ctracker:
                record["c_boxes"], record["c_scores"] = teacher_forced(CTrackerAdapter(ctracker), frames, init_box,
                                                                       record["states"])
        np.savez(work / f"{name}.npz", **record)
        print(f"recorded {name}: {frame_count} frames in {time.perf_counter() - started:.1f} s", flush=True)
    (work / "recorded.json").write_text(json.dumps({"bundles": [b[0] for b in bundles], "frames": frame_count}))


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    from asymtrack_deploy.boxes import box_iou as one

    return np.asarray([one(x, y) for x, y in zip(a, b)])


def verdict(precision: str, got: np.ndarray, want: np.ndarray) -> tuple[bool, str]:
    """Boxes of aarch64 against x86's: fp32 within 0.01 px, others the precision's min IoU."""
    from asymtrack_deploy.parity.tolerances import tolerance_for

    px = float(np.max(np.abs(got - want))) if len(got) else 0.0
    iou = float(np.min(box_iou(got, want))) if len(got) else 1.0
    ok = px <= FP32_MAX_PX if precision == "fp32" else iou >= tolerance_for(precision).min_iou
    return ok, f"{px:.5f} px, IoU {iou:.4f}"


def check_bundle(work: Path, name: str, precision: str, frames, init_box, c_library: Path | None) -> tuple[bool, str]:
    from asymtrack_deploy.parity.tolerances import tolerance_for
    from asymtrack_deploy.tracker import Tracker

    want = np.load(work / f"{name}.npz")
    bundle = work / "bundles" / name
    parts, ok = [], True
    backend = load_backend_for(bundle)
    # the Python tracker, teacher-forced, and the crops it hands to the graphs
    recorder = Recorder(backend)
    boxes, _ = teacher_forced(Tracker(backend), frames, init_box, want["states"])
    crops_differ = int(np.count_nonzero(recorder.template_crops[0] != want["template_crop"]))
    crops_differ += int(np.count_nonzero(np.concatenate(recorder.search_crops) != want["search_crops"]))
    ok &= crops_differ == 0
    parts.append(f"crops {'identical' if crops_differ == 0 else f'MISS: {crops_differ} bytes differ'}")
    # the graphs on x86's crops: the tracker's own calls when its crops are x86's, else again
    if crops_differ == 0:
        outputs = np.stack(recorder.outputs)
    else:
        state = backend.template(want["template_crop"])
        outputs = np.stack([np.concatenate([np.asarray(v, np.float64).ravel() for v in backend.search(crop[None], state)])
                            for crop in want["search_crops"]])
    graph_diff = float(np.max(np.abs(outputs[:, :4] - want["outputs"][:, :4])))
    graph_ok = graph_diff <= tolerance_for(precision).box
    ok &= graph_ok
    parts.append(f"graph {graph_diff:.1e} (<= {tolerance_for(precision).box:g}) {'ok' if graph_ok else 'MISS'}")
    tracker_ok, figures = verdict(precision, boxes, want["boxes"])
    ok &= tracker_ok
    parts.append(f"Python tracker {figures} {'ok' if tracker_ok else 'MISS'}")
    backend.close()
    if "c_boxes" in want.files:
        if c_library is None:
            ok = False
            parts.append("C tracker MISS: no aarch64 C library given")
        else:
            from asymtrack_deploy.c_tracker import CTracker

            with CTracker(bundle, c_library, threads=1) as ctracker:
                c_boxes, _ = teacher_forced(CTrackerAdapter(ctracker), frames, init_box, want["states"])
            c_ok, figures = verdict(precision, c_boxes, want["c_boxes"])
            ok &= c_ok
            parts.append(f"C tracker {figures} {'ok' if c_ok else 'MISS'}")
    return ok, "; ".join(parts)


def check_one(work: Path, name: str, c_library: Path | None) -> tuple[bool, str]:
    """One bundle's verdict line ("PASS name: ..."); a crash is a miss of this bundle only."""
    data = np.load(work / "frames.npz")
    precision = dict((b[0], b[2]) for b in BUNDLES)[name]
    started = time.perf_counter()
    try:
        ok, line = check_bundle(work, name, precision, data["frames"], data["init_box"], c_library)
    except Exception as error:
        ok, line = False, f"MISS: {type(error).__name__}: {error}"
    return ok, f"{'PASS' if ok else 'FAIL'} {name}: {line} ({time.perf_counter() - started:.0f} s)"


def _check_in_child(work: Path, name: str, c_library: Path | None) -> tuple[bool, str]:
    """``check_one`` in a process of its own: emulated processes run on separate host cores."""
    import subprocess

    command = [sys.executable, __file__, "check-one", str(work), "--bundles", name]
    command += ["--c-library", str(c_library)] if c_library else []
    done = subprocess.run(command, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith(("PASS ", "FAIL "))]
    if lines:
        return done.returncode == 0, lines[-1]
    return False, f"FAIL {name}: MISS: the check exited {done.returncode}: {done.stderr.strip()[-400:]}"


def check(work: Path, c_library: Path | None, jobs: int) -> int:
    """Every recorded bundle, ``jobs`` at a time (the slowest, OpenVINO's with the C tracker, first)."""
    import platform
    from concurrent.futures import ThreadPoolExecutor, as_completed

    meta = json.loads((work / "recorded.json").read_text())
    print(f"aarch64 parity on {platform.machine()}, {meta['frames']} frames, bundles exported on x86, "
          f"{jobs} at a time", flush=True)
    selected = sorted((b for b in BUNDLES if b[0] in meta["bundles"]), key=lambda b: b[1] != "openvino")
    misses = 0
    with ThreadPoolExecutor(max(1, jobs)) as pool:
        for future in as_completed([pool.submit(_check_in_child, work, b[0], c_library) for b in selected]):
            ok, line = future.result()
            misses += not ok
            print(line, flush=True)
    print(f"summary: {len(selected) - misses} of {len(selected)} passed", flush=True)
    return 1 if misses else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("step", choices=["record", "check", "check-one"])
    parser.add_argument("work", type=Path)
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--c-library", type=Path)
    parser.add_argument("--bundles", default=",".join(b[0] for b in BUNDLES),
                        help="comma-separated names (record; check takes what was recorded; check-one: one name)")
    parser.add_argument("--jobs", type=int, default=2, help="check: bundles checked at once (one process each)")
    args = parser.parse_args()
    if args.step == "record":
        wanted = args.bundles.split(",")
        unknown = sorted(set(wanted) - {b[0] for b in BUNDLES})
        if unknown:
            parser.error(f"unknown bundles {', '.join(unknown)}: expected some of {', '.join(b[0] for b in BUNDLES)}")
        record(args.work, args.frames, args.c_library, [b for b in BUNDLES if b[0] in wanted])
        return 0
    if args.step == "check-one":
        ok, line = check_one(args.work, args.bundles, args.c_library)
        print(line, flush=True)
        return 0 if ok else 1
    return check(args.work, args.c_library, args.jobs)


if __name__ == "__main__":
    sys.exit(main())
