"""The TraX server, driven by vot-trax's own client as the VOT toolkit drives it: the real
Tracker (torch backend, random-weight tiny) answers every frame of a small sequence."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from asymtrack_deploy.eval.trax_server import trackers_ini

from eval_fixtures import folder_dataset

REPO = Path(__file__).resolve().parents[2]

pytest.importorskip("trax", reason="pip install vot-trax")
pytest.importorskip("torch", reason="the server runs the torch backend here")


def _server(extra_env: dict) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO), **extra_env)
    return subprocess.Popen([sys.executable, "-m", "asymtrack_deploy.eval.trax_server"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def test_client_gets_a_box_for_every_frame(tmp_path):
    from trax import Rectangle
    from trax.client import Client
    from trax.image import FileImage, MemoryImage

    gts = folder_dataset(tmp_path, count=1, frames=6)
    frames = sorted((tmp_path / "seq00" / "img").glob("*.jpg"))
    proc = _server({"ASYMTRACK_RANDOM_WEIGHTS": "1", "ASYMTRACK_VARIANT": "tiny"})
    try:
        client = Client(stream=(proc.stdin.fileno(), proc.stdout.fileno()), timeout=120, log=lambda message: None)
        assert client.tracker_name == "AsymTrack"
        init = tuple(float(v) for v in gts["seq00"][0])
        objects, _ = client.initialize({"color": FileImage.create(str(frames[0]))}, [(Rectangle.create(*init), {})], {})
        assert objects[0][0].bounds() == pytest.approx(init)
        boxes = []
        for i, path in enumerate(frames[1:]):
            import cv2

            # alternate the two image transports the toolkit uses: a path, and raw RGB memory
            image = FileImage.create(str(path)) if i % 2 else MemoryImage.create(cv2.imread(str(path))[:, :, ::-1].copy())
            objects, _ = client.frame({"color": image}, {}, [])
            region, properties = objects[0]
            boxes.append(region.bounds())
            assert 0.0 <= float(properties["confidence"]) <= 1.0
        client.quit()
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert len(boxes) == len(frames) - 1
    assert np.isfinite(boxes).all() and (np.asarray(boxes)[:, 2:] > 0).all()
    assert b"6 frames tracked" in proc.stderr.read()


def test_server_without_a_tracker_says_what_to_set():
    proc = _server({})
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0 and b"ASYMTRACK_BUNDLE" in err


def test_trackers_ini():
    text = trackers_ini("asymtrack_t", {"BUNDLE": "/b/tiny", "ASYMTRACK_BACKEND": "onnxruntime"},
                        python="/usr/bin/python3", paths=["/src"])
    assert text.splitlines() == [
        "[asymtrack_t]", "label = asymtrack_t", "protocol = traxpython",
        "command = asymtrack_deploy.eval.trax_server", "python = /usr/bin/python3", "paths = /src",
        "env_ASYMTRACK_BUNDLE = /b/tiny", "env_ASYMTRACK_BACKEND = onnxruntime",
    ]


@pytest.mark.slow
def test_vot_toolkit_test_command(tmp_path):
    """``vot test`` against a generated trackers.ini. vot-toolkit 0.9.0 needs attributee==0.1.9
    and pulls opencv-python, so it lives in its own environment: set ASYMTRACK_VOT to its
    ``vot`` executable to run this."""
    vot = os.environ.get("ASYMTRACK_VOT") or shutil.which("vot")
    if not vot:
        pytest.skip("vot-toolkit not found (set ASYMTRACK_VOT=/path/to/venv/bin/vot)")
    (tmp_path / "trackers.ini").write_text(
        trackers_ini("asymtrack_random", {"RANDOM_WEIGHTS": "1"}, python=sys.executable, paths=[str(REPO)])
    )
    done = subprocess.run([vot, "test", "asymtrack_random"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Test concluded successfuly" in done.stdout + done.stderr
