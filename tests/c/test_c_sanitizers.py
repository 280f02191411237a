"""The C core (JSON, SHA-256, manifest, crop, resize) under AddressSanitizer and UBSan.

Built without OpenVINO (its TBB does not run under AddressSanitizer), so the tests that load
graphs (test_c_tracker.py, test_c_bad_input.py) run without sanitizers; everything they call
outside OpenVINO is this core, exercised here with malformed and random input.
"""
from __future__ import annotations

import subprocess

from tests.c.conftest import cmake_build


def test_core_under_address_and_undefined_behaviour_sanitizers(tmp_path_factory):
    build = cmake_build(tmp_path_factory.mktemp("runtime-c-asan"), "-DASYMTRACK_SANITIZE=ON")
    done = subprocess.run([str(build.core_tests)], capture_output=True, text=True, timeout=600,
                          env={"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0", "UBSAN_OPTIONS": "print_stacktrace=1"})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]
    assert done.stdout.strip().endswith("0 failed")
