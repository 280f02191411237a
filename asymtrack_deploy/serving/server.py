"""Find, install and run the Triton Inference Server binary on a repository.

Where the binary comes from, in order: this package's cache (``ASYMTRACK_TRITON_HOME``, default
``~/.cache/asymtrack-deploy/tritonserver-<version>``), an installed ``nvidia-pytriton``, or a
``tritonserver`` on PATH (the NGC container). ``install_server()`` fills the cache from the
``nvidia-pytriton`` wheel on PyPI (55 MB; ``pip download --no-deps`` and unzip): the wheel ships
a real ``tritonserver`` (2.51) with the python backend, but the package itself pins numpy<2, so
it is never installed into this environment, only unpacked.

Two quirks of that binary, handled in ``server_environment``: the python backend's stub is an
embedded interpreter that loads whichever ``libpython3.X.so`` the loader finds first (the
system's, unless ``LD_LIBRARY_PATH`` names this interpreter's ``lib/``), and it ignores
PYTHONPATH, so this environment's site-packages travel in ``ASYMTRACK_TRITON_PYTHONPATH``, which
the repository's ``model.py`` adds. The stub must match this Python's version; the wheel has
3.8 to 3.13, copied per version beside the stock backend folder (the libraries find their
dependencies relative to their own folder, so the copy keeps the same depth).

``TritonServer`` starts the binary in its own process group (its python stubs are its
children), waits until it is ready, loads the ``tracker`` model (with the instance count as a
config override when asked) and on ``stop()`` ends the whole group: SIGTERM, then SIGKILL for
whatever is left, so nothing outlives it.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import site
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .repository import TRACKER_MODEL, TrackerOptions, read_record, tracker_config

__all__ = ["PYTRITON_VERSION", "ServerInstall", "ServerError", "TritonServer", "find_server", "install_server",
           "server_home", "free_port"]

PYTRITON_VERSION = "0.7.0"  # ships tritonserver 2.51 (NGC r24.10)
_WHEEL_PREFIXES = ("pytriton/tritonserver/", "nvidia_pytriton.libs/")


class ServerError(RuntimeError):
    """The server could not be found, installed, started or made to load the model."""


@dataclass(frozen=True)
class ServerInstall:
    """A ``tritonserver`` binary and its backend folder; ``bundled``: from the pytriton wheel
    (needs the stub environment), else a full install such as the NGC container's."""

    binary: Path
    backend_dir: Path
    bundled: bool


def server_home() -> Path:
    default = Path.home() / ".cache" / "asymtrack-deploy" / f"tritonserver-pytriton-{PYTRITON_VERSION}"
    return Path(os.environ.get("ASYMTRACK_TRITON_HOME", default))


def find_server(install: bool = False) -> ServerInstall:
    """The first Triton binary found (see the module docstring); with ``install`` the cache is
    filled when none is. A ServerError says how to get one otherwise."""
    for root in (server_home(), _pytriton_root()):
        if root is not None and (root / "pytriton/tritonserver/bin/tritonserver").is_file():
            return _bundled(root)
    on_path = shutil.which("tritonserver")
    if on_path:
        binary = Path(on_path).resolve()
        return ServerInstall(binary, binary.parent.parent / "backends", bundled=False)
    if install:
        return _bundled(install_server())
    raise ServerError(
        "no Triton server binary: run `asymtrack-deploy serve` (it installs one from the nvidia-pytriton "
        f"wheel into {server_home()}), call asymtrack_deploy.serving.install_server(), or put tritonserver on PATH"
    )


def install_server(home: Path | None = None) -> Path:
    """Unpack ``tritonserver`` and its libraries from the nvidia-pytriton wheel into ``home``."""
    home = Path(home or server_home())
    home.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=home.parent) as tmp:
        wheel = _download_wheel(Path(tmp))
        stage = Path(tmp) / "unpacked"
        with zipfile.ZipFile(wheel) as archive:
            for member in archive.infolist():
                if member.filename.startswith(_WHEEL_PREFIXES) and not member.is_dir():
                    path = Path(archive.extract(member, stage))
                    path.chmod((member.external_attr >> 16) & 0o777 or 0o644)
        try:
            os.rename(stage, home)
        except OSError:
            if not (home / "pytriton").is_dir():  # not a concurrent install that finished first
                raise
    return home


