"""Which rows a benchmark run has, and the bundles they need.

The baseline row is always first: the reference model run eagerly the way the official
profiling script does (template cached, backbone and head per frame, fp32). Every other row is
a (backend, precision) pair that this machine can run; the bundle of a bundle row comes from
``bundle_for(target, precision, batch)`` (in the command line: ``export.cached_bundle``, which
exports on first use and reuses afterwards), the target from ``catalogue.bench_target``.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .. import catalogue
from .c_library import C_ROW_BACKEND
from .rows import RowSpec

__all__ = ["BenchPlan", "plan_rows"]

BundleFor = Callable[[str, str, int], Path]  # (target, precision, batch) -> bundle folder


@dataclass
class BenchPlan:
    rows: list[RowSpec]
    skipped: list[str]  # "backend precision: why"


def _torch_rows(precisions, device, weights, threads, streams) -> tuple[list[RowSpec], list[str]]:
    rows, skipped = [], []
    for precision in precisions:
        if precision in ("int8", "bf16"):
            skipped.append(f"torch {precision}: not offered (use an exported {precision} bundle)")
        elif precision == "fp16" and device != "cuda":
            skipped.append("torch fp16: CUDA only")
        else:
            label = "torch (CUDA graph)" if device == "cuda" else "torch"
            opts = {**weights, "device": device, "precision": precision, "batch": streams, "threads": threads}
            rows.append(RowSpec(label, "torch", precision, opts))
    return rows, skipped


def _bundle_rows(backend: str, precisions, streams, threads, bundle_for: BundleFor,
                 device: str = "cpu") -> tuple[list[RowSpec], list[str]]:
    why_not = _not_on_cuda(backend) if device == "cuda" else None
    if why_not:
        return [], [why_not]
    rows, skipped = [], []
    for precision in precisions:
        target = catalogue.bench_target(backend, precision)
        if target is None:
            skipped.append(f"{backend} {precision}: no export target for it in this version")
            continue
        try:
            folder = bundle_for(target, precision, streams)
        except Exception as exc:  # an export that fails is a finding to show, not a crash
            skipped.append(f"{backend} {precision}: export failed: {exc}")
            continue
        rows.append(_bundle_row(backend, precision, folder, threads, device))
    return rows, skipped


def _bundle_row(backend: str, precision: str, folder: Path, threads, device: str) -> RowSpec:
    opts, label = {"bundle": str(folder), **({"threads": threads} if threads else {})}, backend
    if device == "cuda" and backend == "onnxruntime":
        opts["providers"], label = "cuda", "onnxruntime (CUDA)"
    return RowSpec(label, backend, precision, opts, bundle=str(folder))


def _not_on_cuda(backend: str) -> str | None:
    """Why a bundle backend has no CUDA rows here (None: it has)."""
    if backend == "openvino":
        return "openvino: runs on Intel CPUs, GPUs and NPUs, not on CUDA devices"
    if backend == "onnxruntime":
        import onnxruntime

        providers = onnxruntime.get_available_providers()
        if "CUDAExecutionProvider" not in providers:
            return (f"onnxruntime: no CUDAExecutionProvider in onnxruntime {onnxruntime.__version__} "
                    f"(providers: {', '.join(providers)}; install onnxruntime-gpu built for this CUDA)")
    return None


C_ROW_PRECISIONS = ("fp32", "int8")  # the verified default and the fast path


def _c_rows(rows: list[RowSpec], library: Path | None, streams: int, threads) -> tuple[list[RowSpec], list[str]]:
    """The C tracker over the OpenVINO bundles of ``C_ROW_PRECISIONS`` already planned."""
    openvino = [r for r in rows if r.backend == "openvino" and r.precision in C_ROW_PRECISIONS]
    if not openvino:
        return [], []
    if library is None:
        return [], ["C library: not built (see runtime-c/README.md), or give bench --c-library PATH"]
    if streams != 1:
        return [], ["C library: tracks one target per tracker (--streams 1 only)"]
    return [RowSpec("C library (openvino)", C_ROW_BACKEND, r.precision,
                    {"bundle": r.bundle, "library": str(library), "threads": threads}, bundle=r.bundle)
            for r in openvino], []


def plan_rows(
    variant: str,
    backends: list[str],
    precisions: list[str],
    device: str,
    checkpoint: Path | None,
    threads: int | None,
    streams: int,
    bundle_for: BundleFor,
    c_library: Path | None = None,
) -> BenchPlan:
    """The baseline plus one row per runnable (backend, precision), and the C tracker's rows
    over the OpenVINO bundles when ``c_library`` (``libasymtrack.so``) is given."""
    weights = {"variant": variant, **({"checkpoint": str(checkpoint)} if checkpoint else {"random_weights": True, "seed": 0})}
    baseline = RowSpec("official PyTorch (eager)", "torch-official", "fp32",
                       {**weights, "device": device, "batch": streams, "threads": threads}, baseline=True)
    rows, skipped = [baseline], []
    for backend in backends:
        if backend == "torch":
            more, why = _torch_rows(precisions, device, weights, threads, streams)
        else:
            more, why = _bundle_rows(backend, precisions, streams, threads, bundle_for, device)
        rows += more
        skipped += why
    if device == "cpu":
        more, why = _c_rows(rows, c_library, streams, threads)
        rows += more
        skipped += why
    return BenchPlan(rows, skipped)
