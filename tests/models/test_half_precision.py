"""Half precision with trained weights: the ETM's point-wise mix exceeds fp16's range (65504)
and used to turn every box into NaN; it now runs in fp32 inside a half model or fp16 autocast.

CPU half arithmetic (fp16 storage, fp32 accumulation) stands in for the GPU here; the same
overflow is a matter of range, not of the device.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from asymtrack_deploy.crop import crop_square, to_rgb
from asymtrack_deploy.models import build_model, load_checkpoint
from asymtrack_deploy.models.asymtrack import DySepConvAtten
from asymtrack_deploy.runtimes.torch_backend import default_checkpoint
from asymtrack_deploy.sources import builtin_sequence, open_source

FP16_MAX = 65504.0
pytestmark = pytest.mark.skipif(default_checkpoint() is None, reason="no demo weights installed")


@pytest.fixture(scope="module")
def inputs():
    """Demo-weights model (fp32) and normalised template / search crops of the built-in sequence."""
    model = load_checkpoint(build_model("tiny"), default_checkpoint()).eval()
    sequence = builtin_sequence()
    frames = list(open_source(sequence.folder))[:4]
    box, cfg = sequence.init_box, model.cfg
    z = to_rgb(crop_square(frames[0], box, cfg.template_factor, cfg.template_size)[0], "bgr")[None]
    x = np.stack([to_rgb(crop_square(f, box, cfg.search_factor, cfg.search_size)[0], "bgr") for f in frames[1:]])
    return model, torch.from_numpy(z).repeat(3, 1, 1, 1), torch.from_numpy(x)


def _boxes(model, z, x):
    with torch.inference_mode():
        return model.search(model.normalize(x), model.template(model.normalize(z)))[0].float()


def test_the_mix_exceeds_fp16_range_with_trained_weights(inputs, monkeypatch):
    model, z, x = inputs
    peaks = []
    original = DySepConvAtten._mix
    monkeypatch.setattr(DySepConvAtten, "_mix", lambda self, *a: peaks.append(original(self, *a).abs().max()) or original(self, *a))
    _boxes(model, z, x)
    assert max(peaks) > FP16_MAX  # what the fp32 island below is for


def test_half_model_gives_finite_boxes_near_fp32(inputs):
    model, z, x = inputs
    reference = _boxes(model, z, x)
    half = build_model("tiny").eval()
    half.load_state_dict(model.state_dict())
    boxes = _boxes(half.half(), z, x)
    assert torch.isfinite(boxes).all()
    assert (boxes - reference).abs().max() < 1e-2  # the fp16 box tolerance of the exporter's check


def test_fp16_autocast_gives_finite_boxes(inputs):
    model, z, x = inputs
    with torch.autocast("cpu", dtype=torch.float16):
        boxes = _boxes(model, z, x)
    assert torch.isfinite(boxes).all()
    assert (boxes - _boxes(model, z, x)).abs().max() < 1e-2


def test_the_export_scale_of_the_mix_changes_no_fp32_bit(inputs):
    """What the export wrapper passes (``GraphForm.etm_mix_scale``): a power of two, exact in fp32."""
    from asymtrack_deploy.models import GraphForm

    model, z, x = inputs
    reference = _boxes(model, z, x)
    with torch.inference_mode():
        state = model.template(model.normalize(z))
        scaled = model.search(model.normalize(x), state, GraphForm(etm_mix_scale=2.0**-14))[0].float()
    assert torch.equal(scaled, reference)
    with pytest.raises(ValueError, match="power of two"):
        GraphForm(etm_mix_scale=1e-3)
