"""A manifest that disagrees with its graphs is refused when the bundle is loaded, with one line
naming what differs (issue 15, case 3: such bundles loaded and failed at the first frame with a raw
runtime error, or tracked garbage)."""
from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import pytest

from asymtrack_deploy.bundle import load_bundle
from asymtrack_deploy.runtimes import load_backend
from tests.export.conftest import shared_bundle
from tests.export.derived_bundles import shared_derived_bundle


def _edited(bundle: Path, tmp_path: Path, change) -> Path:
    copy = Path(shutil.copytree(bundle, tmp_path / "bundle"))
    manifest = json.loads((copy / "manifest.json").read_text())
    change(manifest)
    (copy / "manifest.json").write_text(json.dumps(manifest))
    return copy


def _tensor(manifest, graph, kind, name):
    return next(t for t in manifest["graphs"][graph][kind] if t["name"] == name)


def _sizes(m):  # the variant, its crop sizes and every shape that carries them, consistently
    m["model"].update(variant="base", template_size=192, search_size=384)
    m["graphs"]["template"]["inputs"][0]["shape"] = [1, 192, 192, 3]
    next(t for t in m["graphs"]["search"]["inputs"] if t["name"] not in {s["name"] for s in m["state"]})["shape"] = \
        [1, 384, 384, 3]


def _state_shape(m):  # one state tensor's shape, everywhere the manifest lists it
    for t in (m["state"][0], _tensor(m, "template", "outputs", m["state"][0]["name"]),
              _tensor(m, "search", "inputs", m["state"][0]["name"])):
        t["shape"] = [1, 3, 3]


def _dropped_state(m):  # a state tensor removed from the manifest, still in the graphs
    name = m["state"].pop()["name"]
    m["graphs"]["template"]["outputs"] = [t for t in m["graphs"]["template"]["outputs"] if t["name"] != name]
    m["graphs"]["search"]["inputs"] = [t for t in m["graphs"]["search"]["inputs"] if t["name"] != name]


def _swapped(m):  # the graph files swapped (every role: an IR's .xml and .bin go together); hashes stay valid
    g = m["graphs"]
    g["template"]["files"], g["search"]["files"] = g["search"]["files"], g["template"]["files"]


GRAPH_MISMATCHES = {"sizes": _sizes, "state shape": _state_shape, "dropped state": _dropped_state, "swapped": _swapped}


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    found = {"onnxruntime": shared_bundle(tmp_path_factory, batch=1)}
    try:
        import openvino  # noqa: F401

        found["openvino"] = shared_derived_bundle(tmp_path_factory, "openvino", "fp32")
    except ImportError:
        pass
    return found


@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
@pytest.mark.parametrize("case", list(GRAPH_MISMATCHES))
def test_manifest_that_disagrees_with_its_graphs_is_refused_at_load(bundles, tmp_path, backend, case):
    if backend not in bundles:
        pytest.skip("openvino is not installed")
    bundle = _edited(bundles[backend], tmp_path, GRAPH_MISMATCHES[case])
    with pytest.raises(ValueError, match=r"graph's (in|out)puts differ from its manifest\.json \(.*graph .*manifest"):
        load_backend(backend, bundle=bundle)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda m: m["model"].__setitem__("search_factor", -4), r"model.search_factor must be in \[0.001, 1000\], got -4"),
        (lambda m: m["model"].__setitem__("template_factor", math.nan), "model.template_factor must be in"),
        (lambda m: m["model"].__setitem__("search_factor", 1e9), "model.search_factor must be in"),
        (lambda m: m["model"].__setitem__("template_size", 0), r"model.template_size must be in \[1, 4096\], got 0"),
        (lambda m: m["model"].__setitem__("search_size", 128), "the search graph must take one uint8 crop"),
        (lambda m: m["graphs"]["search"]["inputs"][0].__setitem__("dtype", "float32"), "must take one uint8 crop"),
        (lambda m: m["preprocess"].__setitem__("color_order", "bgr"), "preprocess.color_order 'bgr' is not supported"),
        (lambda m: m["preprocess"].__setitem__("layout", "NCHW"), "preprocess.layout 'NCHW' is not supported"),
        (lambda m: m["state"].pop(), "the template graph's outputs .* must be the state tensors"),
        (lambda m: m["model"].__setitem__("variant", "base"),
         r"model.variant 'base' takes 192 / 384 pixel crops, but the graphs take 128 / 256 \(tiny or small\)"),
        (lambda m: m["model"].__setitem__("variant", "huge"), "model.variant 'huge' is not one of tiny, small, base"),
    ],
)
def test_numbers_out_of_range_and_unsupported_inputs_are_refused(bundles, tmp_path, change, message):
    bundle = _edited(bundles["onnxruntime"], tmp_path, change)
    with pytest.raises(ValueError, match=message):
        load_bundle(bundle)


def test_a_graph_file_linked_from_outside_the_bundle_is_refused(bundles, tmp_path):
    bundle = Path(shutil.copytree(bundles["onnxruntime"], tmp_path / "bundle"))
    outside = tmp_path / "elsewhere.onnx"
    shutil.move(bundle / "search.onnx", outside)
    os.symlink(outside, bundle / "search.onnx")
    with pytest.raises(ValueError, match=r"search\.onnx: a link to .*elsewhere\.onnx, outside the bundle"):
        load_bundle(bundle)
