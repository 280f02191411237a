"""The ONNX export: what the bundle says, batch export, parity, and atomic writing."""
from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

import asymtrack_deploy
from asymtrack_deploy.bundle import MANIFEST_NAME, file_sha256, load_bundle
from asymtrack_deploy.export import ParityError, export_bundle, export_onnx, onnx_graphs
from asymtrack_deploy.parity import compare_on_crops, parity_crops
from asymtrack_deploy.export.model_source import prepare_model
from asymtrack_deploy.export.wrappers import SearchGraph, TemplateGraph
from asymtrack_deploy.models import CheckpointError, build_model
from asymtrack_deploy.runtimes import load_backend
from asymtrack_deploy.runtimes.onnxruntime_backend import OnnxRuntimeBackend
from tests.conftest import reference_checkpoint

STATE = [
    "stage1_etm_depth",
    "stage1_etm_point",
    "stage2_etm_depth",
    "stage2_etm_point",
    "stage2_attn_key",
    "stage2_attn_value",
]


def test_manifest_says_everything_a_cpp_program_needs(tiny_bundle):
    m = load_bundle(tiny_bundle).manifest
    assert (m.model.variant, m.model.template_size, m.model.search_size) == ("tiny", 128, 256)
    assert (m.model.template_factor, m.model.search_factor) == (2.0, 4.0)
    assert m.preprocess.color_order == "rgb" and m.preprocess.in_graph and m.preprocess.layout == "NHWC"
    assert m.preprocess.mean == (0.485, 0.456, 0.406) and m.preprocess.std == (0.229, 0.224, 0.225)
    assert (m.target, m.precision, m.batch, m.opset) == ("onnx", "fp32", 1, 17)
    assert m.toolkit_version == asymtrack_deploy.__version__
    template, search = m.graph("template"), m.graph("search")
    assert [(t.name, t.shape, t.dtype) for t in template.inputs] == [("template", (1, 128, 128, 3), "uint8")]
    assert [t.name for t in template.outputs] == STATE == m.state_names
    assert [t.name for t in search.inputs] == ["search", *STATE]
    assert search.input("search").shape == (1, 256, 256, 3) and search.input("search").dtype == "uint8"
    assert search.input("stage2_attn_key").shape == (1, 8, 64, 32)
    assert [(t.name, t.shape, t.dtype) for t in search.outputs] == [("box", (1, 4), "float32"), ("score", (1,), "float32")]
    ckpt = reference_checkpoint("tiny")
    assert m.source.checkpoint == ckpt.name and m.source.checkpoint_sha256 == file_sha256(ckpt)
    assert not m.source.random_weights
    assert set(m.files) == {"template.onnx", "search.onnx"}


def test_parity_figures_are_recorded(tiny_bundle):
    parity = load_bundle(tiny_bundle).manifest.parity
    assert parity["passed"] and parity["max_abs_box_diff"] <= 1e-4 and parity["box_tolerance"] == 1e-4
    assert parity["max_abs_score_diff"] < 1e-4 and parity["pairs"] == 4
    assert "vtest" in parity["crops"] and "onnxruntime" in parity["runtime"]


def test_onnx_files_agree_with_the_manifest(tiny_bundle):
    b = load_bundle(tiny_bundle)
    for graph in ("template", "search"):
        proto = onnx.load(str(b.path(graph, "onnx")))
        spec = b.manifest.graph(graph)
        for values, tensors in ((proto.graph.input, spec.inputs), (proto.graph.output, spec.outputs)):
            assert [v.name for v in values] == [t.name for t in tensors]
            assert [tuple(d.dim_value for d in v.type.tensor_type.shape.dim) for v in values] == [t.shape for t in tensors]
        assert max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) == 17


def test_batch_two_export(tiny_bundle_b2):
    m = load_bundle(tiny_bundle_b2).manifest
    assert m.batch == 2
    assert m.graph("template").input("template").shape == (2, 128, 128, 3)
    assert m.graph("search").output("box").shape == (2, 4) and m.graph("search").output("score").shape == (2,)
    assert all(t.shape[0] == 2 for t in m.state)
    assert m.parity["passed"] and m.parity["pairs"] == 4


def test_registry_dispatches_to_the_onnx_target():
    with pytest.raises(ValueError, match="unknown export target 'coreml'"):
        export_bundle("coreml", out_dir="x")


def test_existing_bundle_needs_force(tiny_bundle):
    before = (tiny_bundle / MANIFEST_NAME).read_text()
    with pytest.raises(FileExistsError, match="already exists; pass force=True"):
        export_onnx(reference_checkpoint("tiny"), "tiny", tiny_bundle)
    assert (tiny_bundle / MANIFEST_NAME).read_text() == before


