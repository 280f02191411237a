"""The bundle manifest: writing, reading, and every way a bundle can be refused."""
from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from asymtrack_deploy.bundle import (
    MANIFEST_NAME,
    SCHEMA_VERSION,
    GraphSpec,
    Manifest,
    ModelSpec,
    Preprocess,
    SourceSpec,
    TensorSpec,
    file_sha256,
    load_bundle,
    write_manifest,
)

STATE = (TensorSpec("stage1_etm_depth", (1, 2, 3), "float32"), TensorSpec("stage2_attn_key", (1, 8, 64, 32), "float32"))


def _manifest() -> Manifest:
    template = GraphSpec({"onnx": "template.onnx"}, (TensorSpec("template", (1, 128, 128, 3), "uint8"),), STATE)
    search = GraphSpec(
        {"onnx": "search.onnx"},
        (TensorSpec("search", (1, 256, 256, 3), "uint8"), *STATE),
        (TensorSpec("box", (1, 4), "float32"), TensorSpec("score", (1,), "float32")),
    )
    return Manifest(
        model=ModelSpec("tiny", 128, 256, 2.0, 4.0),
        preprocess=Preprocess(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)),
        target="onnx",
        precision="fp32",
        batch=1,
        opset=17,
        graphs={"template": template, "search": search},
        state=STATE,
        source=SourceSpec("ckpt.pth", "ab" * 32),
        toolkit_version="0.1.0",
        parity={"max_abs_box_diff": 1e-6},
    )


@pytest.fixture
def bundle_dir(tmp_path) -> Path:
    """A hand-made bundle whose graph files are placeholders (the manifest layer never parses them)."""
    (tmp_path / "template.onnx").write_bytes(b"template graph bytes")
    (tmp_path / "search.onnx").write_bytes(b"search graph bytes")
    write_manifest(tmp_path, _manifest())
    return tmp_path


def _edit(bundle_dir: Path, change) -> None:
    path = bundle_dir / MANIFEST_NAME
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_round_trip_gives_typed_access(bundle_dir):
    b = load_bundle(bundle_dir)
    m = b.manifest
    assert (b.variant, b.batch, b.target, b.precision) == ("tiny", 1, "onnx", "fp32")
    assert m.schema_version == SCHEMA_VERSION and m.opset == 17 and m.created_utc.endswith("Z")
    assert m.model.template_size == 128 and m.model.search_factor == 4.0
    assert m.preprocess.color_order == "rgb" and m.preprocess.in_graph and m.preprocess.std[2] == 0.225
    assert b.path("search", "onnx") == bundle_dir / "search.onnx"
    assert m.graph("search").input("stage2_attn_key").shape == (1, 8, 64, 32)
    assert m.graph("search").output("box").dtype == "float32"
    assert b.state_names == ["stage1_etm_depth", "stage2_attn_key"]
    assert m.files["search.onnx"].sha256 == file_sha256(bundle_dir / "search.onnx")
    assert m.parity == {"max_abs_box_diff": 1e-6} and m.runtime == {} and m.calibration is None
    assert Manifest.from_dict(m.to_dict()) == m


def test_manifest_is_plain_json_a_c_program_can_read(bundle_dir):
    data = json.loads((bundle_dir / MANIFEST_NAME).read_text())
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["graphs"]["search"]["files"] == {"onnx": "search.onnx"}
    assert data["graphs"]["template"]["inputs"][0] == {"name": "template", "shape": [1, 128, 128, 3], "dtype": "uint8"}
    assert data["preprocess"]["mean"] == [0.485, 0.456, 0.406] and data["preprocess"]["layout"] == "NHWC"
    assert set(data["files"]) == {"search.onnx", "template.onnx"}


def test_missing_folder_and_missing_manifest(tmp_path):
    with pytest.raises(ValueError, match="no such bundle folder"):
        load_bundle(tmp_path / "nope")
    with pytest.raises(ValueError, match=r"manifest\.json: missing"):
        load_bundle(tmp_path)


def test_bad_json(bundle_dir):
    (bundle_dir / MANIFEST_NAME).write_text("{not json")
    with pytest.raises(ValueError, match=r"manifest\.json: not valid JSON"):
        load_bundle(bundle_dir)


@pytest.mark.parametrize("text", ["[" * 100_000, "{\"a\": " * 100_000 + "1" + "}" * 100_000, "[" * 66 + "]" * 66])
def test_deeply_nested_json_is_refused_before_it_is_parsed(bundle_dir, text):
    """json.loads recursed into a RecursionError on 100,000 levels; the C reader stops at 64."""
    (bundle_dir / MANIFEST_NAME).write_text(text)
    with pytest.raises(ValueError, match=r"manifest\.json: not a manifest: JSON nesting deeper than 64 levels"):
        load_bundle(bundle_dir)


