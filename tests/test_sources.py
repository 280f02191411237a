"""Frame sources: FFmpeg's decoder chatter stays out of the user's terminal, unless asked for."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# box.mp4's h264 stream makes FFmpeg's decoder complain (at its error level) while every frame decodes
CHATTER = "A non-intra slice in an IDR NAL unit"
READ = ("from asymtrack_deploy.sources import open_source, sample_frames; import sys; "
        "print(len(list(open_source(sys.argv[1]))), len(sample_frames(sys.argv[1], 5)))")


def _read(path: Path, **env) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "OPENCV_FFMPEG_LOGLEVEL"}
    return subprocess.run([sys.executable, "-c", READ, str(path)], capture_output=True, text=True, timeout=120,
                          env={**environ, **env}, check=True)


def test_decoder_chatter_is_quiet_and_every_frame_is_read(box_mp4):
    result = _read(box_mp4)
    assert result.stdout.split()[0] == "455" and int(result.stdout.split()[1]) > 0
    assert CHATTER not in result.stderr + result.stdout, result.stderr


def test_the_users_ffmpeg_log_level_wins(box_mp4):
    result = _read(box_mp4, OPENCV_FFMPEG_LOGLEVEL="16")  # OpenCV prints FFmpeg's lines on either stream
    assert CHATTER in result.stderr + result.stdout
