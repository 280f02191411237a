"""``export --target triton`` and ``serve`` through the command line."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
from typer.testing import CliRunner

from asymtrack_deploy.bundle import load_bundle
from asymtrack_deploy.cli.main import app
from asymtrack_deploy.runtimes.torch_backend import default_checkpoint
from tests.serving.conftest import server_or_skip
from tests.serving.test_server import _group_members

runner = CliRunner()


@pytest.mark.slow
def test_export_target_triton_writes_a_repository_with_a_dynamic_batch_search_model(tmp_path):
    repo = tmp_path / "repo"
    result = runner.invoke(app, ["export", "--target", "triton", "--backend", "onnxruntime", "--checkpoint",
                                 str(default_checkpoint()), "--out", str(repo), "--instances", "2", "--max-batch", "4"])
    assert result.exit_code == 0, result.output
    record = json.loads((repo / "asymtrack_repository.json").read_text())
    assert record["tracker"]["backend"] == "onnxruntime" and record["tracker"]["instances"] == 2
    assert record["search"]["dynamic_batching"] and record["bundle"]["target"] == "onnxruntime"
    assert "max_batch_size: 4" in (repo / "search/config.pbtxt").read_text()
    _assert_stateless_search_matches_the_bundle(repo / "search/1/model.onnx", repo / "tracker/1/bundle")


def _assert_stateless_search_matches_the_bundle(model_path, bundle_dir):
    """The stateless model (state as inputs, any batch) gives the bundle's boxes. Triton's stock
    onnxruntime backend is not in the binary here, so ONNX Runtime runs the file directly."""
    import onnxruntime as ort

    from asymtrack_deploy.parity import parity_crops
    from asymtrack_deploy.runtimes import load_bundle_backend

    bundle = load_bundle(bundle_dir)
    crops = parity_crops(bundle.manifest.model, pairs=3)  # real crops of the built-in sequence
    with load_bundle_backend(bundle_dir) as backend:
        handles = [backend.template(t[None]) for t in crops.templates]
        expected = np.concatenate([backend.search(s[None], h)[0] for s, h in zip(crops.searches, handles)])
        states = [h.numpy() for h in handles]
    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    feeds = {"search": crops.searches}
    feeds.update({name: np.concatenate([s[name] for s in states]) for name in bundle.state_names})
    box, _ = session.run(None, feeds)
    np.testing.assert_allclose(box, expected, atol=1e-4)


def test_triton_options_belong_to_the_triton_target(tmp_path):
    result = runner.invoke(app, ["export", "--target", "onnx", "--random-weights", "--out", str(tmp_path / "b"),
                                 "--instances", "2"])
    assert result.exit_code == 2 and "--instances: not an option of --target onnx" in " ".join(result.output.split())
    result = runner.invoke(app, ["export", "--target", "triton", "--random-weights", "--out", str(tmp_path / "b"),
                                 "--backend", "tensorrt"])
    assert result.exit_code == 2 and "openvino or onnxruntime" in result.output
    assert not (tmp_path / "b").exists()


def test_serve_refuses_a_folder_that_is_no_repository(tmp_path):
    result = runner.invoke(app, ["serve", str(tmp_path)])
    assert result.exit_code == 2 and "export --target triton" in " ".join(result.output.split())


def _wait_for_line(process, prefix: str, timeout: float = 180.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            raise AssertionError(f"serve exited with {process.returncode}: {process.stderr.read()}")
        if prefix in line:
            return line
    raise AssertionError(f"serve printed no {prefix!r} line within {timeout} s")


@pytest.mark.slow
def test_serve_runs_until_sigterm_and_leaves_no_process(repository, tmp_path):
    server_or_skip()
    command = [sys.executable, "-m", "asymtrack_deploy.cli.main", "serve", str(repository),
               "--http-port", "0", "--grpc-port", "0", "--instances", "2", "--log", str(tmp_path / "server.log")]
    env = {**os.environ, "COLUMNS": "200"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        http = _wait_for_line(process, "HTTP").split("http://")[1].split()[0]
        group = int(_wait_for_line(process, "server pid").split("│")[2])
        with urllib.request.urlopen(f"http://{http}/v2/models/tracker/config", timeout=10) as response:
            assert json.load(response)["instance_group"][0]["count"] == 2
        assert len(_group_members(group)) == 3
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        assert _group_members(group) == []
    finally:
        if process.poll() is None:
            process.kill()


def test_serve_says_it_downloads_and_unpacks_the_server_on_first_use(tmp_path, monkeypatch, capsys):
    from asymtrack_deploy.cli import serve
    from asymtrack_deploy.serving import server

    monkeypatch.setenv("ASYMTRACK_TRITON_HOME", str(tmp_path / "triton"))
    monkeypatch.setenv("PATH", str(tmp_path))  # no tritonserver on PATH
    monkeypatch.setattr(server, "_pytriton_root", lambda: None)
    monkeypatch.setattr(serve.err, "file", sys.stderr)
    serve._say_first_install()
    said = " ".join(capsys.readouterr().err.split())
    assert "first use: downloading the nvidia-pytriton wheel" in said and "146 MB Triton server" in said
    assert str(tmp_path / "triton") in said