def test_nesting_inside_strings_and_up_to_the_limit_is_only_json(bundle_dir):
    from asymtrack_deploy.bundle import check_json_depth

    check_json_depth("[" * 65 + "]" * 65)  # levels 0..64, as the C reader takes
    check_json_depth(json.dumps({"note": "[" * 1000 + "\"{" * 100}))
    (bundle_dir / MANIFEST_NAME).write_text(json.dumps({"x": "[" * 1000}))
    with pytest.raises(ValueError, match="schema_version"):  # read as JSON, then refused as a manifest
        load_bundle(bundle_dir)


@pytest.mark.parametrize("version", [None, 0, 3, "1"])
def test_unknown_schema_version(bundle_dir, version):
    _edit(bundle_dir, lambda d: d.__setitem__("schema_version", version))
    with pytest.raises(ValueError, match=f"schema_version {version!r} is not supported"):
        load_bundle(bundle_dir)


def test_listed_file_missing(bundle_dir):
    (bundle_dir / "search.onnx").unlink()
    with pytest.raises(ValueError, match=r"search\.onnx: listed in manifest\.json but missing"):
        load_bundle(bundle_dir)


def test_sha256_mismatch_names_the_file(bundle_dir):
    (bundle_dir / "template.onnx").write_bytes(b"template graph bytez")  # same size, other bytes
    with pytest.raises(ValueError, match=r"template\.onnx: sha256 mismatch"):
        load_bundle(bundle_dir)
    assert load_bundle(bundle_dir, verify=False).variant == "tiny"  # existence is still checked


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.pop("graphs"), "lacks the field 'graphs'"),
        (lambda d: d["model"].pop("search_size"), "model lacks the field 'search_size'"),
        (lambda d: d.__setitem__("batch", "1"), "batch must be int"),
        (lambda d: d["graphs"]["search"]["inputs"][0].__setitem__("shape", [1, -1, 256, 3]), "static shapes"),
        (lambda d: d["graphs"]["search"]["outputs"][0].__setitem__("dtype", "float128"), "dtype 'float128'"),
        (lambda d: d["preprocess"].__setitem__("color_order", "yuv"), "color_order"),
        (lambda d: d["graphs"].pop("search"), "no 'search' graph"),
        (lambda d: d["state"][0].__setitem__("name", "other"), "state tensor 'other'"),
        (lambda d: d.__setitem__("batch", 2), "has batch 1, the bundle says 2"),
        (lambda d: d["files"].__setitem__("../outside.onnx", {"sha256": "0", "bytes": 1}), "plain file name"),
        (lambda d: d["graphs"]["search"]["files"].__setitem__("onnx", "other.onnx"), "no entry in 'files'"),
    ],
)
def test_malformed_manifest_is_a_clear_value_error(bundle_dir, change, message):
    _edit(bundle_dir, change)
    with pytest.raises(ValueError, match=message) as info:
        load_bundle(bundle_dir)
    assert MANIFEST_NAME in str(info.value)


def test_unknown_role_says_what_the_bundle_has(bundle_dir):
    with pytest.raises(KeyError, match="no 'tensorrt_engine' file"):
        load_bundle(bundle_dir).path("search", "tensorrt_engine")


def test_room_for_later_targets(tmp_path):
    """A TensorRT-style bundle: more roles per graph, extra files, runtime facts, calibration."""
    for name in ("search.onnx", "search.engine", "template.onnx", "template.engine", "calib.json"):
        (tmp_path / name).write_bytes(name.encode())
    base = _manifest()
    graphs = {
        name: replace(g, files={"onnx": f"{name}.onnx", "tensorrt_engine": f"{name}.engine"})
        for name, g in base.graphs.items()
    }
    m = replace(
        base,
        target="tensorrt",
        precision="int8",
        graphs=graphs,
        runtime={"tensorrt": "10.9", "gpu": "NVIDIA H200"},
        calibration={"file": "calib.json", "frames": 64},
    )
    write_manifest(tmp_path, m, extra_files=("calib.json",))
    b = load_bundle(tmp_path)
    assert b.path("template", "tensorrt_engine").name == "template.engine"
    assert b.manifest.runtime["gpu"] == "NVIDIA H200" and b.manifest.calibration["frames"] == 64
    assert "calib.json" in b.manifest.files


def test_write_manifest_refuses_a_missing_file(tmp_path):
    (tmp_path / "template.onnx").write_bytes(b"x")
    with pytest.raises(ValueError, match=r"search\.onnx: the manifest lists this file but it was not written"):
        write_manifest(tmp_path, _manifest())


def test_bundle_module_needs_neither_torch_nor_numpy():
    code = "import sys, asymtrack_deploy.bundle; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])