def _download_wheel(folder: Path) -> Path:
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
               f"nvidia-pytriton=={PYTRITON_VERSION}", "-d", str(folder)]
    done = subprocess.run(command, capture_output=True, text=True)
    wheels = list(folder.glob("nvidia_pytriton-*.whl"))
    if done.returncode != 0 or not wheels:
        raise ServerError(f"could not download nvidia-pytriton {PYTRITON_VERSION} (for its tritonserver binary): "
                          f"{(done.stderr or done.stdout).strip()[-500:]}")
    return wheels[0]


def _pytriton_root() -> Path | None:
    spec = importlib.util.find_spec("pytriton")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]).parent


def _bundled(root: Path) -> ServerInstall:
    """The wheel's binary with a backend folder whose python stub matches this Python."""
    server = root / "pytriton" / "tritonserver"
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    stub = server / "python_backend_stubs" / version / "triton_python_backend_stub"
    if not stub.is_file():
        have = sorted(p.name for p in (server / "python_backend_stubs").iterdir())
        raise ServerError(f"the Triton python backend has stubs for Python {', '.join(have)}, not {version}")
    backend_dir = server / f"backends-py{version}"
    python_dir = backend_dir / "python"
    if not (python_dir / stub.name).is_file():
        python_dir.mkdir(parents=True, exist_ok=True)
        for source in (*(server / "backends" / "python").iterdir(), stub):  # the stub last: it marks done
            partial = python_dir / f".{source.name}.{os.getpid()}"
            shutil.copy2(source, partial)
            os.replace(partial, python_dir / source.name)
    return ServerInstall(server / "bin" / "tritonserver", backend_dir, bundled=True)


