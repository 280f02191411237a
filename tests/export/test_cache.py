"""The bench bundle cache: a changed exporter never reuses a stale bundle."""
from __future__ import annotations

import shutil
from pathlib import Path

import asymtrack_deploy
from asymtrack_deploy.export.cache import code_key


def test_code_key_follows_the_exporting_sources(tmp_path):
    package = Path(shutil.copytree(Path(asymtrack_deploy.__file__).parent, tmp_path / "pkg"))
    before = code_key(package)
    assert before == code_key(package) == code_key()
    (package / "cli" / "bench.py").write_text("# not an exporting source\n")
    assert code_key(package) == before
    wrappers = package / "export" / "wrappers.py"
    wrappers.write_text(wrappers.read_text() + "\n# another graph form\n")
    assert code_key(package) != before
