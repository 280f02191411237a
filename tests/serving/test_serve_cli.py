"""``export --target triton`` and ``serve`` through the command line."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

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
    assert result.exit_code == 2 and "onnxruntime or openvino" in result.output
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
    """... nor its temporary log (one tritonserver-*.log was left per run)."""
    server_or_skip()
    command = [sys.executable, "-m", "asymtrack_deploy.cli.main", "serve", str(repository),
               "--http-port", "0", "--grpc-port", "0", "--instances", "2"]
    env = {**os.environ, "COLUMNS": "200", "TMPDIR": str(tmp_path)}
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
        assert list(tmp_path.glob("tritonserver-*.log")) == []
    finally:
        if process.poll() is None:
            process.kill()


def _serve_error(arguments: list[str], tmp_path) -> str:
    """Run serve expecting a failure; its error line (the only line after "starting Triton")."""
    env = {**os.environ, "COLUMNS": "2000", "TMPDIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "asymtrack_deploy.cli.main", "serve", *arguments],
                          capture_output=True, text=True, env=env, timeout=400)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 1 and len(lines) == 2 and lines[0].startswith("starting Triton"), done.stderr
    return lines[1]


@pytest.mark.slow
def test_a_tampered_repository_or_a_busy_port_is_one_line_naming_the_log(repository, tmp_path):
    """Both printed about 15 lines of server log after the error."""
    import shutil
    import socket

    server_or_skip()
    tampered = Path(shutil.copytree(repository, tmp_path / "tampered"))
    graph = next((tampered / "tracker" / "1" / "bundle").glob("search*.onnx"))
    graph.write_bytes(graph.read_bytes()[:-1] + b"x")
    line = _serve_error([str(tampered), "--http-port", "0", "--grpc-port", "0"], tmp_path)
    logs = list(tmp_path.glob("tritonserver-*.log"))
    assert line.startswith("error: Triton could not load the 'tracker' model:") and "sha256 mismatch" in line
    assert len(logs) == 1 and line.endswith(f"(its log: {logs[0]})")  # the log is kept when it is named
    logs[0].unlink()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        line = _serve_error([str(repository), "--http-port", str(port), "--grpc-port", "0"], tmp_path)
    logs = list(tmp_path.glob("tritonserver-*.log"))
    assert line.startswith("error: tritonserver exited with code") and len(logs) == 1
    assert line.endswith(f"(its log: {logs[0]})")


def test_serve_says_it_downloads_and_unpacks_the_server_on_first_use(tmp_path, monkeypatch):
    import io

    from rich.console import Console

    from asymtrack_deploy.cli import serve
    from asymtrack_deploy.serving import server

    monkeypatch.setenv("ASYMTRACK_TRITON_HOME", str(tmp_path / "triton"))
    monkeypatch.setenv("PATH", str(tmp_path))  # no tritonserver on PATH
    monkeypatch.setattr(server, "_pytriton_root", lambda: None)
    # A console of its own: setting the shared console's file would pin it, after the undo, to
    # this test's captured stream, which later CliRunner tests would find closed.
    captured = io.StringIO()
    monkeypatch.setattr(serve, "err", Console(file=captured, width=2000))
    serve._say_first_install()
    said = " ".join(captured.getvalue().split())
    assert "first use: downloading the nvidia-pytriton wheel" in said and "146 MB Triton server" in said
    assert str(tmp_path / "triton") in said
