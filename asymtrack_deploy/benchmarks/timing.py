"""Honest timing: warm-up, perf_counter_ns, device sync, percentiles, and the machine it ran on."""
from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["LatencyStats", "time_calls", "machine_info"]


@dataclass(frozen=True)
class LatencyStats:
    """Milliseconds over ``count`` timed calls."""

    count: int
    mean: float
    p50: float
    p90: float
    p99: float
    min: float

    @classmethod
    def from_ns(cls, samples_ns) -> "LatencyStats":
        ms = np.asarray(samples_ns, dtype=np.float64) / 1e6
        p50, p90, p99 = np.percentile(ms, [50, 90, 99])
        return cls(len(ms), float(ms.mean()), float(p50), float(p90), float(p99), float(ms.min()))

    def to_dict(self) -> dict:
        return asdict(self)


def time_calls(fn: Callable[[int], object], count: int, warmup: int, sync: Callable[[], None] | None = None) -> list[int]:
    """Call ``fn(i)`` ``warmup`` times untimed, then ``count`` times timed; ns per call.

    ``sync`` (e.g. torch.cuda.synchronize) runs before reading the clock, so asynchronous
    device work is inside the measured interval.
    """
    for i in range(warmup):
        fn(i)
    if sync:
        sync()
    samples = []
    for i in range(count):
        t0 = time.perf_counter_ns()
        fn(i)
        if sync:
            sync()
        samples.append(time.perf_counter_ns() - t0)
    return samples


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _governor() -> str | None:
    try:
        with open("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor") as handle:
            return handle.read().strip()
    except OSError:
        return None


def _versions() -> dict[str, str]:
    from importlib import metadata

    versions = {"python": platform.python_version()}
    for dist in ("numpy", "opencv-python-headless", "torch", "onnxruntime", "openvino", "tensorrt"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return versions


def machine_info(threads: int | None = None) -> dict:
    """Where the numbers come from: CPU, cores, threads, governor, library versions."""
    from .. import __version__

    return {
        "cpu": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "threads": threads,
        "governor": _governor(),
        "platform": platform.platform(),
        "versions": _versions(),
        "asymtrack_deploy": __version__,
        "caveats": "Figures depend on CPU frequency scaling, turbo, thermal state and other load; "
        "compare rows of one run, not runs of different machines.",
    }
