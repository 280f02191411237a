"""The OpenVINO backend on a real exported IR bundle (tiny, fp32, CPU)."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from asymtrack_deploy.runtimes import load_backend, load_bundle_backend
from tests.conftest import reference_file
from tests.runtimes import backend_contract as contract
from tests.export.conftest import shared_bundle
from tests.export.derived_bundles import shared_derived_bundle

ov = pytest.importorskip("openvino")
from asymtrack_deploy.runtimes.openvino_backend import OpenVinoBackend, OpenVinoTemplateState, resolve_device  # noqa: E402

BOX_TOL = 1e-4


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    return shared_derived_bundle(tmp_path_factory, "openvino", "fp32")


@pytest.fixture(scope="module")
def backend(bundle):
    with OpenVinoBackend(bundle, threads=1) as b:
        yield b


@pytest.fixture(scope="module")
def pairs():
    return np.load(reference_file("pairs_tiny.npz"))


def test_states_of_several_targets_can_alternate(backend, pairs):
    t, s = pairs["template"], pairs["search"]
    state_a, state_b = backend.template(t[0:1]), backend.template(t[1:2])
    for k, state in ((0, state_a), (0, state_a), (1, state_b), (0, state_a), (1, state_b)):
        boxes, scores = backend.search(s[k : k + 1], state)
        assert boxes.shape == (1, 4) and boxes.dtype == np.float32 and scores.shape == (1,)
        np.testing.assert_allclose(boxes[0], pairs["pred_boxes"][k], rtol=0, atol=BOX_TOL)


def test_state_is_bound_once_without_a_copy(backend, pairs):
    """After the first frame of a target the search request reads the state's own memory."""
    state = backend.template(pairs["template"][0:1])
    backend.search(pairs["search"][0:1], state)
    assert isinstance(state, OpenVinoTemplateState)
    context = backend._contexts.get(backend._new_context)
    for name, tensor in state.tensors.items():
        assert np.shares_memory(context.search_request.get_tensor(name).data, tensor.data)
    bound = context.bound_state
    backend.search(pairs["search"][1:2], state)
    assert context.bound_state is bound is state


def test_outputs_are_not_overwritten_by_the_next_frame(backend, pairs):
    state = backend.template(pairs["template"][0:1])
    first, _ = backend.search(pairs["search"][0:1], state)
    kept = first.copy()
    backend.search(pairs["search"][3:4], state)
    np.testing.assert_array_equal(first, kept)


def test_info_comes_from_the_manifest(backend):
    info = backend.info
    assert (info.variant, info.template_size, info.search_size, info.batch) == ("tiny", 128, 256, 1)
    assert (info.precision, info.target) == ("fp32", "openvino")
    extra = info.extra
    assert extra["device"] == "CPU" and extra["inference_precision"] == "f32" and extra["threads"] == "1"
    assert extra["config"]["PERFORMANCE_HINT"] == "LATENCY" and extra["ignored_properties"] == []
    assert backend.last_search_ms > 0 and backend.last_template_ms > 0


def test_fp16_bundle_runs_f32_on_every_cpu(tmp_path_factory, pairs):
    bundle = shared_derived_bundle(tmp_path_factory, "openvino", "fp16")
    with OpenVinoBackend(bundle) as b:
        assert b.info.extra["inference_precision"] == "f32"
        boxes, _ = b.search(pairs["search"][:1], b.template(pairs["template"][:1]))
        np.testing.assert_allclose(boxes[0], pairs["pred_boxes"][0], rtol=0, atol=1e-2)


def test_inference_precision_override(bundle):
    """The hint reaches the compiled model; bf16 where the CPU computes it, refused elsewhere
    (an Intel Xeon without AMX or AVX512-BF16 runs this test too)."""
    with OpenVinoBackend(bundle, inference_precision="f32") as b:
        assert b.info.extra["config"]["INFERENCE_PRECISION_HINT"] == "f32"
    if "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
        with OpenVinoBackend(bundle, inference_precision="bf16") as b:
            assert b.info.extra["config"]["INFERENCE_PRECISION_HINT"] == "bf16"
    else:
        with pytest.raises(ValueError, match="bf16 inference needs a CPU with bf16 arithmetic"):
            OpenVinoBackend(bundle, inference_precision="bf16")
    with pytest.raises(ValueError, match="inference_precision must be"):
        OpenVinoBackend(bundle, inference_precision="int4")


