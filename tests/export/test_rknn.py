"""The rknn target: one rk3588 fp16 bundle of the demo weights, exported once per session through
the command line with RKNN-Toolkit2 in its own virtual environment (about 30 s on 2 busy
cores); its simulator parity, files and float-input copy; ``info``; the backend's one-line error
where there is no Rockchip NPU; and the usage errors that come before any work (these need no
toolkit)."""
from __future__ import annotations

import hashlib
from dataclasses import replace

import numpy as np
import pytest
from typer.testing import CliRunner

from asymtrack_deploy.bundle import load_bundle
from asymtrack_deploy.cli.main import app
from asymtrack_deploy.parity import ParityError, compare_on_crops, parity_crops, tolerance_for
from asymtrack_deploy.runtimes import BackendUnavailable, load_backend, load_bundle_backend
from tests.export.derived_bundles import demo_checkpoint

runner = CliRunner()
INSTALL = "pip install --no-deps 'setuptools<70' rknn-toolkit2==2.5.0"


def _require_toolkit():
    from asymtrack_deploy.export.rknn_target import TOOLKIT, TOOLKIT_ENV
    from asymtrack_deploy.export.toolkit_process import toolkit_python

    if toolkit_python(TOOLKIT, TOOLKIT_ENV) is None:
        pytest.skip(f"RKNN-Toolkit2's virtual environment is not installed (README, Edge targets; or set {TOOLKIT_ENV})")


@pytest.fixture(scope="session")
def bundle(tmp_path_factory):
    """``export --target rknn --platform rk3588`` of the demo weights (fp16: the target's only precision)."""
    _require_toolkit()
    out = tmp_path_factory.getbasetemp() / "rknn_rk3588_demo"
    result = runner.invoke(app, ["export", "--target", "rknn", "--platform", "rk3588", "--out", str(out),
                                 "--checkpoint", str(demo_checkpoint())])
    assert result.exit_code == 0, result.output
    return out


def test_manifest_files_and_simulator_parity(bundle):
    m = load_bundle(bundle, verify=True).manifest
    assert (m.target, m.precision) == ("rknn", "fp16")
    assert m.runtime["target_platform"] == "rk3588" and m.runtime["rknn_toolkit2"] == "2.5.0"
    assert m.runtime["crop_input"]["dtype"] == "float32" and m.runtime["crop_input"]["layout"].startswith("NHWC")
    for graph in ("template", "search"):
        assert m.graph(graph).files == {"source_onnx": f"{graph}.onnx", "rknn_float_onnx": f"{graph}.float_input.onnx",
                                        "rknn_model": f"{graph}.rk3588.fp16.rknn"}
        assert (bundle / f"{graph}.rk3588.fp16.rknn").read_bytes()[:4] == b"RKNN"
    for name, record in m.files.items():
        assert hashlib.sha256((bundle / name).read_bytes()).hexdigest() == record.sha256, name
    assert not list(bundle.glob(".rknn_*")), "the simulator's feeds and results are left in the bundle"
    p = m.parity
    assert p["passed"] and p["pairs"] == 8 and p["box_tolerance"] == tolerance_for("fp16", "rknn").box
    assert "simulator" in p["runtime"] and "rk3588" in p["runtime"]
    # fp16 arithmetic: not the fp32 graphs' ~1e-7, well inside fp16's 1e-2 (measured 2.6e-3)
    assert 1e-5 < p["max_abs_box_diff"] <= p["box_tolerance"]
    assert 1e-4 < m.export["simulator"]["template_state_max_abs_diff_vs_onnxruntime_fp32"] < 0.5
    assert "float32" in m.export["rknn_float_onnx"]


def test_float_input_copy_computes_the_source_graphs(bundle):
    """The copy the toolkit converts takes the crop's values as float32 and gives the uint8 graph's outputs."""
    import onnx
    import onnxruntime as ort

    m = load_bundle(bundle).manifest
    crops = parity_crops(_cfg(), pairs=1)
    outputs = {}
    for role, cast in (("source_onnx", np.uint8), ("rknn_float_onnx", np.float32)):
        assert onnx.load(str(bundle / m.graph("template").files[role])).graph.input[0].type.tensor_type.elem_type == \
            (onnx.TensorProto.UINT8 if cast is np.uint8 else onnx.TensorProto.FLOAT)
        template = ort.InferenceSession(str(bundle / m.graph("template").files[role]))
        state = template.run(None, {"template": crops.templates.astype(cast)})
        search = ort.InferenceSession(str(bundle / m.graph("search").files[role]))
        names = [t.name for t in m.state]
        outputs[role] = search.run(None, {"search": crops.searches.astype(cast), **dict(zip(names, state))})
    for a, b in zip(outputs["source_onnx"], outputs["rknn_float_onnx"]):
        np.testing.assert_array_equal(a, b)


