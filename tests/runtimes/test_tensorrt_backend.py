"""The TensorRT backend on engines built here (needs TensorRT, cuda-python and a CUDA GPU)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import reference_checkpoint, reference_file
from tests.runtimes import backend_contract as contract

pytest.importorskip("tensorrt")
pytest.importorskip("cuda")
pytestmark = pytest.mark.gpu

from asymtrack_deploy.runtimes import load_bundle_backend  # noqa: E402
from asymtrack_deploy.runtimes.tensorrt_backend import TensorRTBackend, TensorRTTemplateState  # noqa: E402

BOX_TOL = 1e-4


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    from asymtrack_deploy.export import export_bundle

    out = tmp_path_factory.getbasetemp() / "tiny_tensorrt_fp32_backend"
    return export_bundle("tensorrt", checkpoint=reference_checkpoint("tiny"), variant="tiny", out_dir=out, force=True).root


@pytest.fixture(scope="module")
def pairs():
    return np.load(reference_file("pairs_tiny.npz"))


@pytest.mark.parametrize("cuda_graph", [True, False])
def test_states_alternate_with_and_without_a_cuda_graph(bundle, pairs, cuda_graph):
    with TensorRTBackend(bundle, cuda_graph=cuda_graph) as backend:
        t, s = pairs["template"], pairs["search"]
        state_a, state_b = backend.template(t[0:1]), backend.template(t[1:2])
        assert isinstance(state_a, TensorRTTemplateState)
        for k, state in ((0, state_a), (0, state_a), (1, state_b), (0, state_a)):
            boxes, scores = backend.search(s[k : k + 1], state)
            np.testing.assert_allclose(boxes[0], pairs["pred_boxes"][k], rtol=0, atol=BOX_TOL)
        assert backend.info.extra["cuda_graph"] is cuda_graph


def test_state_stays_on_the_device_and_matches_the_template_graph(bundle, pairs):
    import onnxruntime as ort

    with load_bundle_backend(bundle) as backend:
        assert isinstance(backend, TensorRTBackend)
        state = backend.template(pairs["template"][2:3])
        session = ort.InferenceSession(str(Path(bundle) / "template.onnx"))
        expected = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"template": pairs["template"][2:3]})))
        for name, value in state.numpy().items():
            np.testing.assert_allclose(value, expected[name], rtol=0, atol=1e-4)


def test_foreign_state_and_closed_backend(bundle, pairs):
    with TensorRTBackend(bundle) as backend:
        contract.assert_bad_crops_and_states_are_refused(backend, pairs)
        contract.assert_state_of_another_instance_is_refused(TensorRTBackend, bundle, backend, pairs)
    contract.assert_closed_backend_says_so(TensorRTBackend, bundle, pairs)


def test_engine_from_another_tensorrt_version_is_refused(bundle, tmp_path):
    copy = Path(shutil.copytree(bundle, tmp_path / "b"))
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["runtime"]["tensorrt"] = "9.0.0"
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(RuntimeError, match="Rebuild them here: asymtrack-deploy export --target tensorrt"):
        TensorRTBackend(copy)
