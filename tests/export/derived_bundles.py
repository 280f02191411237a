"""Derived bundles (openvino, onnxruntime) shared by the export and runtime tests of a session.

Each (target, variant, precision) is exported once per session, into the session's base temp
folder, on first use; int8 exports calibrate on 8 pairs only (a CalibrationWarning, recorded in
the manifest), which is plenty to test the machinery and keeps the suite fast.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from tests.conftest import reference_checkpoint

TEST_CALIB_COUNT = 8


def demo_checkpoint() -> Path:
    """The trained demo weights (precision checks need realistic activations, not only random ones)."""
    from asymtrack_deploy.demo_weights import default_checkpoint

    path = default_checkpoint()
    if path is None:
        pytest.skip("the demo weights are not installed")
    return path


def shared_derived_bundle(
    tmp_path_factory: pytest.TempPathFactory, target: str, precision: str, variant: str = "tiny", demo: bool = False
) -> Path:
    """The reference checkpoint of ``variant`` (``demo``: the trained demo weights, tiny only)
    exported to ``target`` at ``precision``."""
    path = tmp_path_factory.getbasetemp() / f"shared_{variant}_{target}_{precision}{'_demo' if demo else ''}"
    if not (path / "manifest.json").is_file():
        from asymtrack_deploy.export import export_bundle

        options = {"calib_count": TEST_CALIB_COUNT} if precision == "int8" else {}
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*calibration pairs are too few.*")
            export_bundle(
                target,
                checkpoint=demo_checkpoint() if demo else reference_checkpoint(variant),
                variant=variant,
                out_dir=path,
                batch=1,
                force=True,
                precision=precision,
                **options,
            )
    return path


def executed_precisions_in_a_subprocess(bundle: Path, **options) -> dict[str, int]:
    """``OpenVinoBackend.executed_precisions()`` read in a process of its own, as ``bench`` and
    ``info --bundle`` read it (see there): the test process never walks a runtime graph."""
    import json
    import subprocess
    import sys

    code = ("import json, sys; from asymtrack_deploy.runtimes import load_backend; "
            "b = load_backend('openvino', bundle=sys.argv[1], **json.loads(sys.argv[2])); "
            "print(json.dumps(b.executed_precisions()))")
    done = subprocess.run([sys.executable, "-c", code, str(bundle), json.dumps(options)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
