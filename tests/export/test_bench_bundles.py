"""The bench bundle cache: a changed exporter never reuses a stale bundle."""
from __future__ import annotations

import shutil
from pathlib import Path

import asymtrack_deploy
from asymtrack_deploy.export.bench_bundles import code_key


def test_code_key_follows_the_exporting_sources(tmp_path):
    package = Path(shutil.copytree(Path(asymtrack_deploy.__file__).parent, tmp_path / "pkg"))
    before = code_key(package)
    assert before == code_key(package) == code_key()
    (package / "cli" / "bench.py").write_text("# not an exporting source\n")
    assert code_key(package) == before
    wrappers = package / "export" / "wrappers.py"
    wrappers.write_text(wrappers.read_text() + "\n# another graph form\n")
    assert code_key(package) != before


def test_code_key_covers_what_the_export_imports(tmp_path):
    """Modules the export reaches only through others (the crop rules, the frame sources) count,
    found from the imports; the target's converter counts for its own target only."""
    from asymtrack_deploy.export.bench_bundles import _imported_files

    package = Path(shutil.copytree(Path(asymtrack_deploy.__file__).parent, tmp_path / "pkg"))
    reached = {str(p.relative_to(package)) for p in _imported_files(package, ["export.pipeline"])}
    assert {"crop.py", "boxes.py", "sources.py", "tracker_spec.py", "runtimes/base.py", "export/wrappers.py",
            "models/asymtrack.py", "export/__init__.py"} <= reached
    assert not any(name.startswith("cli/") for name in reached)
    before = {t: code_key(package, t) for t in ("onnx", "openvino")}
    crop = package / "crop.py"
    crop.write_text(crop.read_text() + "\n# another crop rule\n")
    assert all(code_key(package, t) != key for t, key in before.items())
    before = {t: code_key(package, t) for t in ("onnx", "openvino")}
    converter = package / "export" / "openvino_target.py"
    converter.write_text(converter.read_text() + "\n# another conversion\n")
    assert code_key(package, "onnx") == before["onnx"] and code_key(package, "openvino") != before["openvino"]
