"""Export wrappers: the two graphs a deployed tracker runs, kept apart from the model.

The model knows nothing about tracing. These wrappers reuse its branches and add only what a
deployed graph needs at its boundary:

* the image preprocessing (uint8 -> float, / 255, ImageNet mean/std, NHWC -> NCHW) moves inside
  the graph, so a C++ caller feeds the RGB uint8 crop it already has;
* the template state crosses the boundary as named tensors (template-graph outputs that are
  search-graph inputs), never as constants frozen in at trace time;
* attention runs in its explicit MatMul/Softmax form (``GraphForm.explicit_attention``), which every
  converter parses, instead of the fused kernel eager PyTorch uses;
* the search graph comes in two layouts of the same arithmetic (``SEARCH_LAYOUTS``): the model's
  own channels-last backbone, or the channels-first rewrite of ``channels_first`` that a
  converter picks where its runtime runs it faster (OpenVINO);
* the ETM's point-wise mix runs on values scaled by ``ETM_MIX_SCALE`` (``GraphForm.etm_mix_scale``),
  exact in fp32 (a power of two; the LayerNorm after it gets epsilon * scale**2), so that the
  same graph converted to fp16 (ONNX Runtime, OpenVINO, TensorRT) stays inside fp16's range.
  Both layouts reach the mix through ``DySepConvAtten.apply``, so both are scaled.

Both switches are ``SEARCH_FORM``, passed to the model's search branch call by call; the model
stores no export setting, so an eager model beside a trace keeps its fused attention.
"""
from __future__ import annotations

import torch
from torch import nn

from ..models import AsymTrack, GraphForm
from .channels_first import ChannelsFirstSearch

__all__ = ["TemplateGraph", "SearchGraph", "TEMPLATE_INPUT", "SEARCH_INPUT", "SEARCH_OUTPUTS", "SEARCH_LAYOUTS",
           "ETM_MIX_SCALE", "SEARCH_FORM"]

TEMPLATE_INPUT = "template"
SEARCH_INPUT = "search"
SEARCH_OUTPUTS = ("box", "score")
SEARCH_LAYOUTS = ("channels_last", "channels_first")

# The ETM's point-wise mix (``point @ relu(3-tap sum over channels)``, then a LayerNorm) reaches
# 5.8e5 in fp32 on real crops (vtest.avi, box.mp4) with the demo weights (stage 2; its 3-tap sum
# 3.7e4 at stage 1), far past fp16's 65504, and 2.4e4 with the random reference checkpoint.
# Scaled by 2**-14 it peaks at 35 (demo) and 1.5 (random; 0.1 at stage 2), and the LayerNorm's
# per-row sum of squared deviations at 1.0e4 (demo) and 0.09 to 8.7 (random): inside fp16 even
# for a LayerNorm that accumulates in fp16 (onnx.reference in float16: max box error 1.2e-3 on
# real crops; 2**-10 overflows there with the demo weights, 2**-18 loses the random
# checkpoint's stage-2 rows to fp16's subnormals). Runtimes that accumulate in fp32 keep
# ~1800x of headroom above (65504 / 35).
ETM_MIX_SCALE = 2.0**-14
SEARCH_FORM = GraphForm(explicit_attention=True, etm_mix_scale=ETM_MIX_SCALE)  # how the search graph is written


class TemplateGraph(nn.Module):
    """uint8 RGB template crops (B, Ht, Wt, 3) -> the template-state tensors, in
    ``state_names`` order (once per target)."""

    def __init__(self, model: AsymTrack):
        super().__init__()
        self.model = model
        self.state_names = tuple(model.state_spec(1))
        # A new Module is in train mode, and the exporter restores the wrapper's mode after
        # tracing, recursively: a train-mode wrapper would leave the model in train mode.
        self.eval()

    @property
    def input_names(self) -> tuple[str, ...]:
        return (TEMPLATE_INPUT,)

    @property
    def output_names(self) -> tuple[str, ...]:
        return self.state_names

    def example_inputs(self, batch: int) -> tuple[torch.Tensor, ...]:
        size = self.model.cfg.template_size
        return (torch.zeros(batch, size, size, 3, dtype=torch.uint8, device=self.model.device),)

    def forward(self, template: torch.Tensor) -> tuple[torch.Tensor, ...]:
        state = self.model.template(self.model.normalize(template))  # no attention product: one form
        return tuple(state[name] for name in self.state_names)


class SearchGraph(nn.Module):
    """uint8 RGB search crops (B, Hs, Ws, 3) + the state tensors -> ``box`` (B, 4) as
    normalised (cx, cy, w, h) and ``score`` (B,) (every frame), in ``layout`` (SEARCH_LAYOUTS)."""

    def __init__(self, model: AsymTrack, layout: str = "channels_last"):
        super().__init__()
        if layout not in SEARCH_LAYOUTS:
            raise ValueError(f"search layout must be one of {', '.join(SEARCH_LAYOUTS)}, got {layout!r}")
        self.model = model
        self.layout = layout
        self.state_names = tuple(model.state_spec(1))
        self.eval()  # see TemplateGraph

    @property
    def input_names(self) -> tuple[str, ...]:
        return (SEARCH_INPUT, *self.state_names)

    @property
    def output_names(self) -> tuple[str, ...]:
        return SEARCH_OUTPUTS

    def example_inputs(self, batch: int) -> tuple[torch.Tensor, ...]:
        """A search crop and a real state (from the template branch on a blank crop), so the
        trace sees state tensors with the shapes and dtypes the template graph produces."""
        size = self.model.cfg.search_size
        crop = torch.zeros(batch, size, size, 3, dtype=torch.uint8, device=self.model.device)
        template = TemplateGraph(self.model)
        with torch.no_grad():
            state = template(*template.example_inputs(batch))
        return (crop, *state)

    def forward(self, search: torch.Tensor, *state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        state_dict = dict(zip(self.state_names, state))
        if self.layout == "channels_first":
            return ChannelsFirstSearch(self.model, SEARCH_FORM)(_normalize_then_transpose(self.model, search), state_dict)
        return self.model.search(self.model.normalize(search), state_dict, SEARCH_FORM)


def _normalize_then_transpose(model: AsymTrack, crops: torch.Tensor) -> torch.Tensor:
    """``model.normalize`` with the layout change last (the same values): the transpose then
    sits right before the first convolution, whose input reorder OpenVINO merges it into, instead
    of between the uint8 input and the normalisation (a planar 3-channel reorder)."""
    x = crops.to(model.pixel_mean.dtype) / 255.0
    x = (x - model.pixel_mean.view(1, 1, 1, -1)) / model.pixel_std.view(1, 1, 1, -1)
    return x.permute(0, 3, 1, 2)
