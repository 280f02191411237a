"""Serving many streams with NVIDIA Triton Inference Server.

* ``write_repository(bundle, repo)``: a Triton model repository around an OpenVINO or ONNX
  Runtime bundle: the stateful ``tracker`` model (python backend, sequence batching) and a
  stateless ``search`` model for the stock backends (``repository``);
* ``TritonServer(repo)``: runs the ``tritonserver`` binary on it (``server``);
* ``TritonTracker(url, stream_id)``: the ``Tracker`` interface over the server (``client``);
* ``StreamTable``: what the ``tracker`` model keeps per stream, usable in-process (``streams``).

Names load on first use: importing this package imports neither tritonclient nor a runtime.
"""
from __future__ import annotations

import importlib

__all__ = ["TritonTracker", "StreamLostError", "TritonServer", "ServerError", "find_server", "install_server",
           "write_repository", "read_record", "StreamTable"]

_LAZY = {
    "TritonTracker": "client", "StreamLostError": "client",
    "TritonServer": "server", "ServerError": "server", "find_server": "server", "install_server": "server",
    "write_repository": "repository", "read_record": "repository",
    "StreamTable": "streams",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
