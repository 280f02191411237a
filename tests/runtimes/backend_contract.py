"""What every runtime backend promises its callers, checked the same way for each of them.

A backend module's tests call these with a backend class, a bundle and the reference crop pairs;
keeping the checks in one place keeps the backends interchangeable in their errors too.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import reference_file

ROOT = Path(__file__).resolve().parents[2]


def assert_thread_count_is_validated(backend_class, bundle, threads) -> None:
    with pytest.raises(ValueError, match="threads must be an integer from 1 to 1024"):
        backend_class(bundle, threads=threads)


def assert_bad_crops_and_states_are_refused(backend, pairs) -> None:
    with pytest.raises(ValueError, match=r"uint8 of shape \(1, 256, 256, 3\)"):
        backend.search(pairs["search"][0:2], backend.template(pairs["template"][0:1]))
    with pytest.raises(RuntimeError, match="call template\\(\\) first"):
        backend.search(pairs["search"][0:1], None)
    with pytest.raises(ValueError, match=f"this same {type(backend).__name__}"):
        backend.search(pairs["search"][0:1], {"stage1_etm_depth": np.zeros((1, 2, 3), np.float32)})


def assert_state_of_another_instance_is_refused(backend_class, bundle, backend, pairs) -> None:
    with backend_class(bundle) as other:
        foreign = other.template(pairs["template"][0:1])
        with pytest.raises(ValueError, match=f"this same {backend_class.__name__}"):
            backend.search(pairs["search"][0:1], foreign)


def assert_closed_backend_says_so(backend_class, bundle, pairs) -> None:
    backend = backend_class(bundle)
    state = backend.template(pairs["template"][0:1])
    backend.close()
    backend.close()  # closing twice is harmless
    with pytest.raises(RuntimeError, match=f"this {type(backend).__name__} is closed"):
        backend.template(pairs["template"][0:1])
    with pytest.raises(RuntimeError, match=f"this {type(backend).__name__} is closed"):
        backend.search(pairs["search"][0:1], state)


def assert_runs_without_torch(backend_name: str, bundle, box_tolerance: float) -> None:
    """A fresh interpreter loads the package, the registry and the backend, runs the bundle on a
    reference pair, and never imports torch: the promise to lean apps and edge devices."""
    code = textwrap.dedent(
        f"""
        import sys
        import numpy as np
        import asymtrack_deploy
        from asymtrack_deploy.runtimes import load_backend
        backend = load_backend({backend_name!r}, bundle={str(bundle)!r})
        data = np.load({str(reference_file("pairs_tiny.npz"))!r})
        boxes, scores = backend.search(data["search"][:1], backend.template(data["template"][:1]))
        assert np.abs(boxes[0] - data["pred_boxes"][0]).max() < {box_tolerance}
        leaked = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
        assert not leaked, leaked
        print("ok")
        """
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def damaged_copy(bundle: Path, dest: Path, name: str, how: str) -> Path:
    """A copy of ``bundle`` whose file ``name`` is cut to half its size (``how`` "truncate") or
    replaced by as many seeded random bytes ("random"), with the manifest's digest updated to
    match: only the runtime reading the graph can tell."""
    import hashlib
    import json
    import shutil

    copy = Path(shutil.copytree(bundle, dest))
    path = copy / name
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if how == "truncate" else np.random.default_rng(0).bytes(len(data)))
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["files"][name] = {"sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "bytes": path.stat().st_size}
    (copy / "manifest.json").write_text(json.dumps(manifest))
    return copy


def assert_two_threads_get_the_boxes_each_gets_alone(backend) -> None:
    """Two trackers in two threads over one backend give exactly the boxes each gives alone."""
    import threading

    from asymtrack_deploy.sources import builtin_sequence
    from asymtrack_deploy.tracker import Tracker

    frames = builtin_sequence().frames()[:6]
    boxes = [(638, 240, 50, 82), (300, 200, 60, 90)]

    def track(box):
        tracker = Tracker(backend)
        tracker.init(frames[0], box)
        return [tuple(tracker.update(frame).box) for frame in frames[1:]]

    alone = [track(box) for box in boxes]
    together = [None, None]
    threads = [threading.Thread(target=lambda i=i: together.__setitem__(i, track(boxes[i]))) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert together == alone


def assert_bundle_backend_contract(backend_class, bundle, pairs) -> None:
    """The checks above that every bundle backend passes, in one call."""
    assert_thread_count_is_validated(backend_class, bundle, 0)
    with backend_class(bundle) as backend:
        assert_bad_crops_and_states_are_refused(backend, pairs)
        assert_state_of_another_instance_is_refused(backend_class, bundle, backend, pairs)
    assert_closed_backend_says_so(backend_class, bundle, pairs)
