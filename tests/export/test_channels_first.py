"""The channels-first search graph (the OpenVINO target's form): the same arithmetic as the
model's channels-last search, checked against the official vectors, and as deployable."""
from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from asymtrack_deploy.bundle import load_bundle
from asymtrack_deploy.export import export_bundle
from asymtrack_deploy.export.channels_first import ChannelsFirstSearch
from asymtrack_deploy.export.graph_checks import graph_problems
from asymtrack_deploy.export.onnx_graphs import export_graph
from asymtrack_deploy.export.tensorrt_target import cast_uint8_inputs_first, tensorrt_problems
from asymtrack_deploy.export.wrappers import SearchGraph, TemplateGraph
from asymtrack_deploy.models import build_model, load_checkpoint
from asymtrack_deploy.runtimes.torch_backend import default_checkpoint
from tests.conftest import COMPACT_REFERENCE_DIR, reference_checkpoint, reference_file
from tests.export.derived_bundles import shared_derived_bundle

BOX_TOL = 1e-5  # the official vectors' own tolerance for fp32 boxes


def _random_reference():
    """(model, pairs): the official random-init checkpoint and its vectors."""
    model = load_checkpoint(build_model("tiny"), reference_checkpoint("tiny")).eval()
    return model, dict(np.load(reference_file("pairs_tiny.npz")))


def _trained_reference():
    """(model, pairs): the demo weights and the official outputs with them."""
    model = load_checkpoint(build_model("tiny"), default_checkpoint()).eval()
    return model, dict(np.load(COMPACT_REFERENCE_DIR / "trained" / "pairs_tiny.npz"))


REFERENCES = {"random-init": _random_reference, "demo-weights": _trained_reference}


@pytest.fixture(scope="module", params=list(REFERENCES))
def reference(request):
    return REFERENCES[request.param]()


@pytest.fixture(scope="module")
def search_graph(reference) -> onnx.ModelProto:
    model, _ = reference
    return export_graph(SearchGraph(model, layout="channels_first"), 1, 17, "onnxslim")


def _states(model, pairs) -> list[dict[str, np.ndarray]]:
    template = TemplateGraph(model)
    states = []
    with torch.no_grad():
        for k in range(len(pairs["template"])):
            outputs = template(torch.from_numpy(pairs["template"][k : k + 1]))
            states.append({name: t.numpy() for name, t in zip(template.output_names, outputs)})
    return states


def test_torch_form_reproduces_the_official_boxes(reference):
    model, pairs = reference
    with torch.no_grad():
        x = model.normalize(torch.from_numpy(pairs["search"]))
        state = model.template(model.normalize(torch.from_numpy(pairs["template"])))
        box, score = ChannelsFirstSearch(model)(x, state)
        want_box, want_score = model.search(x, state)
    np.testing.assert_allclose(box.numpy(), pairs["pred_boxes"], rtol=0, atol=BOX_TOL)
    np.testing.assert_allclose(score.numpy(), want_score.numpy(), rtol=0, atol=1e-5)


def test_onnx_graph_reproduces_the_official_boxes(reference, search_graph):
    model, pairs = reference
    session = ort.InferenceSession(search_graph.SerializeToString(), providers=["CPUExecutionProvider"])
    for k, state in enumerate(_states(model, pairs)):
        box, _ = session.run(None, {"search": pairs["search"][k : k + 1], **state})
        np.testing.assert_allclose(box[0], pairs["pred_boxes"][k], rtol=0, atol=BOX_TOL)


def test_openvino_runs_it_to_the_official_boxes(reference, search_graph, tmp_path):
    ov = pytest.importorskip("openvino")
    model, pairs = reference
    path = tmp_path / "search.onnx"
    onnx.save_model(search_graph, str(path))
    compiled = ov.Core().compile_model(ov.convert_model(str(path)), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    for k, state in enumerate(_states(model, pairs)):
        box = compiled({"search": pairs["search"][k : k + 1], **state})["box"]
        np.testing.assert_allclose(box[0], pairs["pred_boxes"][k], rtol=0, atol=BOX_TOL)


def test_it_has_no_layout_switches_and_passes_the_deployability_checks(reference, search_graph):
    ops = [n.op_type for n in search_graph.graph.node]
    assert graph_problems(search_graph) == []
    assert "Einsum" not in ops and "LayerNormalization" in ops  # only the attention block's tokens
    assert ops.count("Transpose") <= 10, ops.count("Transpose")  # the channels-last form has 28
    assert tensorrt_problems(cast_uint8_inputs_first(search_graph)[0]) == []


def test_same_inputs_and_outputs_as_the_channels_last_graph(reference, search_graph):
    model, _ = reference
    last = export_graph(SearchGraph(model), 1, 17, "onnxslim")
    for a, b in ((search_graph.graph.input, last.graph.input), (search_graph.graph.output, last.graph.output)):
        assert [(v.name, v.type) for v in a] == [(v.name, v.type) for v in b]


def test_unknown_layout_is_refused():
    with pytest.raises(ValueError, match="search layout must be one of channels_last, channels_first"):
        SearchGraph(build_model("tiny"), layout="nhwc")
    with pytest.raises(ValueError, match="search_layout must be one of"):
        export_bundle("openvino", checkpoint=None, random_weights=True, variant="tiny", out_dir="unused",
                      search_layout="nchw")


def test_openvino_bundle_records_its_search_layout(tmp_path_factory):
    pytest.importorskip("openvino")
    manifest = load_bundle(shared_derived_bundle(tmp_path_factory, "openvino", "fp32")).manifest
    assert manifest.export["search_layout"] == "channels_first"
    assert manifest.export["einsum_operands_isolated"] == {"template": 2, "search": 0}


def test_each_precision_gets_the_layout_its_arithmetic_keeps_accurate():
    """bf16 splits channels-first LayerNorms into bf16 reductions (worst IoU 0.895 on vtest.avi
    with the demo weights) and fp16 weights cost the channels-first graph 10x the box error:
    both keep the channels-last graph; fp32 and int8 (f32 float parts) go channels-first."""
    from asymtrack_deploy.export.openvino_target import OpenVinoConverter, search_layout_for

    assert {p: search_layout_for(p) for p in ("fp32", "fp16", "bf16", "int8")} == {
        "fp32": "channels_first", "fp16": "channels_last", "bf16": "channels_last", "int8": "channels_first"}
    assert OpenVinoConverter(search_layout="channels_last")._layout("fp32") == "channels_last"


def test_int8_bundle_pins_its_float_parts_to_f32(tmp_path_factory):
    pytest.importorskip("nncf")
    manifest = load_bundle(shared_derived_bundle(tmp_path_factory, "openvino", "int8")).manifest
    assert manifest.inference.openvino_precision_hint == "f32"
    assert manifest.export["search_layout"] == "channels_first"
