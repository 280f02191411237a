#!/usr/bin/env python3
"""Where a tracker step's time goes on the GPU (CPU in gpu.sh's dry run): tiny, demo weights.

    python benchmarks/gpu_profile.py --device cuda --streams 32 --json profile.json

For fp32 and fp16 (CUDA only), with 1 and N targets: the search step as the tracker calls it
(crop copied in, graph replayed, boxes read out: median of timed calls), and, from
torch.profiler over the same step run eagerly, how many kernels (and copies) one step launches
and their summed device time; a captured graph replays the same kernels without the launch gaps.
Also the host time to cut and convert one search crop, which the tracker pays per target.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def _median_ms(fn, count: int, warmup: int) -> float:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(count):
        t0 = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - t0)
    return float(np.median(samples)) / 1e6


def _crops(frames, box, info, batch: int):
    from asymtrack_deploy.crop import crop_square, to_rgb

    z = to_rgb(crop_square(frames[0], box, info.rules.template.factor, info.rules.template.size)[0], "bgr")
    x = to_rgb(crop_square(frames[1], box, info.rules.search.factor, info.rules.search.size)[0], "bgr")
    return np.repeat(z[None], batch, axis=0), np.repeat(x[None], batch, axis=0)


def _kernels(backend, search, state, steps: int) -> tuple[float, float | None]:
    """(device events per step, their device time per step in ms or None on CPU) over eager steps."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    cuda = torch.cuda.is_available()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities) as prof:
        for _ in range(steps):
            backend.search(search, state)
    events = prof.key_averages()
    if not cuda:  # no device: count the operators the step dispatches instead
        return sum(e.count for e in events if e.key.startswith("aten::")) / steps, None
    device = [e for e in events if e.device_type == torch.autograd.DeviceType.CUDA]
    total_us = sum(getattr(e, "self_device_time_total", getattr(e, "self_cuda_time_total", 0)) for e in device)
    return sum(e.count for e in device) / steps, total_us / 1000.0 / steps


def profile_row(device: str, precision: str, batch: int, frames, box, steps: int) -> dict:
    from asymtrack_deploy.runtimes.torch_backend import TorchBackend

    graph = TorchBackend(device=device, precision=precision, batch=batch)
    template, search = _crops(frames, box, graph.info, batch)
    state = graph.template(template)
    step_ms = _median_ms(lambda: graph.search(search, state), steps, min(10, steps))
    eager = TorchBackend(device=device, precision=precision, batch=batch, cuda_graph=False)
    eager_state = eager.template(template)
    eager_ms = _median_ms(lambda: eager.search(search, eager_state), steps, min(5, steps))
    kernels, device_ms = _kernels(eager, search, eager_state, max(3, steps // 10))
    return {"precision": precision, "batch": batch, "graph": graph.use_cuda_graph, "step_ms_p50": step_ms,
            "eager_step_ms_p50": eager_ms, "kernels_per_step": kernels, "device_ms_per_step": device_ms}


def crop_ms(frames, box, info, count: int) -> float:
    from asymtrack_deploy.crop import crop_square, to_rgb

    picks = [frames[1 + i % (len(frames) - 1)] for i in range(count)]
    it = iter(picks)
    return _median_ms(lambda: to_rgb(crop_square(next(it), box, info.rules.search.factor, info.rules.search.size)[0], "bgr"), count - 5, 5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cuda")
    parser.add_argument("--streams", type=int, default=32)
    parser.add_argument("--steps", type=int, default=None, help="timed calls per row (default 200 on CUDA, 5 on CPU)")
    parser.add_argument("--json", type=Path, required=True)
    args = parser.parse_args()
    from asymtrack_deploy.runtimes.torch_backend import TorchBackend
    from asymtrack_deploy.sources import builtin_sequence, open_source

    sequence = builtin_sequence()
    frames, box = list(open_source(sequence.folder)), sequence.init_box
    steps = args.steps or (200 if args.device == "cuda" else 5)
    precisions = ("fp32", "fp16") if args.device == "cuda" else ("fp32",)
    rows = [profile_row(args.device, p, b, frames, box, steps) for p in precisions for b in (1, args.streams)]
    info = TorchBackend(device="cpu").info
    result = {"device": args.device, "steps": steps, "crop_ms_per_target": crop_ms(frames, box, info, 200), "rows": rows}
    args.json.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
