"""OpenVINO int8 on ARM: refused up front with the way out (it does not compile there)."""
from __future__ import annotations

from pathlib import Path

import pytest

from asymtrack_deploy.runtimes.openvino_backend import check_int8_cpu


@pytest.mark.parametrize("machine", ["aarch64", "arm64"])
def test_int8_on_an_arm_cpu_is_refused_with_one_line_pointing_to_onnxruntime(machine):
    with pytest.raises(ValueError) as refused:
        check_int8_cpu("CPU", "int8", machine=machine)
    message = str(refused.value)
    assert "\n" not in message and "--target onnxruntime --precision int8" in message


@pytest.mark.parametrize("device, precision, machine", [
    ("CPU", "fp32", "aarch64"), ("CPU", "fp16", "aarch64"), ("CPU", "int8", "x86_64"), ("GPU", "int8", "aarch64"),
])
def test_everything_else_passes(device, precision, machine):
    check_int8_cpu(device, precision, machine=machine)


def test_loading_and_exporting_int8_on_arm_fail_before_any_work(monkeypatch, tmp_path, tmp_path_factory):
    """The exporter and the backend both ask before quantizing or compiling anything."""
    pytest.importorskip("openvino")
    import json
    import platform
    import shutil

    from asymtrack_deploy.export.openvino_target import OpenVinoConverter
    from asymtrack_deploy.runtimes.openvino_backend import OpenVinoBackend
    from tests.export.derived_bundles import shared_derived_bundle

    fp32 = shared_derived_bundle(tmp_path_factory, "openvino", "fp32")
    int8 = Path(shutil.copytree(fp32, tmp_path / "int8"))  # an int8 manifest over fp32 IR: never compiled
    manifest = json.loads((int8 / "manifest.json").read_text())
    manifest["precision"] = "int8"
    (int8 / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setattr(platform, "machine", lambda: "aarch64")
    with pytest.raises(ValueError, match="ONNX Runtime int8"):
        OpenVinoConverter().prepare("int8")
    with pytest.raises(ValueError, match="ONNX Runtime int8"):
        OpenVinoBackend(int8, verify=False)
    OpenVinoConverter().prepare("fp32")
    OpenVinoBackend(fp32, threads=1).close()  # fp32 still loads on ARM
