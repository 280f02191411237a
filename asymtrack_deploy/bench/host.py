"""What the host does to a measurement: steal time, other processes' CPU, and the ISA features
that decide which precisions are fast (read from /proc on Linux; None or empty elsewhere).

Steal time is the time this virtual machine's CPUs were ready to run but the hypervisor ran
another guest: on a shared host it comes and goes, and a row measured while it is high is slow
for reasons that have nothing to do with the row. ``bench`` records it per row and warns.
"""
from __future__ import annotations

import os
import resource
from dataclasses import dataclass, field

__all__ = ["CpuTimes", "cpu_times", "steal_pct", "process_cpu_seconds", "isa_features", "cpu_model", "peak_memory_mb",
           "STEAL_WARNING_PCT", "HostSample", "sample_host", "LoadWatch", "busy_reasons", "LOAD_WARNING_PER_CORE",
           "OTHERS_WARNING_PCT"]

STEAL_WARNING_PCT = 10.0  # a row with more steal than this gets a warning next to the table
# The host is too busy for the ratios when, before the run, the 1-minute load average was above
# this many runnable tasks per core, or when, during the rounds, processes other than the bench's
# own used more than this share of all cores. (Measured: two `while True: pass` processes beside
# a 2-core bench made the eager baseline slow most, and the speed-ups came out 10x too high.)
LOAD_WARNING_PER_CORE = 0.75
OTHERS_WARNING_PCT = 25.0

# /proc/cpuinfo flags that change which precision is fast, and how bench names them.
_X86_FEATURES = {
    "avx2": "AVX2", "avx512f": "AVX-512", "avx_vnni": "AVX-VNNI", "avx512_vnni": "AVX512-VNNI",
    "avx512_bf16": "AVX512-BF16", "avx512_fp16": "AVX512-FP16", "amx_tile": "AMX",
    "amx_int8": "AMX-INT8", "amx_bf16": "AMX-BF16", "amx_fp16": "AMX-FP16",
}
_ARM_FEATURES = {"asimd": "NEON", "asimdhp": "NEON-FP16", "asimddp": "NEON-DOTPROD", "i8mm": "I8MM",
                 "bf16": "BF16", "sve": "SVE", "sve2": "SVE2", "sme": "SME"}

# aarch64 /proc/cpuinfo has no "model name": the core is "CPU implementer" + "CPU part" (the
# MIDR fields). The cores of the boards and servers the project targets, and their families.
_ARM_IMPLEMENTERS = {0x41: "Arm", 0x4E: "NVIDIA", 0x51: "Qualcomm", 0x61: "Apple", 0xC0: "Ampere", 0x48: "HiSilicon"}
_ARM_PARTS = {
    (0x41, 0xD03): "Cortex-A53", (0x41, 0xD04): "Cortex-A35", (0x41, 0xD05): "Cortex-A55",
    (0x41, 0xD07): "Cortex-A57", (0x41, 0xD08): "Cortex-A72", (0x41, 0xD09): "Cortex-A73",
    (0x41, 0xD0A): "Cortex-A75", (0x41, 0xD0B): "Cortex-A76", (0x41, 0xD0C): "Neoverse-N1",
    (0x41, 0xD0D): "Cortex-A77", (0x41, 0xD40): "Neoverse-V1", (0x41, 0xD41): "Cortex-A78",
    (0x41, 0xD42): "Cortex-A78AE", (0x41, 0xD44): "Cortex-X1", (0x41, 0xD46): "Cortex-A510",
    (0x41, 0xD47): "Cortex-A710", (0x41, 0xD48): "Cortex-X2", (0x41, 0xD49): "Neoverse-N2",
    (0x41, 0xD4D): "Cortex-A715", (0x41, 0xD4E): "Cortex-X3", (0x41, 0xD4F): "Neoverse-V2",
    (0x41, 0xD80): "Cortex-A520", (0x41, 0xD81): "Cortex-A720", (0x41, 0xD82): "Cortex-X4",
    (0x41, 0xD84): "Neoverse-V3", (0x41, 0xD8E): "Neoverse-N3",
    (0x4E, 0x004): "Carmel", (0xC0, 0xAC3): "AmpereOne", (0x48, 0xD01): "TaiShan-v110",
}


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


def _cpuinfo(text: str | None) -> str:
    if text is not None:
        return text
    try:
        with open("/proc/cpuinfo") as handle:
            return handle.read()
    except OSError:
        return ""


