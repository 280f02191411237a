"""Which rows a benchmark run has, and the bundles they need (exported once, then cached).

The baseline row is always first: the reference model run eagerly the way the official
profiling script does (template cached, backbone and head per frame, fp32). Every other row is
a (backend, precision) pair that this machine can run; bundles are exported on demand into a
cache folder keyed by variant, target, precision, batch and weights, and reused afterwards.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from .runner import RowSpec

__all__ = ["BenchPlan", "plan_rows", "default_cache_dir", "BUNDLE_TARGETS"]

# (backend, precision) -> the export target that produces its bundle
BUNDLE_TARGETS: dict[tuple[str, str], str] = {
    ("onnxruntime", "fp32"): "onnx",
    ("onnxruntime", "fp16"): "onnxruntime",
    ("onnxruntime", "int8"): "onnxruntime",
    ("openvino", "fp32"): "openvino",
    ("openvino", "fp16"): "openvino",
    ("openvino", "int8"): "openvino",
    ("tensorrt", "fp32"): "tensorrt",
    ("tensorrt", "fp16"): "tensorrt",
    ("tensorrt", "int8"): "tensorrt",
}


def default_cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "asymtrack-deploy" / "bench"


@dataclass
class BenchPlan:
    rows: list[RowSpec]
    skipped: list[str]  # "backend precision: why"


def _weights_key(checkpoint: Path | None, seed: int) -> str:
    if checkpoint is None:
        return f"random{seed}"
    digest = hashlib.sha256(Path(checkpoint).read_bytes()).hexdigest()
    return digest[:12]


def _torch_rows(precisions, device, weights, threads, streams) -> tuple[list[RowSpec], list[str]]:
    rows, skipped = [], []
    for precision in precisions:
        if precision == "int8":
            skipped.append("torch int8: not offered (use an exported int8 bundle)")
        elif precision == "fp16" and device != "cuda":
            skipped.append("torch fp16: CUDA only")
        else:
            label = "torch (CUDA graph)" if device == "cuda" else "torch"
            opts = {**weights, "device": device, "precision": precision, "batch": streams, "threads": threads}
            rows.append(RowSpec(label, "torch", precision, opts))
    return rows, skipped


def _bundle_row(backend, precision, target, variant, weights, cache, streams, threads, export, device) -> RowSpec:
    key = f"{variant}-{target}-{precision}-b{streams}-{_weights_key(weights.get('checkpoint'), weights.get('seed', 0))}"
    folder = cache / key
    if not (folder / "manifest.json").is_file():
        export(target, folder, precision, streams)
    opts = {"bundle": str(folder)}
    if threads:
        opts["threads"] = threads
    label = backend
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


def plan_rows(
    variant: str,
    backends: list[str],
    precisions: list[str],
    device: str,
    checkpoint: Path | None,
    threads: int | None,
    streams: int,
    cache: Path,
    export,  # export(target, out_dir, precision, batch) -> None
) -> BenchPlan:
    """The baseline plus one row per runnable (backend, precision)."""
    from ..export import target_names

    weights = {"checkpoint": str(checkpoint)} if checkpoint else {"random_weights": True, "seed": 0}
    baseline = RowSpec("official PyTorch (eager)", "torch", "fp32",
                       {**weights, "device": device, "mode": "official", "batch": streams, "threads": threads}, baseline=True)
    rows, skipped = [baseline], []
    targets = set(target_names())
    for backend in backends:
        if backend == "torch":
            more, why = _torch_rows(precisions, device, weights, threads, streams)
            rows += more
            skipped += why
            continue
        why_not = _not_on_cuda(backend) if device == "cuda" else None
        if why_not:
            skipped.append(why_not)
            continue
        for precision in precisions:
            target = BUNDLE_TARGETS.get((backend, precision))
            if target not in targets:
                skipped.append(f"{backend} {precision}: no export target for it in this version")
                continue
            try:
                rows.append(_bundle_row(backend, precision, target, variant, weights, cache, streams, threads, export, device))
            except Exception as exc:  # an export that fails is a finding to show, not a crash
                skipped.append(f"{backend} {precision}: export failed: {exc}")
    return BenchPlan(rows, skipped)