def test_force_never_deletes_a_folder_that_is_not_a_bundle(tmp_path):
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="is not a bundle"):
        export_onnx(reference_checkpoint("tiny"), "tiny", tmp_path, force=True)
    assert (tmp_path / "mine.txt").read_text() == "keep me"


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_failure_midway_leaves_no_bundle(tmp_path, monkeypatch):
    saved = []

    def save_then_fail(proto, path):
        onnx.save_model(proto, str(path))
        saved.append(path)
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(onnx_graphs, "save_graph", save_then_fail)
    out = tmp_path / "bundle"
    with pytest.raises(OSError, match="simulated"):
        export_onnx(reference_checkpoint("tiny"), "tiny", out)
    assert saved and not saved[0].exists()  # a file had been written, in the staging folder
    assert not out.exists() and _leftovers(tmp_path) == []


def test_failure_midway_keeps_the_existing_bundle(bundle_copy, monkeypatch):
    before = {p.name: p.read_bytes() for p in bundle_copy.iterdir()}

    def save_then_fail(proto, path):
        onnx.save_model(proto, str(path))
        raise ParityError("simulated failure after the template graph was written")

    monkeypatch.setattr(onnx_graphs, "save_graph", save_then_fail)
    with pytest.raises(ParityError, match="simulated"):
        export_onnx(None, "tiny", bundle_copy, force=True, random_weights=True, seed=1)
    assert {p.name: p.read_bytes() for p in bundle_copy.iterdir()} == before
    assert _leftovers(bundle_copy.parent) == []
    load_bundle(bundle_copy)


def test_parity_check_catches_graphs_that_differ(tiny_bundle):
    """The real check, fed a PyTorch model with other weights than the exported graphs."""
    other, _ = prepare_model("tiny", random_weights=True, seed=5)
    crops = parity_crops(other.cfg, pairs=1)
    reference = load_backend("torch", model=other)
    with OnnxRuntimeBackend(tiny_bundle) as backend, pytest.raises(ParityError, match="max box difference"):
        compare_on_crops(reference, backend, crops)


def test_parity_crops_are_real_rgb_crops():
    crops = parity_crops(build_model("tiny").cfg, pairs=3, seed=0)
    assert crops.templates.shape == (3, 128, 128, 3) and crops.searches.shape == (3, 256, 256, 3)
    assert crops.templates.dtype == np.uint8 and crops.templates.std() > 10  # an image, not a blank
    again = parity_crops(build_model("tiny").cfg, pairs=3, seed=0)
    np.testing.assert_array_equal(crops.searches, again.searches)


def test_random_weights_must_be_asked_for(tmp_path):
    with pytest.raises(ValueError, match="--random-weights"):
        export_onnx(None, "tiny", tmp_path / "b")
    with pytest.raises(ValueError, match="not both"):
        export_onnx(reference_checkpoint("tiny"), "tiny", tmp_path / "b", random_weights=True)
    assert not (tmp_path / "b").exists()


def test_wrong_variant_is_the_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError, match="it is tiny, not small"):
        export_onnx(reference_checkpoint("tiny"), "small", tmp_path / "b")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "kwargs, message", [({"batch": 0}, "batch"), ({"opset": 13}, "opset 13 is too old"), ({"opset": 99}, "opset 99 is newer")]
)
def test_bad_options(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        export_onnx(reference_checkpoint("tiny"), "tiny", tmp_path / "b", **kwargs)


def test_random_weights_are_reproducible_and_leave_global_rng_alone():
    import torch

    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    a, source = prepare_model("tiny", random_weights=True, seed=7)
    assert torch.equal(torch.rand(1), expected)
    b, _ = prepare_model("tiny", random_weights=True, seed=7)
    assert source.random_weights and source.seed == 7 and source.checkpoint is None
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_tracing_leaves_the_model_in_eval_mode():
    """The exporter restores the wrapper's train/eval mode recursively; a train-mode wrapper
    once left the model in train mode, so BatchNorm used batch statistics afterwards."""
    model = build_model("tiny")
    onnx_graphs.trace(TemplateGraph(model), batch=1, opset=17)
    assert not any(m.training for m in model.modules())
    assert not SearchGraph(model).training


def test_manifest_json_lists_parity_and_export_record(tiny_bundle):
    data = json.loads((tiny_bundle / MANIFEST_NAME).read_text())
    assert data["export"]["simplifier"].startswith("onnxslim")
    assert data["export"]["nodes"]["search"] > 0
    assert data["parity"]["max_abs_box_diff"] <= 1e-4