def test_registry_and_bundle_default_backend(bundle):
    assert isinstance(load_backend("openvino", bundle=bundle), OpenVinoBackend)
    assert isinstance(load_bundle_backend(bundle), OpenVinoBackend)


def test_missing_device_lists_the_available_ones(bundle):
    with pytest.raises(ValueError, match=r"device 'NPU.7' is not available here; available: .*CPU"):
        OpenVinoBackend(bundle, device="NPU.7")
    assert resolve_device("auto", ["CPU"]) == "AUTO"
    assert resolve_device("AUTO:CPU", ["CPU"]) == "AUTO:CPU"
    assert resolve_device("GPU", ["CPU", "GPU.0"]) == "GPU"
    with pytest.raises(ValueError, match="available: CPU"):
        resolve_device("AUTO:GPU,CPU", ["CPU"])


@pytest.mark.parametrize("threads", [0, -1, 1.5, True, 1025, 99999999999])
def test_bad_thread_count(bundle, threads):
    contract.assert_thread_count_is_validated(OpenVinoBackend, bundle, threads)


def test_bad_crops_and_states(backend, pairs):
    contract.assert_bad_crops_and_states_are_refused(backend, pairs)


def test_state_from_another_backend_is_refused(bundle, backend, pairs):
    contract.assert_state_of_another_instance_is_refused(OpenVinoBackend, bundle, backend, pairs)


def test_closed_backend_says_so(bundle, pairs):
    contract.assert_closed_backend_says_so(OpenVinoBackend, bundle, pairs)


def test_an_onnx_bundle_is_refused_with_the_export_command(tmp_path_factory):
    with pytest.raises(ValueError, match="no OpenVINO IR; export one with: asymtrack-deploy export --target openvino"):
        OpenVinoBackend(shared_bundle(tmp_path_factory))


def test_damaged_ir_is_refused(bundle, tmp_path):
    copy = Path(shutil.copytree(bundle, tmp_path / "b"))
    with open(copy / "search.bin", "r+b") as fh:
        fh.seek(100)
        fh.write(b"\x12\x34")
    with pytest.raises(ValueError, match=r"search\.bin: sha256 mismatch"):
        OpenVinoBackend(copy)


@pytest.mark.parametrize("name, how", [("search.bin", "truncate"), ("search.xml", "truncate"),
                                       ("search.bin", "random"), ("template.bin", "truncate")])
def test_a_damaged_ir_with_a_matching_digest_is_a_one_line_error(bundle, tmp_path, name, how):
    copy = contract.damaged_copy(bundle, tmp_path / "b", name, how)
    graph = name.split(".")[0]
    with pytest.raises(ValueError, match=rf"{graph}\.xml \(with {graph}\.bin\): OpenVINO cannot read this graph "
                       r"\(.+\); the bundle is damaged: export it again") as caught:  # was a RuntimeError
        load_backend("openvino", bundle=copy)
    assert "\n" not in str(caught.value) and "Exception from" not in str(caught.value)


def test_runs_without_torch(bundle):
    contract.assert_runs_without_torch("openvino", bundle, BOX_TOL)


def test_executed_label_names_int8_even_when_few_layers_run_it():
    from asymtrack_deploy.runtimes.openvino_backend import executed_label

    assert executed_label({"f32": 160, "int8": 13}) == "int8+f32"
    assert executed_label({"bf16": 150, "f32": 20}) == "bf16+f32"
    assert executed_label({"f32": 200, "bf16": 3}) == "f32"
    assert executed_label({}) == "unknown"


def test_hinted_label_names_what_the_compiled_graph_computes_in():
    from asymtrack_deploy.runtimes.openvino_backend import hinted_label

    assert hinted_label("fp32", "f32") == "f32" and hinted_label("bf16", "bf16") == "bf16"
    assert hinted_label("int8", "f32") == "int8+f32" and hinted_label("fp16", "f16") == "f16"