def test_info_shows_the_simulator_parity(bundle):
    result = runner.invoke(app, ["info", "--bundle", str(bundle)])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "simulator of the rk3588 NPU" in text and "crop_input.dtype │ float32" in text
    assert "only on a Rockchip NPU" in text and "asymtrack-deploy[rknn]" in text


def test_no_npu_here_is_a_one_line_error(bundle):
    from asymtrack_deploy.runtimes.rknn_backend import RknnBackend

    for load in (lambda: load_bundle_backend(bundle), lambda: RknnBackend(bundle)):
        with pytest.raises(BackendUnavailable) as caught:
            load()
        message = str(caught.value)
        assert "\n" not in message and "only on a Rockchip NPU" in message and "simulator parity" in message
    for command in (["parity", "--bundle", str(bundle)],
                    ["track", "--bundle", str(bundle), "--init", "10,10,40,40", str(bundle / "none.mp4")]):
        result = runner.invoke(app, command)
        assert result.exit_code == 2, result.output
        assert "only on a Rockchip NPU" in " ".join(result.output.split())


def test_the_parity_compares_what_the_simulator_gave(bundle):
    """The stand-in carries the simulator's outputs into the comparison: a box moved by more than
    the tolerance fails it, and crops the simulator never ran are refused, not guessed."""
    from asymtrack_deploy.export.rknn_target import SimulatedRknn, SimulatorRecord

    m = load_bundle(bundle).manifest
    crops = parity_crops(_cfg(), pairs=2)
    batches = {"templates": crops.templates[:, None], "searches": crops.searches[:, None]}
    with load_backend("torch", variant="tiny", checkpoint=demo_checkpoint()) as reference:
        boxes = np.stack([reference.search(s, reference.template(t))[0] for t, s in zip(crops.templates, crops.searches)])
        scores = np.full((2, 1), 0.5, np.float32)
        close = SimulatedRknn(SimulatorRecord(batches, [], boxes + 1e-3, scores, "test"), m)
        assert compare_on_crops(reference, close, crops, 1e-2)["max_abs_box_diff"] == pytest.approx(1e-3, abs=1e-6)
        far = SimulatedRknn(SimulatorRecord(batches, [], boxes + 0.05, scores, "test"), m)
        with pytest.raises(ParityError):
            compare_on_crops(reference, far, crops, 1e-2)
        other = replace(crops, searches=crops.searches[::-1].copy())
        with pytest.raises(ValueError, match="another template's state|only on the export-time parity crops"):
            compare_on_crops(reference, close, other, 1e-2)


def test_bad_platform_exits_2_before_any_work(tmp_path, monkeypatch):
    import asymtrack_deploy.export.pipeline as pipeline

    monkeypatch.setattr(pipeline, "prepare_model", _must_not_run)
    result = runner.invoke(app, ["export", "--target", "rknn", "--platform", "rk9999", "--out", str(tmp_path / "b"),
                                 "--random-weights"])
    assert result.exit_code == 2, result.output
    assert "rk9999" in result.output and "rk3588, rk3576, rk3568, rk3562" in result.output
    assert not (tmp_path / "b").exists()
    other = runner.invoke(app, ["export", "--target", "onnx", "--platform", "rk3588", "--out", str(tmp_path / "b"),
                                "--random-weights"])
    assert other.exit_code == 2 and "not an option of --target onnx" in other.output


