"""Conversion toolkits run in a child process that cannot reach the network or start processes
(MNN's Python converter pip-installs a package and uploads logs; onnx2tf downloads sample data)."""
from __future__ import annotations

import pytest

from asymtrack_deploy.export.toolkit_process import ToolkitError, run_toolkit, toolkit_python


def test_the_child_runs_code_with_its_arguments():
    assert run_toolkit("import sys; print('+'.join(sys.argv[1:]))", ["a", 1], "echo").strip() == "a+1"


@pytest.mark.parametrize("code", [
    "import socket; socket.create_connection(('127.0.0.1', 9))",
    "import socket; socket.getaddrinfo('example.com', 443)",
    "import socket; s = socket.socket(); s.connect(('127.0.0.1', 9))",
    "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9/')",
])
def test_network_is_refused(code):
    with pytest.raises(ToolkitError, match="no network access during export"):
        run_toolkit(code, [], "a toolkit")


@pytest.mark.parametrize("code", [
    "import os; os.system('pip install -U aliyun-log-python-sdk')",  # what MNN's Python converter does
    "import subprocess; subprocess.run(['/usr/bin/curl', '-O', 'http://127.0.0.1:9/x'])",
    "import subprocess, sys; subprocess.run([sys.executable, '-m', 'pip', 'install', 'x'])",
])
def test_installing_or_downloading_children_are_refused(code):
    with pytest.raises(ToolkitError, match="tried to install or download during export"):
        run_toolkit(code, [], "a toolkit")


def test_local_tools_still_run():
    """platform.architecture() runs `file` (RKNN-Toolkit2 calls it on import)."""
    code = "import platform, subprocess; platform.architecture(); print(subprocess.run(['true']).returncode)"
    assert run_toolkit(code, [], "a toolkit").strip() == "0"


def test_a_failure_quotes_the_output_and_names_the_toolkit():
    with pytest.raises(ToolkitError, match=r"the converter failed \(exit 3\).*last words"):
        run_toolkit("import sys; print('last words'); sys.exit(3)", [], "the converter")


def test_toolkit_python_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("ASYMTRACK_TEST_TOOLKIT", raising=False)
    monkeypatch.setenv("ASYMTRACK_TOOLKITS_HOME", str(tmp_path))
    assert toolkit_python("nothing", "ASYMTRACK_TEST_TOOLKIT") is None
    python = tmp_path / "kit" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("")
    assert toolkit_python("kit", "ASYMTRACK_TEST_TOOLKIT") == python
    monkeypatch.setenv("ASYMTRACK_TEST_TOOLKIT", "/opt/python")
    assert str(toolkit_python("kit", "ASYMTRACK_TEST_TOOLKIT")) == "/opt/python"
