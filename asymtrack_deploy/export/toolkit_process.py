"""Conversion toolkits run as a child Python process, with the network switched off.

The edge converters drive a vendor toolkit (MNN's converter, onnx2tf, RKNN-Toolkit2) that this
package does not control. Two facts make them run in a child process rather than in ours:

* some need an interpreter of their own: onnx2tf pins TensorFlow 2.19, numpy 1.26 and protobuf 4,
  RKNN-Toolkit2 torch <= 2.4 and onnx <= 1.18, which the main environment cannot hold beside
  torch 2.13 and numpy 2; they live in their own virtual environments (``toolkit_python``);
* some reach for the network on their own: MNN's Python ``mnnconvert`` wrapper uploads usage
  logs and, when the logging package is missing, runs ``pip install`` from inside the import
  (it changed this environment's protobuf when first tried); onnx2tf downloads sample
  calibration images for some graphs. An export must not depend on, or change, anything
  outside the machine, so the child starts with every socket connection and name lookup
  refused (``_NO_NETWORK``) and its child processes that install or download (pip, curl, wget,
  git) refused too: a toolkit that tries says so in the error instead of fetching.

The child's output is kept and its tail is quoted in the error when it fails.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

__all__ = ["ToolkitError", "run_toolkit", "toolkit_python", "printed_versions", "TOOLKITS_HOME_ENV", "VERSIONS"]

TOOLKITS_HOME_ENV = "ASYMTRACK_TOOLKITS_HOME"  # where the toolkits' own virtual environments live
_TAIL = 2500  # characters of the child's output quoted in an error
VERSIONS = "VERSIONS "  # a child's line that gives, as JSON, the versions of what it ran

# Prepended to the child's code: connections refused, and child processes that would install or
# download something (pip, curl, wget, git) refused too; local tools (``file``, ``uname``) still run.
_NO_NETWORK = """\
import socket as _s, subprocess as _sp, os as _os, shlex as _sh
def _refuse(*a, **k):
    raise OSError("asymtrack-deploy: no network access during export (a toolkit tried to connect)")
_s.socket.connect = _refuse
_s.socket.connect_ex = _refuse
_s.create_connection = _refuse
_s.getaddrinfo = _refuse
_FETCHERS = {"pip", "pip3", "curl", "wget", "git"}
def _check_child(command):
    words = _sh.split(command) if isinstance(command, str) else [str(w) for w in command]
    names = [_os.path.basename(w) for w in words]
    if _FETCHERS & set(names) or ("-m" in names and "pip" in names):
        raise OSError("asymtrack-deploy: a toolkit tried to install or download during export: " + repr(command))
_popen_init, _system = _sp.Popen.__init__, _os.system
def _popen(self, command, *a, **k):
    try:
        _check_child(command)
    except OSError:
        self._child_created = False
        raise
    _popen_init(self, command, *a, **k)
def _guarded_system(command):
    _check_child(command)
    return _system(command)
_sp.Popen.__init__ = _popen
_os.system = _guarded_system
"""


class ToolkitError(RuntimeError):
    """A conversion toolkit failed; the message quotes the end of its output."""


def toolkit_python(name: str, env_var: str) -> Path | None:
    """The interpreter of toolkit ``name``'s own virtual environment: ``$env_var`` if set, else
    ``$ASYMTRACK_TOOLKITS_HOME/<name>/bin/python`` (default home:
    ``~/.cache/asymtrack-deploy/toolkits``); None when neither exists."""
    given = os.environ.get(env_var)
    if given:
        return Path(given)
    home = os.environ.get(TOOLKITS_HOME_ENV) or Path.home() / ".cache" / "asymtrack-deploy" / "toolkits"
    python = Path(home) / name / "bin" / "python"
    return python if python.is_file() else None


def run_toolkit(code: str, args: list[str], what: str, python: Path | str | None = None,
                cwd: Path | None = None, timeout: float = 1800) -> str:
    """Run ``code`` (Python source reading ``sys.argv[1:]`` = ``args``) in ``python`` (default:
    this interpreter) with the network refused; return its output, or raise ToolkitError
    naming ``what`` with the end of the output."""
    command = [str(python or sys.executable), "-c", _NO_NETWORK + code, *map(str, args)]
    env = {**os.environ, "PYTHONNOUSERSITE": "1"}
    if python is not None:  # another environment: our packages and paths mean nothing there
        env.pop("PYTHONPATH", None)
    try:
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise ToolkitError(f"{what} did not finish in {timeout:.0f} s") from exc
    output = (done.stdout or "") + (done.stderr or "")
    if done.returncode != 0:
        raise ToolkitError(f"{what} failed (exit {done.returncode}): ...{output[-_TAIL:]}")
    return output


def printed_versions(output: str, what: str) -> dict:
    """The versions a toolkit child printed on its last ``VERSIONS {json}`` line, for the
    manifest; a ToolkitError naming ``what`` when it printed none."""
    lines = [line for line in output.splitlines() if line.startswith(VERSIONS)]
    if not lines:
        raise ToolkitError(f"{what} printed no versions: ...{output[-_TAIL:]}")
    return json.loads(lines[-1][len(VERSIONS):])
