"""Serve a Triton model repository (export --target triton) until Ctrl-C or SIGTERM."""
from __future__ import annotations

import signal
from pathlib import Path
from typing import Annotated, Optional

import typer

from .console import err, fail, out

NO_ARGS_IS_HELP = True

# export --target triton's own options (declared in export.py, checked here)
SERVING_HELP = {
    "backend": "--target triton: the runtime inside the server, openvino (default) or onnxruntime.",
    "instances": "--target triton: tracker model instances (processes), default 1.",
    "max_batch": "--target triton: most frames of different streams in one tracker call, default 8.",
}


def command(
    repository: Annotated[Path, typer.Argument(help="Model repository written by export --target triton.")],
    http_port: Annotated[int, typer.Option(min=0, max=65535, help="HTTP port (0: a free one).")] = 8000,
    grpc_port: Annotated[int, typer.Option(min=0, max=65535, help="gRPC port (0: a free one).")] = 8001,
    instances: Annotated[
        Optional[int], typer.Option(min=1, help="Model instances (processes) of the tracker; default: the repository's.")
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0: every interface).")] = "127.0.0.1",
    install: Annotated[
        bool, typer.Option("--install/--no-install",
                           help="Unpack the server binary from the nvidia-pytriton wheel (55 MB, once) if none is found.")
    ] = True,
    log: Annotated[Optional[Path], typer.Option(help="Server log file (default: a temporary file, removed after a clean stop, named in any error).")] = None,
) -> None:
    from ..serving.server import ServerError, TritonServer

    try:
        server = TritonServer(repository, http_port=http_port, grpc_port=grpc_port, host=host,
                              instances=instances, install=install, log_path=log)
    except (ValueError, OSError) as exc:
        fail(str(exc))
    if install:
        _say_first_install()
    err.print(f"starting Triton on {repository} ...")
    try:
        server.start()
    except ServerError as exc:
        fail(str(exc), code=1)
    _render(server)
    _serve_until_stopped(server)


def _say_first_install() -> None:
    """The first run downloads and unpacks a large binary: said before the wait, not after."""
    from ..serving.server import ServerError, find_server, server_home

    try:
        find_server(install=False)
    except ServerError:
        err.print(f"first use: downloading the nvidia-pytriton wheel (about 55 MB) and unpacking its 146 MB Triton "
                  f"server into {server_home()} (once; ASYMTRACK_TRITON_HOME moves it) ...")


def _serve_until_stopped(server) -> None:
    """Wait; Ctrl-C or SIGTERM stop the server's whole process group. A server that exits by
    itself is an error (exit 1): one line with the log's last error line and the log's path."""
    def stop_on_sigterm(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop_on_sigterm)
    try:
        code = server.wait()
        fail(f"tritonserver exited by itself (code {code}): {server.log_reason()} (its log: {server.log_path})",
             code=1)
    except KeyboardInterrupt:
        err.print("stopping ...")
    finally:
        server.stop()
        signal.signal(signal.SIGTERM, previous)
    server.remove_log()  # a clean stop: the temporary log goes (a --log file stays)
    err.print("stopped")


def _render(server) -> None:
    from rich.table import Table

    record, tracker = server.record, server.record["tracker"]
    bundle = record["bundle"]
    t = Table(title=f"Triton serving {server.repository}", show_header=False)
    t.add_column(style="bold")
    t.add_column()
    for key, value in (
        ("HTTP", f"http://{server.http_url}"),
        ("gRPC", server.grpc_url),
        ("model", f"tracker: AsymTrack-{bundle['variant']} {bundle['target']} {bundle['precision']} batch "
                  f"{bundle['batch']} on {tracker['backend']}, {server.instances or tracker['instances']} instance(s)"),
        ("client", f"TritonTracker(\"{server.http_url}\", stream_id=N)"),
        ("server pid", server.process.pid),
        ("log", server.log_path),
    ):
        t.add_row(key, str(value))
    out.print(t)
    err.print("serving; Ctrl-C or SIGTERM stops")