def _first_values(text: str) -> dict[str, str]:
    """The first value of every key of /proc/cpuinfo (the first CPU's)."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            values.setdefault(key.strip(), value.strip())
    return values


def cpu_model(text: str | None = None) -> str:
    """The CPU by name: x86's "model name"; on ARM the core (implementer and part decoded, e.g.
    "Arm Cortex-A76 (ARMv8)"), with the raw MIDR fields when the part is not in the table;
    ``text``: the contents of /proc/cpuinfo, for tests."""
    import platform

    values = _first_values(_cpuinfo(text))
    if values.get("model name"):
        return values["model name"]
    if "CPU implementer" in values and "CPU part" in values:
        try:
            implementer, part = int(values["CPU implementer"], 16), int(values["CPU part"], 16)
        except ValueError:
            implementer = part = -1
        vendor = _ARM_IMPLEMENTERS.get(implementer, f"implementer {values['CPU implementer']}")
        core = _ARM_PARTS.get((implementer, part), f"part {values['CPU part']}")
        architecture = values.get("CPU architecture", "?")
        return f"{vendor} {core} (ARMv{architecture})"
    return platform.processor() or platform.machine()


def isa_features(text: str | None = None) -> list[str]:
    """The precision-relevant ISA features of this CPU, by bench's names (``text``: the
    contents of /proc/cpuinfo, for tests)."""
    text = _cpuinfo(text)
    flags: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags |= set(value.split())
    table = _X86_FEATURES if "avx2" in flags or "sse2" in flags else _ARM_FEATURES
    return [name for flag, name in table.items() if flag in flags]


@dataclass(frozen=True)
class HostSample:
    """One reading of the host: the 1-minute load average and the CPU seconds since boot, summed
    over every CPU: busy (any process), used by this bench's own processes, stolen, and in total."""

    load1: float
    busy_s: float
    own_s: float
    steal_s: float
    total_s: float


def sample_host(pid: int | None = None) -> HostSample:
    """The host now, ``pid`` and its descendants being the bench's own processes (psutil)."""
    import psutil

    times = psutil.cpu_times()
    busy = sum(getattr(times, name, 0.0) for name in ("user", "nice", "system", "irq", "softirq"))
    steal = getattr(times, "steal", 0.0)
    total = busy + steal + sum(getattr(times, name, 0.0) for name in ("idle", "iowait"))
    return HostSample(psutil.getloadavg()[0], busy, _tree_cpu_seconds(pid or os.getpid()), steal, total)


def _tree_cpu_seconds(pid: int) -> float:
    import psutil

    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    seconds = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.Error:  # ended between listing and reading
            continue
        seconds += times.user + times.system
    return seconds


@dataclass
class LoadWatch:
    """What else the host did while bench measured: ``before()`` when the command starts (the
    load the user's machine had), ``start()`` when the rounds begin, ``sample()`` after each
    segment, ``summary()`` at the end. ``read`` is ``sample_host`` (a fake in tests)."""

    cores: int = field(default_factory=lambda: os.cpu_count() or 1)
    read: object = None
    samples: list = field(default_factory=list)
    load_before: float | None = None

    def _read(self) -> HostSample | None:
        try:
            return (self.read or sample_host)()
        except (ImportError, OSError):  # no psutil, or a platform without these counters
            return None

    def before(self) -> None:
        reading = self._read()
        self.load_before = reading.load1 if reading else None

    def start(self) -> None:
        self.samples = []
        self.sample()

    def sample(self) -> None:
        reading = self._read()
        if reading is not None:
            self.samples.append(reading)

    def summary(self) -> dict:
        """cores, load average before and at most during the rounds, the other processes' share
        of all cores and the stolen share during the rounds (percent; None: unknown)."""
        first, last = (self.samples[0], self.samples[-1]) if self.samples else (None, None)
        span = (last.total_s - first.total_s) if first else 0.0
        others = steal = None
        if span > 0:
            others = max(0.0, 100.0 * ((last.busy_s - first.busy_s) - (last.own_s - first.own_s)) / span)
            steal = 100.0 * (last.steal_s - first.steal_s) / span
        return {"cores": self.cores, "load_before": self.load_before,
                "load_max": max((s.load1 for s in self.samples), default=None),
                "others_cpu_pct": others, "steal_pct": steal}


def busy_reasons(load: dict) -> list[str]:
    """Why the host was too busy for the ratios to mean anything, from a ``LoadWatch.summary()``
    (empty: quiet enough)."""
    reasons, cores = [], load.get("cores") or 1
    if load.get("load_before") is not None and load["load_before"] > LOAD_WARNING_PER_CORE * cores:
        reasons.append(f"load average {load['load_before']:.2f} on {cores} cores before the run")
    if load.get("others_cpu_pct") is not None and load["others_cpu_pct"] > OTHERS_WARNING_PCT:
        reasons.append(f"other processes used {load['others_cpu_pct']:.0f}% of the {cores} cores during the rounds")
    if load.get("steal_pct") is not None and load["steal_pct"] > STEAL_WARNING_PCT:
        reasons.append(f"the hypervisor stole {load['steal_pct']:.0f}% of the CPU time")
    return reasons


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
