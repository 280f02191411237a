"""OpenVINO int8 on ARM: the ReduceSum rewrite that lets the CPU plugin compile it there, and
the refusal of int8 bundles exported without it."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from asymtrack_deploy.runtimes.openvino_backend import ARM_REDUCE_RECORD, check_int8_cpu

OLD_INT8 = SimpleNamespace(precision="int8", export={"quantizer": {}})
NEW_INT8 = SimpleNamespace(precision="int8", export={"quantizer": {}, ARM_REDUCE_RECORD: {"search": 6}})


@pytest.mark.parametrize("machine", ["aarch64", "arm64"])
def test_int8_without_the_rewrite_is_refused_on_arm_in_one_line(machine):
    with pytest.raises(ValueError) as refused:
        check_int8_cpu("CPU", OLD_INT8, machine=machine)
    message = str(refused.value)
    assert "\n" not in message and "--target onnxruntime --precision int8" in message and "--force" in message


@pytest.mark.parametrize("device, manifest, machine", [
    ("CPU", NEW_INT8, "aarch64"), ("CPU", SimpleNamespace(precision="fp32", export={}), "aarch64"),
    ("CPU", OLD_INT8, "x86_64"), ("GPU", OLD_INT8, "aarch64"),
])
def test_everything_else_loads(device, manifest, machine):
    """Each case differs from a refused one (OLD_INT8, CPU, aarch64) in one field only, and that
    field is what lets it through."""
    assert check_int8_cpu(device, manifest, machine=machine) is None
    with pytest.raises(ValueError, match="does not compile on ARM CPUs"):
        check_int8_cpu("CPU", OLD_INT8, machine="aarch64")


@pytest.mark.parametrize("axes, keep_dims", [([2, 3], False), ([2, 3], True), ([-2, -1], False), ([1, 2, 3], False)])
def test_trailing_reduce_sums_become_one_axis_with_the_same_result(axes, keep_dims):
    ov = pytest.importorskip("openvino")
    from openvino import opset13 as ops

    from asymtrack_deploy.export.openvino_target import flatten_trailing_reduce_sums

    def model():
        x = ops.parameter([1, 8, 5, 7], np.float32, name="x")
        kept = ops.reduce_sum(x, ops.constant(np.array([1], np.int64)), keep_dims=True)  # one axis: left alone
        summed = ops.reduce_sum(x, ops.constant(np.array(axes, np.int64)), keep_dims=keep_dims)
        return ov.Model([summed, kept], [x])

    data = np.random.default_rng(0).standard_normal((1, 8, 5, 7)).astype(np.float32)
    want = [ov.compile_model(model(), "CPU")(data)[i] for i in range(2)]
    rewritten = model()
    assert flatten_trailing_reduce_sums(ov, rewritten) == 1
    multi_axis = [n for n in rewritten.get_ordered_ops() if n.get_type_name() == "ReduceSum"
                  and n.input_value(1).get_node().get_data().size > 1]
    assert not multi_axis
    got = ov.compile_model(rewritten, "CPU")(data)
    for i in range(2):
        assert got[i].shape == want[i].shape
        np.testing.assert_allclose(got[i], want[i], rtol=1e-5, atol=1e-5)


def test_loading_an_int8_bundle_without_the_rewrite_on_arm_fails_before_compiling(monkeypatch, tmp_path, tmp_path_factory):
    pytest.importorskip("openvino")
    import platform

    from asymtrack_deploy.runtimes.openvino_backend import OpenVinoBackend
    from tests.export.derived_bundles import shared_derived_bundle

    fp32 = shared_derived_bundle(tmp_path_factory, "openvino", "fp32")
    int8 = Path(shutil.copytree(fp32, tmp_path / "int8"))  # an old int8 manifest over fp32 IR: never compiled
    manifest = json.loads((int8 / "manifest.json").read_text())
    manifest["precision"] = "int8"
    (int8 / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setattr(platform, "machine", lambda: "aarch64")
    with pytest.raises(ValueError, match="ONNX Runtime int8"):
        OpenVinoBackend(int8, verify=False)
    OpenVinoBackend(fp32, threads=1).close()  # fp32 loads on ARM