def server_environment(install: ServerInstall) -> dict[str, str]:
    """The server's environment: for the wheel's binary, this interpreter's libpython first on
    the loader path and this environment's packages for the stub."""
    env = dict(os.environ)
    if not install.bundled:
        return env
    libdir = sysconfig.get_config_var("LIBDIR")
    if libdir and sysconfig.get_config_var("Py_ENABLE_SHARED"):
        env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [libdir, env.get("LD_LIBRARY_PATH")]))
    package_parent = str(Path(__file__).resolve().parents[2])
    paths = [*site.getsitepackages(), package_parent]
    env["ASYMTRACK_TRITON_PYTHONPATH"] = os.pathsep.join(dict.fromkeys(p for p in paths if os.path.isdir(p)))
    return env


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class TritonServer:
    """``with TritonServer("repo") as server: ...`` runs Triton on the repository's ``tracker``.

    Ports 0 pick free ones. ``instances`` overrides the repository's instance count.
    ``install``: fetch the binary into the cache when none is found.
    """

    def __init__(self, repository: str | os.PathLike, *, http_port: int = 0, grpc_port: int = 0,
                 host: str = "127.0.0.1", instances: int | None = None, install: bool = True,
                 log_path: str | os.PathLike | None = None, exit_timeout: int = 5, startup_timeout: float = 180.0):
        self.repository = Path(repository).resolve()
        self.record = read_record(self.repository)
        self.host = host
        self.http_port = http_port or free_port(host)
        self.grpc_port = grpc_port or free_port(host)
        self.instances = instances
        self.install = install
        self.exit_timeout = exit_timeout
        self.startup_timeout = startup_timeout
        self._temporary_log = not log_path  # removed after a clean run; kept (and named) after a failure
        self.log_path = Path(log_path) if log_path else Path(tempfile.mkstemp(prefix="tritonserver-", suffix=".log")[1])
        self.process: subprocess.Popen | None = None

    @property
    def client_host(self) -> str:
        return "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host

    @property
    def http_url(self) -> str:
        return f"{self.client_host}:{self.http_port}"

    @property
    def grpc_url(self) -> str:
        return f"{self.client_host}:{self.grpc_port}"

    def start(self) -> "TritonServer":
        """Start, wait until ready, load ``tracker``; on any failure the server is stopped and
        a ServerError carries the end of its log."""
        install = find_server(self.install)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self._command(install), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=server_environment(install), start_new_session=True, preexec_fn=_parent_death_signal(),
            )
        try:
            self._wait_ready()
            self._load_tracker()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """SIGTERM to the server's process group, then SIGKILL to whatever is left in it."""
        if self.process is None:
            return
        group = self.process.pid
        _signal_group(group, signal.SIGTERM)
        try:
            self.process.wait(timeout=self.exit_timeout + 10)
        except subprocess.TimeoutExpired:
            pass
        _signal_group(group, signal.SIGKILL)
        self.process.wait()
        _wait_group_gone(group)
        self.process = None

    def wait(self) -> int:
        """Block until the server exits by itself; its exit code."""
        return self.process.wait() if self.process else 0

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def log_reason(self) -> str:
        """The log's last error line, for a one-line message that names the log for the rest."""
        errors = [line.strip() for line in self.log_tail(20000).splitlines()
                  if "error" in line.lower() or re.match(r"E\d{4} ", line)]  # glog's error lines: E<mmdd>
        return _one_line(errors[-1]) if errors else "no error line in its log"

    def remove_log(self) -> None:
        """Delete the log when it is this object's temporary file (a --log file is the user's)."""
        if self._temporary_log:
            self.log_path.unlink(missing_ok=True)

    def __enter__(self) -> "TritonServer":
        return self.start()

    def __exit__(self, exc_type, *exc) -> None:
        self.stop()
        if exc_type is None:
            self.remove_log()

    # -- internals ---------------------------------------------------------------------------
    def _command(self, install: ServerInstall) -> list[str]:
        return [str(install.binary), f"--model-repository={self.repository}",
                f"--backend-directory={install.backend_dir}", "--model-control-mode=explicit",
                "--disable-auto-complete-config", f"--http-address={self.host}", f"--http-port={self.http_port}",
                f"--grpc-address={self.host}", f"--grpc-port={self.grpc_port}", "--allow-metrics=false",
                f"--exit-timeout-secs={self.exit_timeout}"]

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError(f"tritonserver exited with code {self.process.returncode}: {self.log_reason()} "
                                  f"(its log: {self.log_path})")
            if self._get("/v2/health/ready") == 200:
                return
            time.sleep(0.2)
        raise ServerError(f"tritonserver was not ready after {self.startup_timeout:.0f} s; log: {self.log_path}")

    def _load_tracker(self) -> None:
        body = {}
        if self.instances is not None:
            options = TrackerOptions(**{**self.record["tracker"], "instances": self.instances})
            options.check()
            bundle = self.record["bundle"]
            config = tracker_config(options, bundle["batch"], bundle["manifest_sha256"])
            body = {"parameters": {"config": json.dumps(config)}}
        status, text = self._post(f"/v2/repository/models/{TRACKER_MODEL}/load", body)
        if status != 200:
            raise ServerError(f"Triton could not load the {TRACKER_MODEL!r} model: {_one_line(_error_text(text))} "
                              f"(its log: {self.log_path})")

    def _get(self, path: str) -> int:
        try:
            with urllib.request.urlopen(f"http://{self.http_url}{path}", timeout=2) as response:
                return response.status
        except (urllib.error.URLError, OSError):
            return 0

    def _post(self, path: str, body: dict) -> tuple[int, str]:
        request = urllib.request.Request(f"http://{self.http_url}{path}", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.startup_timeout) as response:
                return response.status, response.read().decode(errors="replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")


def _error_text(text: str) -> str:
    try:
        return json.loads(text).get("error", text)
    except (json.JSONDecodeError, AttributeError):
        return text


def _one_line(text: str, limit: int = 400) -> str:
    """``text`` on one line, at most ``limit`` characters (a server message can carry a traceback)."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _signal_group(group: int, sig: int) -> None:
    try:
        os.killpg(group, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _wait_group_gone(group: int, timeout: float = 5.0) -> None:
    """The stubs get SIGKILL with the server; give the kernel a moment to reap them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.05)


def _parent_death_signal():
    """A function for the child to call between fork and exec: on Linux, ask for SIGTERM when
    the launching process dies, so a killed launcher leaves no server behind. libc is looked
    up here, in the parent: the child of a threaded parent should only make the call."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return lambda: prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
