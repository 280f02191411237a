"""`asymtrack-deploy track` over a folder of frames, writing boxes and an annotated video."""
from __future__ import annotations

import cv2
from typer.testing import CliRunner

from asymtrack_deploy.cli.main import app
from asymtrack_deploy.sources import builtin_sequence
from tests.conftest import reference_checkpoint

runner = CliRunner()


def test_track_folder_writes_one_box_per_frame_and_a_video(tmp_path):
    seq = builtin_sequence()
    boxes, video = tmp_path / "boxes.txt", tmp_path / "out.mp4"
    args = ["track", str(seq.folder), "--init", "638,240,50,82", "--checkpoint", str(reference_checkpoint("tiny")),
            "--max-frames", "6", "-o", str(boxes), "--video-out", str(video)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    lines = boxes.read_text().splitlines()
    assert len(lines) == 6 and lines[0] == "638.00,240.00,50.00,82.00"
    assert all(len(line.split(",")) == 4 for line in lines)
    assert "FPS" in result.output
    cap = cv2.VideoCapture(str(video))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 6


def test_track_show_without_gui_says_so(tmp_path):
    seq = builtin_sequence()
    result = runner.invoke(app, ["track", str(seq.folder), "--init", "638,240,50,82", "--checkpoint",
                                 str(reference_checkpoint("tiny")), "--max-frames", "2", "--show"])
    assert result.exit_code == 0, result.output
    assert "no GUI" in result.output or len(result.output.splitlines()) >= 2


def test_track_bad_box_and_missing_source(tmp_path):
    result = runner.invoke(app, ["track", str(tmp_path / "nope.mp4"), "--init", "1,2,3,4", "--checkpoint", str(reference_checkpoint("tiny"))])
    assert result.exit_code == 2 and "no such file" in result.output
    result = runner.invoke(app, ["track", str(tmp_path), "--init", "1,2,0,4"])
    assert result.exit_code == 2 and "w and h must be > 0" in result.output
