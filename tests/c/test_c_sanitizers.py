"""The C core (JSON, SHA-256, manifest, crop, resize) under AddressSanitizer and UBSan, and the
library's OpenVINO calls under valgrind's leak checker.

The core is built without OpenVINO (its TBB does not run under AddressSanitizer), so the tests that
load graphs (test_c_tracker.py, test_c_bad_input.py) run without sanitizers; everything they call
outside OpenVINO is this core, exercised here with malformed and random input. What the library
does with OpenVINO (its failure paths included) is checked with valgrind, which needs no rebuild.
"""
from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

from tests.c.conftest import cmake_build


def test_core_under_address_and_undefined_behaviour_sanitizers(tmp_path_factory):
    build = cmake_build(tmp_path_factory.mktemp("runtime-c-asan"), "-DASYMTRACK_SANITIZE=ON")
    done = subprocess.run([str(build.core_tests)], capture_output=True, text=True, timeout=600,
                          env={"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0", "UBSAN_OPTIONS": "print_stacktrace=1"})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]
    assert done.stdout.strip().endswith("0 failed")


def test_an_openvino_failure_leaks_nothing_under_valgrind(c_build, demo_bundle, tmp_path):
    """Every OpenVINO failure goes through one message builder, which must free the string
    ov_get_last_err_msg() hands over (it leaked 185 bytes per failure)."""
    if shutil.which("valgrind") is None:
        pytest.skip("valgrind is not installed (apt-get install valgrind)")
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "0000.ppm").write_bytes(b"P6\n32 24\n255\n" + np.full((24, 32, 3), 90, np.uint8).tobytes())
    done = subprocess.run(["valgrind", "--leak-check=full", "--show-leak-kinds=definite", str(c_build.track),
                           "--device", "NO_SUCH_DEVICE", str(demo_bundle), str(frames), "4,4,8,8"],
                          capture_output=True, text=True, timeout=600)
    assert "cannot open the bundle: OpenVINO: compiling the graph failed" in done.stderr, done.stderr[-3000:]
    lost = re.search(r"definitely lost: ([\d,]+) bytes", done.stderr)
    assert lost is None or lost.group(1) == "0", done.stderr[-3000:]
    assert "Mismatched free" not in done.stderr, done.stderr[-3000:]
