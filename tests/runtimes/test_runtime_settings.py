"""Runtime settings that benchmarks/cpu_settings.py measures reach the runtimes."""
from __future__ import annotations

import numpy as np
import pytest

from asymtrack_deploy.runtimes import load_backend
from tests.conftest import reference_file
from tests.export.conftest import shared_bundle
from tests.export.derived_bundles import shared_derived_bundle


def _boxes(backend) -> np.ndarray:
    pairs = np.load(reference_file("pairs_tiny.npz"))
    return backend.search(pairs["search"][:1], backend.template(pairs["template"][:1]))[0]


def test_onnxruntime_session_config_entries_reach_the_sessions(tmp_path_factory):
    bundle = shared_bundle(tmp_path_factory)
    config = {"session.intra_op.allow_spinning": "0"}
    with load_backend("onnxruntime", bundle=bundle, threads=1, session_config=config) as backend, \
            load_backend("onnxruntime", bundle=bundle) as default:
        for session in (backend._template_session, backend._search_session):
            assert session.get_session_options().get_session_config_entry("session.intra_op.allow_spinning") == "0"
        np.testing.assert_allclose(_boxes(backend), _boxes(default), rtol=0, atol=1e-6)


def test_openvino_config_properties_reach_the_compiled_graphs(tmp_path_factory):
    pytest.importorskip("openvino")
    bundle = shared_derived_bundle(tmp_path_factory, "openvino", "fp32")
    config = {"ENABLE_CPU_PINNING": False, "PERFORMANCE_HINT": "THROUGHPUT"}
    with load_backend("openvino", bundle=bundle, config=config) as backend:
        assert backend.info.extra["config"]["PERFORMANCE_HINT"] == "THROUGHPUT"
        assert str(backend._compiled["search"].get_property("PERFORMANCE_HINT")) == "THROUGHPUT"
        assert backend._compiled["search"].get_property("ENABLE_CPU_PINNING") is False
        assert _boxes(backend).shape == (1, 4)
    with pytest.raises(ValueError, match="config: OpenVINO device CPU has no property NOT_A_PROPERTY"):
        load_backend("openvino", bundle=bundle, config={"NOT_A_PROPERTY": 1})
