"""ONNX Runtime's quantizer logs advice to run its pre-processing (on the root logger, twice per
graph); our graphs do not need it, so int8 exports drop it and leave the root logger alone."""
from __future__ import annotations

import logging

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from asymtrack_deploy.export.qdq import quantize_qdq  # noqa: E402

ADVICE = "Please consider"


def _conv_graph(path):
    weight = numpy_helper.from_array(np.random.default_rng(0).normal(size=(4, 3, 3, 3)).astype(np.float32), "w")
    node = helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])
    graph = helper.make_graph([node], "conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])], [weight])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def _feeds():
    return [{"x": np.random.default_rng(i).normal(size=(1, 3, 8, 8)).astype(np.float32)} for i in range(4)]


def test_the_advice_is_dropped_and_the_root_logger_kept(tmp_path, caplog):
    from onnxruntime.quantization import quantize_static

    src = _conv_graph(tmp_path / "conv.onnx")
    handlers = list(logging.getLogger().handlers)
    with caplog.at_level(logging.WARNING):
        quantize_static(str(src), str(tmp_path / "plain.onnx"), _FeedList(_feeds()))
    assert any(ADVICE in r.getMessage() for r in caplog.records)  # what ONNX Runtime does on its own
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        record = quantize_qdq(src, tmp_path / "int8.onnx", _feeds())
    assert not [r.getMessage() for r in caplog.records if ADVICE in r.getMessage()]
    assert record["format"] == "QDQ" and (tmp_path / "int8.onnx").is_file()
    assert logging.getLogger().handlers == handlers and not logging.getLogger().filters


class _FeedList:
    def __init__(self, feeds):
        self._iter = iter(feeds)

    def get_next(self):
        return next(self._iter, None)


def test_in_a_fresh_interpreter_nothing_is_printed(tmp_path):
    """Without handlers (a plain script, the CLI), ONNX Runtime's ``logging.warning`` would
    print ``WARNING:root:Please consider...`` and leave a handler on the root logger."""
    import subprocess
    import sys

    src = _conv_graph(tmp_path / "conv.onnx")
    code = ("import logging, sys, numpy as np; from asymtrack_deploy.export.qdq import quantize_qdq; "
            "feeds = [{'x': np.random.default_rng(i).normal(size=(1, 3, 8, 8)).astype(np.float32)} for i in range(4)]; "
            "quantize_qdq(sys.argv[1], sys.argv[2], feeds); print(len(logging.getLogger().handlers))")
    result = subprocess.run([sys.executable, "-c", code, str(src), str(tmp_path / "int8.onnx")], capture_output=True,
                            text=True, timeout=120, check=True)
    assert ADVICE not in result.stderr and result.stdout.strip() == "0", result.stderr
