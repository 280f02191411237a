"""`asymtrack-deploy track` over a folder of frames, writing boxes and an annotated video."""
from __future__ import annotations

import cv2
import pytest
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


def _one_error_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error:"), result.output
    return lines[0]


@pytest.mark.parametrize("option", [["--show", "--init", "638,240,50,82"], ["--select"]])
def test_track_show_or_select_without_a_gui_opencv_names_what_to_install(option, monkeypatch):
    from asymtrack_deploy.cli import track

    monkeypatch.setattr(track, "gui_backend", lambda: "NONE")  # what opencv-python-headless reports
    result = runner.invoke(app, ["track", str(builtin_sequence().folder), *option, "--max-frames", "2"])
    line = _one_error_line(result)
    assert "pip uninstall -y opencv-python-headless && pip install opencv-python" in line


def test_the_headless_opencv_the_package_installs_is_recognised():
    from importlib import metadata

    from asymtrack_deploy.cli.track import gui_backend

    def installed(name):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    if installed("opencv-python") or not installed("opencv-python-headless"):
        pytest.skip("a GUI OpenCV is installed here")
    assert gui_backend() == "NONE"


def test_track_show_without_a_display_says_so_in_one_line(monkeypatch):
    from asymtrack_deploy.cli import track

    monkeypatch.setattr(track, "gui_backend", lambda: "QT5")  # a GUI OpenCV, on a machine without a display
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    result = runner.invoke(app, ["track", str(builtin_sequence().folder), "--show", "--init", "638,240,50,82"])
    assert "needs a display and none is set" in _one_error_line(result)


def test_track_needs_a_starting_box_from_init_or_select():
    result = runner.invoke(app, ["track", str(builtin_sequence().folder)])
    assert "give --init x,y,w,h, or --select" in _one_error_line(result)
    result = runner.invoke(app, ["track", str(builtin_sequence().folder), "--init", "1,2,3,4", "--select"])
    assert result.exit_code == 2 and "not both" in result.output


def test_select_draws_the_first_box_on_the_first_frame(monkeypatch, tmp_path):
    """--select hands the first frame to cv2.selectROI and starts from the box drawn (the window
    itself needs a GUI OpenCV and a display: neither is here, so selectROI is stood in for)."""
    from asymtrack_deploy.cli import track

    drawn = []
    monkeypatch.setattr(track, "_require_gui", lambda option: None)
    monkeypatch.setattr(cv2, "selectROI", lambda title, frame, **kw: drawn.append(frame.shape) or (638, 240, 50, 82), raising=False)
    monkeypatch.setattr(cv2, "destroyWindow", lambda title: None, raising=False)
    boxes = tmp_path / "boxes.txt"
    result = runner.invoke(app, ["track", str(builtin_sequence().folder), "--select", "--max-frames", "3", "-o", str(boxes)])
    assert result.exit_code == 0, result.output
    assert drawn == [cv2.imread(str(sorted(builtin_sequence().folder.glob("*.jpg"))[0])).shape]
    assert boxes.read_text().splitlines()[0] == "638.00,240.00,50.00,82.00"
    monkeypatch.setattr(cv2, "selectROI", lambda title, frame, **kw: (0, 0, 0, 0), raising=False)  # cancelled
    result = runner.invoke(app, ["track", str(builtin_sequence().folder), "--select", "--max-frames", "3"])
    assert result.exit_code == 2 and "no box was drawn" in result.output


def test_track_0_reads_the_first_camera_and_says_when_there_is_none(monkeypatch):
    import glob

    if glob.glob("/dev/video*"):
        pytest.skip("a camera is attached here: this checks the message without one")
    result = runner.invoke(app, ["track", "0", "--init", "1,2,3,4", "--max-frames", "1"])
    assert "camera 0: cannot be opened" in _one_error_line(result)


def test_track_reads_a_folder_of_ppm_frames(tmp_path):
    """The C tool's frames (PPM) are a source for the Python track too."""
    for index, path in enumerate(sorted(builtin_sequence().folder.glob("*.jpg"))[:3]):
        cv2.imwrite(str(tmp_path / f"{index:04d}.ppm"), cv2.imread(str(path)))
    result = runner.invoke(app, ["track", str(tmp_path), "--init", "638,240,50,82"])
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 3


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
