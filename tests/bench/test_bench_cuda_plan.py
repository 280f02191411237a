"""`bench --device cuda` plans: which rows run on the GPU, which are skipped and why, and the
device facts a CUDA run records (checked on CPU: nothing here needs a GPU)."""
from __future__ import annotations

import sys

import pytest

from asymtrack_deploy.bench.plan import plan_rows
from asymtrack_deploy.bench.display import gpu_line, markdown
from asymtrack_deploy.bench.row_worker import _device_sync
from asymtrack_deploy.bench.timing import machine_info
from asymtrack_deploy.runtimes import BackendInfo
from asymtrack_deploy.tracker_spec import CropRule, StepRules

_RULES = StepRules(CropRule(128, 2.0), CropRule(256, 4.0))

onnxruntime = pytest.importorskip("onnxruntime")


def _plan(tmp_path, backends):
    def bundle_for(target, precision, batch):  # the plan only needs the bundle folder's name
        return tmp_path / f"{target}-{precision}-b{batch}"

    return plan_rows("tiny", backends, ["fp32", "fp16"], "cuda", None, None, 1, bundle_for)


def test_cuda_plan_torch_rows_and_baseline_on_cuda(tmp_path):
    plan = _plan(tmp_path, ["torch"])
    baseline, fp32, fp16 = plan.rows
    assert baseline.baseline and baseline.options["device"] == "cuda" and baseline.backend == "torch-official"
    assert [(r.label, r.precision, r.options["device"]) for r in (fp32, fp16)] == [
        ("torch (CUDA graph)", "fp32", "cuda"), ("torch (CUDA graph)", "fp16", "cuda")]


def test_cuda_plan_skips_openvino_and_a_cpu_only_onnxruntime(tmp_path, monkeypatch):
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CPUExecutionProvider"])
    plan = _plan(tmp_path, ["onnxruntime", "openvino"])
    assert len(plan.rows) == 1  # the baseline alone
    assert any(n.startswith("onnxruntime: no CUDAExecutionProvider") and "onnxruntime-gpu" in n for n in plan.skipped)
    assert any(n.startswith("openvino: ") and "not on CUDA" in n for n in plan.skipped)


def test_cuda_plan_runs_onnxruntime_on_its_cuda_provider(tmp_path, monkeypatch):
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    rows = _plan(tmp_path, ["onnxruntime"]).rows[1:]
    assert [(r.label, r.precision, r.options["providers"]) for r in rows] == [
        ("onnxruntime (CUDA)", "fp32", "cuda"), ("onnxruntime (CUDA)", "fp16", "cuda")]


def test_template_timing_syncs_only_torch_cuda_rows(monkeypatch):
    torch = pytest.importorskip("torch")
    monkeypatch.setitem(sys.modules, "torch", torch)
    assert _device_sync(BackendInfo("tiny", _RULES, extra={"device": "cuda"})) is torch.cuda.synchronize
    assert _device_sync(BackendInfo("tiny", _RULES, extra={"device": "cpu"})) is None


def test_cpu_run_records_no_gpu_and_a_gpu_line_names_the_card():
    assert machine_info(None, "cpu")["gpu"] is None
    gpu = {"name": "NVIDIA H200", "memory": "143771 MiB", "capability": "9.0", "driver": "580.159.04",
           "cuda_runtime": "13.0", "cudnn": 91300}
    assert gpu_line(gpu).startswith("NVIDIA H200 (143771 MiB, compute capability 9.0), driver 580.159.04, CUDA 13.0")
    run = {"machine": {**machine_info(None, "cpu"), "gpu": gpu},
           "settings": {"variant": "tiny", "device": "cuda", "frames": 1, "warmup": 0, "weights": "w", "sequence": "s"},
           "rows": []}
    assert markdown(run).startswith("GPU: NVIDIA H200")
