"""The ONNX Runtime backend on a real exported bundle (tiny variant, CPU provider)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from asymtrack_deploy.runtimes import load_backend
from asymtrack_deploy.runtimes.onnxruntime_backend import OnnxRuntimeBackend, OrtTemplateState, resolve_providers
from tests.conftest import reference_file
from tests.runtimes import backend_contract as contract
from tests.export.conftest import shared_bundle

BOX_TOL = 1e-4


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    return shared_bundle(tmp_path_factory, batch=1)


@pytest.fixture(scope="module")
def bundle_b2(tmp_path_factory) -> Path:
    return shared_bundle(tmp_path_factory, batch=2)


@pytest.fixture(scope="module")
def backend(bundle):
    with OnnxRuntimeBackend(bundle, threads=1) as b:
        yield b


@pytest.fixture(scope="module")
def pairs():
    return np.load(reference_file("pairs_tiny.npz"))


def test_reproduces_the_official_boxes(backend, pairs):
    for k in range(len(pairs["template"])):
        state = backend.template(pairs["template"][k : k + 1])
        boxes, scores = backend.search(pairs["search"][k : k + 1], state)
        assert boxes.shape == (1, 4) and boxes.dtype == np.float32 and scores.shape == (1,)
        np.testing.assert_allclose(boxes[0], pairs["pred_boxes"][k], rtol=0, atol=BOX_TOL)
        assert 0.0 <= scores[0] <= 1.0


def test_batch_two_bundle_reproduces_the_official_boxes(bundle_b2, pairs):
    with OnnxRuntimeBackend(bundle_b2) as b:
        assert b.info.batch == 2
        for k in range(0, len(pairs["template"]) - 1, 2):
            boxes, scores = b.search(pairs["search"][k : k + 2], b.template(pairs["template"][k : k + 2]))
            assert boxes.shape == (2, 4) and scores.shape == (2,)
            np.testing.assert_allclose(boxes, pairs["pred_boxes"][k : k + 2], rtol=0, atol=BOX_TOL)


def test_states_of_several_targets_can_alternate(backend, pairs):
    """The state is bound once per target; switching targets rebinds, nothing goes stale."""
    t, s = pairs["template"], pairs["search"]
    state_a, state_b = backend.template(t[0:1]), backend.template(t[1:2])
    expect = {0: pairs["pred_boxes"][0], 1: pairs["pred_boxes"][1]}
    for k, state in ((0, state_a), (0, state_a), (1, state_b), (0, state_a), (1, state_b)):
        boxes, _ = backend.search(s[k : k + 1], state)
        np.testing.assert_allclose(boxes[0], expect[k], rtol=0, atol=BOX_TOL)


def test_outputs_are_not_overwritten_by_the_next_frame(backend, pairs):
    state = backend.template(pairs["template"][0:1])
    first, _ = backend.search(pairs["search"][0:1], state)
    kept = first.copy()
    backend.search(pairs["search"][3:4], state)
    np.testing.assert_array_equal(first, kept)


def test_state_tensors_match_the_template_graph(backend, bundle, pairs):
    crop = pairs["template"][2:3]
    state = backend.template(crop)
    assert isinstance(state, OrtTemplateState)
    session = ort.InferenceSession(str(bundle / "template.onnx"), providers=["CPUExecutionProvider"])
    expected = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"template": crop})))
    got = state.numpy()
    assert list(got) == list(expected) == backend.bundle.manifest.state_names
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name])


def test_info_comes_from_the_manifest(backend, bundle):
    info = backend.info
    assert (info.variant, info.template_size, info.search_size, info.batch) == ("tiny", 128, 256, 1)
    assert (info.rules.template.factor, info.rules.search.factor, info.precision, info.target) == (2.0, 4.0, "fp32", "onnx")
    assert info.extra["providers"] == ["CPUExecutionProvider"] and info.extra["device"] == "cpu"
    assert backend.last_search_ms > 0 and backend.last_template_ms > 0


def test_registry_loads_it_by_name(bundle):
    b = load_backend("onnxruntime", bundle=bundle, providers="cpu")
    assert isinstance(b, OnnxRuntimeBackend) and b.name == "onnxruntime"


def test_missing_provider_lists_the_available_ones(bundle):
    with pytest.raises(ValueError, match="not available here; available: .*CPUExecutionProvider"):
        OnnxRuntimeBackend(bundle, providers=["NoSuchExecutionProvider"])
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        with pytest.raises(ValueError, match="'cuda' is not available"):
            OnnxRuntimeBackend(bundle, providers="cuda")


def test_provider_resolution():
    available = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert resolve_providers(None, available) == ["CPUExecutionProvider"]
    assert resolve_providers("cuda", available) == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert resolve_providers([("cuda", {"device_id": 1})], available) == [
        ("CUDAExecutionProvider", {"device_id": 1}),
        "CPUExecutionProvider",
    ]


def test_xnnpack_is_a_provider_name_like_the_others():
    with_xnnpack = ["XnnpackExecutionProvider", "CPUExecutionProvider"]
    assert resolve_providers("xnnpack", with_xnnpack) == with_xnnpack
    assert resolve_providers([("XNNPACK", {"intra_op_num_threads": 2})], with_xnnpack) == [
        ("XnnpackExecutionProvider", {"intra_op_num_threads": 2}),
        "CPUExecutionProvider",
    ]
    with pytest.raises(ValueError, match="'xnnpack' is not available.*--use_xnnpack.*no onnxruntime wheel on PyPI"):
        resolve_providers("xnnpack", ["CPUExecutionProvider"])


@pytest.mark.parametrize("threads", [0, -1, 1.5, 1025, 99999999999])
def test_bad_thread_count(bundle, threads):
    contract.assert_thread_count_is_validated(OnnxRuntimeBackend, bundle, threads)


def test_bad_crops_and_states(backend, pairs):
    contract.assert_bad_crops_and_states_are_refused(backend, pairs)


def test_state_from_another_backend_is_refused(bundle, backend, pairs):
    contract.assert_state_of_another_instance_is_refused(OnnxRuntimeBackend, bundle, backend, pairs)


def test_closed_backend_says_so(bundle, pairs):
    contract.assert_closed_backend_says_so(OnnxRuntimeBackend, bundle, pairs)


def test_damaged_bundle_is_refused(bundle, tmp_path):
    import shutil

    copy = Path(shutil.copytree(bundle, tmp_path / "b"))
    with open(copy / "search.onnx", "r+b") as fh:
        fh.seek(-1, 2)
        fh.write(b"\x00" if fh.read(1) != b"\x00" else b"\x01")
    with pytest.raises(ValueError, match=r"search\.onnx: sha256 mismatch"):
        OnnxRuntimeBackend(copy)


@pytest.mark.parametrize("how", ["truncate", "random"])
def test_a_damaged_graph_with_a_matching_digest_is_a_one_line_error(bundle, tmp_path, how):
    copy = contract.damaged_copy(bundle, tmp_path / "b", "search.onnx", how)
    with pytest.raises(ValueError, match=r"search\.onnx: ONNX Runtime cannot read this graph \(.+\); the bundle is "
                       "damaged: export it again") as caught:  # was onnxruntime's InvalidProtobuf
        load_backend("onnxruntime", bundle=copy)
    assert "\n" not in str(caught.value)


def test_runs_without_torch(bundle):
    contract.assert_runs_without_torch("onnxruntime", bundle, BOX_TOL)


@pytest.mark.gpu
@pytest.mark.skipif("CUDAExecutionProvider" not in ort.get_available_providers(), reason="needs onnxruntime-gpu and CUDA")
def test_cuda_provider_keeps_the_state_on_the_device(bundle, pairs):
    with OnnxRuntimeBackend(bundle, providers="cuda") as b:
        state = b.template(pairs["template"][0:1])
        assert all(v.device_name().lower() == "cuda" for v in state.values.values())
        boxes, _ = b.search(pairs["search"][0:1], state)
        np.testing.assert_allclose(boxes[0], pairs["pred_boxes"][0], rtol=0, atol=BOX_TOL)
