"""What the host does to a measurement: steal time, other processes' CPU, and the ISA features
that decide which precisions are fast (read from /proc on Linux; None or empty elsewhere).

Steal time is the time this virtual machine's CPUs were ready to run but the hypervisor ran
another guest: on a shared host it comes and goes, and a row measured while it is high is slow
for reasons that have nothing to do with the row. ``bench`` records it per row and warns.
"""
from __future__ import annotations

import os
import resource
from dataclasses import dataclass

__all__ = ["CpuTimes", "cpu_times", "steal_pct", "process_cpu_seconds", "isa_features", "peak_memory_mb",
           "STEAL_WARNING_PCT"]

STEAL_WARNING_PCT = 10.0  # a row with more steal than this gets a warning next to the table

# /proc/cpuinfo flags that change which precision is fast, and how bench names them.
_X86_FEATURES = {
    "avx2": "AVX2", "avx512f": "AVX-512", "avx_vnni": "AVX-VNNI", "avx512_vnni": "AVX512-VNNI",
    "avx512_bf16": "AVX512-BF16", "avx512_fp16": "AVX512-FP16", "amx_tile": "AMX",
    "amx_int8": "AMX-INT8", "amx_bf16": "AMX-BF16", "amx_fp16": "AMX-FP16",
}
_ARM_FEATURES = {"asimd": "NEON", "asimdhp": "NEON-FP16", "asimddp": "NEON-DOTPROD", "i8mm": "I8MM",
                 "bf16": "BF16", "sve": "SVE", "sve2": "SVE2", "sme": "SME"}


@dataclass(frozen=True)
class CpuTimes:
    """Clock ticks summed over all CPUs since boot: stolen, and in total (every state)."""

    steal: int
    total: int


def cpu_times(text: str | None = None) -> CpuTimes | None:
    """The aggregate ``cpu`` line of /proc/stat (``text``: its contents, for tests)."""
    if text is None:
        try:
            with open("/proc/stat") as handle:
                text = handle.readline()
        except OSError:
            return None
    fields = text.split()
    if not fields or fields[0] != "cpu" or len(fields) < 9:
        return None
    # user nice system idle iowait irq softirq steal [guest guest_nice: already in user/nice]
    ticks = [int(v) for v in fields[1:9]]
    return CpuTimes(steal=ticks[7], total=sum(ticks))


def steal_pct(before: CpuTimes | None, after: CpuTimes | None) -> float | None:
    """Stolen share of the CPU time between two readings, in percent (None: unknown)."""
    if before is None or after is None or after.total <= before.total:
        return None
    return 100.0 * (after.steal - before.steal) / (after.total - before.total)


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of process ``pid`` (all its threads) so far."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def isa_features(text: str | None = None) -> list[str]:
    """The precision-relevant ISA features of this CPU, by bench's names (``text``: the
    contents of /proc/cpuinfo, for tests)."""
    if text is None:
        try:
            with open("/proc/cpuinfo") as handle:
                text = handle.read()
        except OSError:
            return []
    flags: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags |= set(value.split())
    table = _X86_FEATURES if "avx2" in flags or "sse2" in flags else _ARM_FEATURES
    return [name for flag, name in table.items() if flag in flags]


def peak_memory_mb() -> float:
    """This process's peak resident memory. VmHWM belongs to the process image, whereas
    ru_maxrss survives exec and would report the parent's peak in a spawned worker."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
