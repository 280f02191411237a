"""The Triton model repository writer: layout, configs (parsed as Triton's own protobuf), refusals."""
from __future__ import annotations

import shutil

import pytest

from asymtrack_deploy.bundle import load_bundle
from asymtrack_deploy.serving.repository import RECORD_NAME, read_record, write_repository


def _parse(path):
    """A config.pbtxt through Triton's ModelConfig protobuf: unknown fields or enums fail here."""
    model_config_pb2 = pytest.importorskip("tritonclient.grpc.model_config_pb2")
    from google.protobuf import text_format

    return text_format.Parse(path.read_text(), model_config_pb2.ModelConfig())


def test_repository_layout_and_tracker_config(onnx_b1, tmp_path):
    repo = write_repository(onnx_b1, tmp_path / "repo", instances=3, max_batch=16, threads=1)
    bundle = load_bundle(repo / "tracker/1/bundle", verify=True)
    assert bundle.manifest.files == load_bundle(onnx_b1).manifest.files
    assert "asymtrack_deploy.serving.python_model import TritonPythonModel" in (repo / "tracker/1/model.py").read_text()
    config = _parse(repo / "tracker/config.pbtxt")
    assert (config.name, config.backend, config.max_batch_size) == ("tracker", "python", 16)
    assert config.instance_group[0].count == 3
    seq = config.sequence_batching
    assert seq.HasField("oldest") and seq.oldest.max_candidate_sequences == 256
    controls = {c.name: c.control[0] for c in seq.control_input}
    assert set(controls) == {"START", "END", "READY", "CORRID"}
    assert controls["CORRID"].data_type == type(config).DESCRIPTOR.file.enum_types_by_name["DataType"] \
        .values_by_name["TYPE_UINT64"].number
    assert {i.name for i in config.input} == {"FRAME", "FRAME_ENCODED", "INIT_BOX"}
    assert all(i.optional for i in config.input)
    assert [o.name for o in config.output] == ["BOX", "SCORE", "STREAMS"]
    assert config.parameters["backend"].string_value == "onnxruntime"
    record = read_record(repo)
    assert record["tracker"]["instances"] == 3 and record["bundle"]["target"] == "onnx"


def test_search_model_from_a_bundle_keeps_its_static_shapes(onnx_b2, tmp_path):
    repo = write_repository(onnx_b2, tmp_path / "repo")
    config = _parse(repo / "search/config.pbtxt")
    assert (config.backend, config.max_batch_size) == ("onnxruntime", 0)
    assert list(config.input[0].dims) == [2, 256, 256, 3] and (repo / "search/1/model.onnx").is_file()
    assert [i.name for i in config.input][1:] == load_bundle(onnx_b2).state_names
    assert not config.HasField("dynamic_batching")


def test_openvino_bundle_runs_on_openvino(openvino_b1, tmp_path):
    repo = write_repository(openvino_b1, tmp_path / "repo", max_batch=4)
    assert _parse(repo / "tracker/config.pbtxt").parameters["backend"].string_value == "openvino"
    assert _parse(repo / "search/config.pbtxt").backend == "openvino"
    assert (repo / "search/1/model.xml").is_file() and (repo / "search/1/model.bin").is_file()
    with pytest.raises(ValueError, match="no 'onnx' graphs for the onnxruntime backend"):
        write_repository(openvino_b1, tmp_path / "other", backend="onnxruntime")


def test_existing_folders_and_bad_options_are_refused_and_nothing_is_left(onnx_b1, tmp_path):
    repo = write_repository(onnx_b1, tmp_path / "repo")
    with pytest.raises(FileExistsError, match="force=True"):
        write_repository(onnx_b1, repo)
    write_repository(onnx_b1, repo, force=True, instances=2)
    assert read_record(repo)["tracker"]["instances"] == 2
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "a.jpg").write_bytes(b"x")
    with pytest.raises(FileExistsError, match="not a repository written by asymtrack-deploy"):
        write_repository(onnx_b1, tmp_path / "photos", force=True)
    for bad in ({"instances": 0}, {"max_batch": -1}, {"backend": "tensorrt"}, {"idle_seconds": 0}):
        with pytest.raises(ValueError):
            write_repository(onnx_b1, tmp_path / "bad", **bad)
    with pytest.raises(ValueError, match="max_batch must be an integer from 1 to 64, got 100000"):
        write_repository(onnx_b1, tmp_path / "bad", max_batch=100000)
    with pytest.raises(ValueError, match="threads must be an integer from 1 to 1024, got 99999999999"):
        write_repository(onnx_b1, tmp_path / "bad", threads=99999999999)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos", "repo"]


def test_a_damaged_bundle_is_named(onnx_b1, tmp_path):
    bundle = shutil.copytree(onnx_b1, tmp_path / "bundle")
    with open(bundle / "search.onnx", "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(ValueError, match="search.onnx: sha256 mismatch"):
        write_repository(bundle, tmp_path / "repo")
    assert not (tmp_path / "repo").exists()


def test_read_record_explains_a_folder_that_is_no_repository(tmp_path):
    with pytest.raises(ValueError, match="export --target triton"):
        read_record(tmp_path)
    (tmp_path / RECORD_NAME).write_text("{")
    with pytest.raises(ValueError, match="not valid JSON"):
        read_record(tmp_path)