def test_missing_toolkit_exits_2_with_the_install_commands(tmp_path, monkeypatch):
    import asymtrack_deploy.export.pipeline as pipeline

    monkeypatch.setattr(pipeline, "prepare_model", _must_not_run)
    monkeypatch.setenv("ASYMTRACK_TOOLKITS_HOME", str(tmp_path / "empty"))
    monkeypatch.delenv("ASYMTRACK_RKNN_PYTHON", raising=False)
    result = runner.invoke(app, ["export", "--target", "rknn", "--out", str(tmp_path / "b"), "--random-weights"])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "RKNN-Toolkit2 in its own virtual environment" in text and INSTALL in text
    assert not (tmp_path / "b").exists()


def _must_not_run(*args, **kwargs):
    raise AssertionError("the export started work before refusing its options")


def _cfg():
    from asymtrack_deploy.models import VARIANTS

    return VARIANTS["tiny"]


@pytest.mark.slow  # the baseline row alone: ~35 s on 2 busy cores
def test_bench_reports_rknn_as_skipped_without_an_npu(tmp_path):
    import importlib.util
    import json

    if importlib.util.find_spec("rknnlite") is not None:
        pytest.skip("RKNNLite is installed: this machine runs rknn rows")
    out = tmp_path / "run.json"
    result = runner.invoke(app, ["bench", "--backends", "rknn", "--precisions", "fp16", "--frames", "2", "--warmup", "0",
                                 "--rounds", "1", "--cache-dir", str(tmp_path / "cache"), "--json", str(out)])
    assert result.exit_code == 0, result.output
    run = json.loads(out.read_text())
    assert [r["backend"] for r in run["rows"] if not r.get("baseline")] == []
    assert any(n.startswith("rknn: ") and "only on a Rockchip NPU" in n for n in run["skipped"]), run["skipped"]
    assert "pip install 'asymtrack-deploy[rknn]'" in " ".join(result.output.split())  # not eaten as markup
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").rglob("*.rknn"))  # nothing exported


@pytest.fixture
def stand_in(monkeypatch):
    """``rknnlite.api`` replaced by the stand-in in tests/export/rknnlite_stand_in (see there)."""
    import sys
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).parent / "rknnlite_stand_in"))
    for name in ("rknnlite", "rknnlite.api"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    from rknnlite.api import RKNNLite

    RKNNLite.calls.clear()
    return RKNNLite


def test_board_backend_code_over_a_stand_in_rknnlite(bundle, stand_in):
    """The board path's own code, with RKNNLite replaced by a stand-in over the float-input ONNX
    (the real RKNNLite and the NPU never ran here): crops fed as float32 with their values in
    the manifest's data format, the state passed on, boxes as ONNX Runtime gives them, the
    backend's promises on bad crops, foreign states and closing."""
    import onnxruntime as ort

    from asymtrack_deploy.runtimes.rknn_backend import RknnBackend
    from tests.runtimes.backend_contract import (assert_bad_crops_and_states_are_refused, assert_closed_backend_says_so,
                                                 assert_state_of_another_instance_is_refused)

    crops = parity_crops(_cfg(), pairs=2)
    pairs = {"template": crops.templates, "search": crops.searches}
    m = load_bundle(bundle).manifest
    template = ort.InferenceSession(str(bundle / "template.onnx"))
    search = ort.InferenceSession(str(bundle / "search.onnx"))
    with load_backend("rknn", bundle=bundle) as backend:
        assert isinstance(backend, RknnBackend) and backend.info.extra["platform"] == "rk3588"
        for t, s in zip(crops.templates, crops.searches):
            state = template.run(None, {"template": t[None]})
            want = search.run(None, {"search": s[None], **dict(zip([x.name for x in m.state], state))})
            box, score = backend.search(s[None], backend.template(t[None]))
            np.testing.assert_allclose(box, want[0], atol=1e-6)
            np.testing.assert_allclose(score, want[1], atol=1e-6)
        graph, inputs, data_format = stand_in.calls[-1]
        assert graph == "search" and data_format == "nchw"
        assert inputs[0] == ("float32", (1, 256, 256, 3)) and len(inputs) == 1 + len(m.state)
        assert_bad_crops_and_states_are_refused(backend, pairs)
        assert_state_of_another_instance_is_refused(RknnBackend, bundle, backend, pairs)
    assert_closed_backend_says_so(RknnBackend, bundle, pairs)
    with pytest.raises(ValueError, match="only rk3588 has several NPU cores|core_mask must be one of"):
        RknnBackend(bundle, core_mask="7")
