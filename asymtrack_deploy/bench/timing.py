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


def _governor() -> str | None:
    try:
        with open("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor") as handle:
            return handle.read().strip()
    except OSError:
        return None


def _versions() -> dict[str, str]:
    from importlib import metadata

    versions = {"python": platform.python_version()}
    from .. import catalogue

    runtimes = [d for entry in catalogue.backends().values() for d in entry.distributions]
    for dist in dict.fromkeys(("numpy", "opencv-python-headless", *runtimes)):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return versions


def _nvidia_smi() -> dict | None:
    """Name, memory, compute capability and driver of GPU 0 as nvidia-smi reports them."""
    import subprocess

    fields = ("name", "memory.total", "compute_cap", "driver_version")
    try:
        line = subprocess.run(["nvidia-smi", f"--query-gpu={','.join(fields)}", "--format=csv,noheader"],
                              capture_output=True, text=True, timeout=20, check=True).stdout.splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return None
    name, memory, capability, driver = (part.strip() for part in line.split(","))
    return {"name": name, "memory": memory, "capability": capability, "driver": driver}


def gpu_info() -> dict | None:
    """The CUDA device the rows run on, and the CUDA and cuDNN that torch was built with; None
    without torch or CUDA. Read without creating a CUDA context in this process when nvidia-smi
    answers."""
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    info = _nvidia_smi()
    if info is None:
        props = torch.cuda.get_device_properties(0)
        info = {"name": props.name, "memory": f"{props.total_memory // 2**20} MiB",
                "capability": f"{props.major}.{props.minor}", "driver": None}
    return {**info, "cuda_runtime": torch.version.cuda, "cudnn": torch.backends.cudnn.version()}


def _runtime_facts() -> dict:
    """What each installed runtime says about the machine (``Backend.machine_facts``: OpenVINO's
    view of the CPU's native precisions, ``openvino_capabilities``)."""
    import importlib.util

    from .. import catalogue

    facts: dict = {}
    for entry in catalogue.backends().values():
        if importlib.util.find_spec(entry.library) is not None:
            facts.update(catalogue.load_object(entry.cls).machine_facts())
    return facts


def machine_info(threads: int | None = None, device: str = "cpu") -> dict:
    """Where the numbers come from: CPU, cores, threads, governor, the ISA features that decide
    which precisions are fast (and what OpenVINO makes of them), library versions, and the GPU
    for a CUDA run."""
    from .. import __version__
    from .host import cpu_model, isa_features

    return {
        "gpu": gpu_info() if device == "cuda" else None,
        "cpu": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "isa": isa_features(),
        "threads": threads,
        "governor": _governor(),
        "platform": platform.platform(),
        "versions": _versions(),
        "asymtrack_deploy": __version__,
        **_runtime_facts(),
        "caveats": "Figures depend on CPU frequency scaling, turbo, thermal state and other load; "
        "speed-ups are per-round ratios of interleaved rounds; compare rows of one run, not runs of "
        "different machines.",
    }
