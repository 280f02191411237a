"""Graph inputs made from calibration crops, for post-training int8 quantization.

Template crops feed the template graph; search crops feed the search graph together with the
template state *their own* template crop gives (computed by the fp32 template graph in ONNX
Runtime), so the state inputs are calibrated on the values they will carry.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..bundle import Manifest
from .calibration import CalibrationSet

__all__ = ["CalibrationFeeds", "calibration_feeds", "ReportedFeeds", "STATE_RULE"]

STATE_RULE = (
    "each search crop is calibrated with the state of its own template crop (fp32 template graph in ONNX Runtime)"
)


@dataclass(frozen=True)
class CalibrationFeeds:
    """Input dicts for each graph, one per batch of calibration pairs, and the manifest record."""

    template: list[dict[str, np.ndarray]]
    search: list[dict[str, np.ndarray]]
    record: dict

    @property
    def pairs(self) -> int:
        return sum(len(next(iter(feed.values()))) for feed in self.template)

    def reporting(self, tick: Callable[[], None]) -> "CalibrationFeeds":
        """The same feeds, ``tick()`` called as a quantizer takes each search feed of its first
        pass (the quantizers' own progress output is silenced: this is what the user sees)."""
        return replace(self, search=ReportedFeeds(self.search, tick))


class ReportedFeeds(list):
    """A list of feeds that calls ``tick()`` per item of its first full iteration (NNCF and ONNX
    Runtime's calibration both read their data set by iterating it)."""

    def __init__(self, feeds, tick: Callable[[], None]):
        super().__init__(feeds)
        self._tick, self._reported = tick, False

    def __iter__(self):
        report, self._reported = not self._reported, True
        for feed in super().__iter__():
            yield feed
            if report:
                self._tick()


def calibration_feeds(stage: Path, manifest: Manifest, calib: CalibrationSet,
                      tick: Callable[[], None] | None = None) -> CalibrationFeeds:
    """Batch-shaped inputs of both graphs from ``calib``; the search feeds carry the state the
    fp32 ONNX template graph of ``manifest`` (in ``stage``) gives for each pair (``tick()``
    after each batch of them)."""
    import onnxruntime as ort

    batch = manifest.batch
    if len(calib) < batch:
        raise ValueError(f"{len(calib)} calibration pairs do not fill one batch of {batch}; ask for at least {batch}")
    template_spec, search_spec = manifest.graph("template"), manifest.graph("search")
    session = ort.InferenceSession(str(stage / template_spec.files["onnx"]), providers=["CPUExecutionProvider"])
    state_names = [t.name for t in template_spec.outputs]
    templates, searches = [], []
    for start in range(0, len(calib) - batch + 1, batch):
        crops = calib.templates[start : start + batch]
        state = dict(zip(state_names, session.run(state_names, {template_spec.inputs[0].name: crops})))
        templates.append({template_spec.inputs[0].name: crops})
        searches.append({search_spec.inputs[0].name: calib.searches[start : start + batch], **state})
        if tick is not None:
            tick()
    record = {**calib.record, "pairs_used": len(templates) * batch, "state": STATE_RULE}
    return CalibrationFeeds(templates, searches, record)
