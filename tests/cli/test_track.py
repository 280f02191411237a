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


# -- outputs that cannot lose data (issue 24, defects 1 and 2) ---------------------------------------


def _sha256(path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _track(source, *args):
    return runner.invoke(app, ["track", str(source), "--init", "638,240,50,82", "--max-frames", "2",
                               *[str(a) for a in args]], catch_exceptions=False)


def test_an_output_naming_the_source_video_is_refused_and_the_video_kept(box_mp4):
    before = _sha256(box_mp4)
    for option in ("-o", "--video-out"):
        for force in ([], ["--force"]):
            result = _track(box_mp4, option, box_mp4, *force)
            assert result.exit_code == 2 and "is an input of the run" in result.output, result.output
            assert _sha256(box_mp4) == before


def test_an_output_naming_a_frame_of_the_source_folder_or_a_link_to_it_is_refused(tmp_path):
    import shutil

    folder = tmp_path / "frames"
    folder.mkdir()
    for path in builtin_sequence().files[:3]:
        shutil.copy(path, folder / path.name)
    frame = sorted(folder.iterdir())[1]
    link = tmp_path / "link.jpg"
    link.symlink_to(frame)
    before = _sha256(frame)
    for target in (frame, link, folder / ".." / "frames" / frame.name):
        result = _track(folder, "--video-out", target, "--force")
        assert result.exit_code == 2 and "is an input of the run" in result.output, result.output
    result = _track(folder, "-o", tmp_path / "same.mp4", "--video-out", tmp_path / "same.mp4")
    assert result.exit_code == 2 and "is an input of the run" in result.output
    assert _sha256(frame) == before and not (tmp_path / "same.mp4").exists()


def test_an_existing_output_needs_force_and_a_rejected_run_keeps_it_byte_for_byte(tmp_path):
    boxes, video = tmp_path / "boxes.txt", tmp_path / "out.mp4"
    boxes.write_bytes(b"earlier results\n")
    video.write_bytes(b"an earlier video")
    result = _track(builtin_sequence().folder, "-o", boxes)
    assert result.exit_code == 2 and "already exists; pass --force" in result.output
    # --force reaches the tracker, which rejects the box (outside the frame): nothing is replaced
    result = runner.invoke(app, ["track", str(builtin_sequence().folder), "--init", "5000,5000,10,10", "-o",
                                 str(boxes), "--video-out", str(video), "--force", "--checkpoint",
                                 str(reference_checkpoint("tiny"))])
    assert result.exit_code == 2 and "outside the 768 x 576 frame" in result.output, result.output
    assert boxes.read_bytes() == b"earlier results\n" and video.read_bytes() == b"an earlier video"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["boxes.txt", "out.mp4"]  # no temporary file left


def test_forced_output_is_replaced_when_the_run_made_boxes(tmp_path):
    boxes = tmp_path / "boxes.txt"
    boxes.write_text("earlier results\n")
    result = _track(builtin_sequence().folder, "-o", boxes, "--force", "--checkpoint", reference_checkpoint("tiny"))
    assert result.exit_code == 0, result.output
    assert boxes.read_text().splitlines()[0] == "638.00,240.00,50.00,82.00" and len(boxes.read_text().splitlines()) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["boxes.txt"]


def test_a_character_device_output_is_written_as_a_stream_and_never_removed(tmp_path):
    import os
    import stat

    if os.geteuid() != 0:
        import pytest

        pytest.skip("mknod of a character device needs root")
    device = tmp_path / "nulldev"
    os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # a private /dev/null
    for init in ("5000,5000,10,10", "638,240,50,82"):  # rejected, then a run that writes boxes
        runner.invoke(app, ["track", str(builtin_sequence().folder), "--init", init, "--max-frames", "2",
                            "-o", str(device), "--checkpoint", str(reference_checkpoint("tiny"))])
        assert stat.S_ISCHR(os.stat(device).st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["nulldev"]
