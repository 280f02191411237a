"""The manifest's ``tracker`` and ``inference`` sections: everything outside the graphs that a
runtime must do exactly as the toolkit does, stated as named rules plus numeric parameters.

Why named rules: a C (or any other) implementation reads these sections and refuses a rule it
does not know instead of guessing; each identifier names one precisely documented procedure
(``docs/manifest.md``), and ``crop.py`` is the Python implementation of the current ones.
The defaults here are the one place the values live: exporters write them into manifests and
backends without a manifest (torch) hand them to the tracker through ``BackendInfo``.

``StepRules`` is the record the per-frame step (``tracker.TrackerStep``) and the crop, map-back
and clip functions (``crop.py``) take: each branch's crop (size and context factor, the
manifest's ``model`` section) and the ``TrackerRules``; a bundle's come from its manifest, the
torch backend's from the model config, the same record either way.

Standard library only (the runtime side reads bundles with it).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = ["TrackerRules", "CropRule", "StepRules", "InferenceSpec", "DEFAULT_SCORE_THRESHOLD", "DEFAULT_CLIP_MARGIN"]

# The score is the geometric mean, over both corner heatmaps, of the probability mass in the best
# 3x3 window (1.0: both corners sharply located; 1/9 of that or less: mass spread over the map).
DEFAULT_SCORE_THRESHOLD = 0.25
DEFAULT_CLIP_MARGIN = 10.0

# field -> the identifiers this version implements (the first is the default)
_RULES = {
    "side_rule": ("ceil_sqrt_area_times_factor",),
    "origin_rule": ("round_half_to_even",),
    "edge_rule": ("right_bottom_short_by_one",),
    "interpolation": ("opencv_inter_linear_u8",),
    "color_rule": ("convert_resized_crop_to_rgb",),
    "map_back_rule": ("search_crop_to_frame",),
    "map_back_origin": ("previous_state_centre_unrounded",),
    "clip_rule": ("keep_margin_in_frame",),
    "box_format": ("cx,cy,w,h",),
    "box_normalized_by": ("search_size",),
}
_SCORE_MEANING = "corner_peak_mass_geometric_mean"
# (section, key) in the JSON layout of each dataclass field
_LAYOUT = {
    "side_rule": ("crop", "side"), "min_side": ("crop", "min_side"), "origin_rule": ("crop", "origin"),
    "padding_value": ("crop", "padding_value"), "edge_rule": ("crop", "edge"),
    "interpolation": ("crop", "interpolation"), "color_rule": ("crop", "color"),
    "map_back_rule": ("map_back", "rule"), "map_back_origin": ("map_back", "origin"),
    "clip_rule": ("clip", "rule"), "clip_margin": ("clip", "margin"),
    "box_output": ("box", "name"), "box_format": ("box", "format"), "box_normalized_by": ("box", "normalized_by"),
    "score_output": ("score", "name"), "score_meaning": ("score", "meaning"),
    "score_threshold": ("score", "default_threshold"),
}


@dataclass(frozen=True)
class TrackerRules:
    """How the tracker crops, maps back, clips and reads the outputs (``docs/manifest.md``)."""

    side_rule: str = _RULES["side_rule"][0]
    min_side: int = 1
    origin_rule: str = _RULES["origin_rule"][0]
    padding_value: tuple[int, int, int] = (0, 0, 0)
    edge_rule: str = _RULES["edge_rule"][0]
    interpolation: str = _RULES["interpolation"][0]
    color_rule: str = _RULES["color_rule"][0]
    map_back_rule: str = _RULES["map_back_rule"][0]
    map_back_origin: str = _RULES["map_back_origin"][0]
    clip_rule: str = _RULES["clip_rule"][0]
    clip_margin: float = DEFAULT_CLIP_MARGIN
    box_output: str = "box"
    box_format: str = _RULES["box_format"][0]
    box_normalized_by: str = _RULES["box_normalized_by"][0]
    score_output: str = "score"
    score_meaning: str = _SCORE_MEANING
    score_threshold: float = DEFAULT_SCORE_THRESHOLD

    def __post_init__(self) -> None:
        for name, known in _RULES.items():
            if getattr(self, name) not in known:
                raise ValueError(f"{_where(name)} {getattr(self, name)!r} is not a rule this version implements "
                                 f"(known: {', '.join(known)}); update asymtrack-deploy")
        if self.min_side != 1 or list(self.padding_value or ()) != [0, 0, 0]:
            raise ValueError(f"crop.min_side {self.min_side!r} / crop.padding_value {list(self.padding_value)}: "
                             "only min_side 1 and padding [0, 0, 0] are implemented")
        if not _finite(self.clip_margin) or self.clip_margin < 0:
            raise ValueError(f"clip.margin must be a finite number >= 0, got {self.clip_margin!r}")
        if not _finite(self.score_threshold) or not 0.0 <= self.score_threshold <= 1.0:
            raise ValueError(f"score.default_threshold must be in [0, 1], got {self.score_threshold!r}")

    def to_dict(self) -> dict:
        out: dict[str, dict] = {"crop": {}, "map_back": {}, "clip": {}, "outputs": {"box": {}, "score": {}}}
        for name, (section, key) in _LAYOUT.items():
            value = list(getattr(self, name)) if name == "padding_value" else getattr(self, name)
            target = out["outputs"][section] if section in ("box", "score") else out[section]
            target[key] = value
        return out

    @classmethod
    def from_dict(cls, data: Any) -> "TrackerRules":
        """Raises ValueError naming the field (``manifest: tracker.crop.edge ...``)."""
        try:
            values = {name: _field(data, section, key) for name, (section, key) in _LAYOUT.items()}
            padding = values["padding_value"]
            values["padding_value"] = tuple(padding) if isinstance(padding, list) else padding
            for name in ("clip_margin", "score_threshold"):
                values[name] = _number(values[name], name)
            return cls(**values)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"manifest: tracker: {exc}") from None


@dataclass(frozen=True)
class CropRule:
    """One branch's crop: a square of side ceil(sqrt(w * h) * ``factor``) around the box,
    resized to ``size`` x ``size`` (the rules of ``TrackerRules.side_rule`` and the rest)."""

    size: int
    factor: float


@dataclass(frozen=True)
class StepRules:
    """Everything the per-frame tracker step does outside the graphs: the template and search
    crops and the manifest's ``tracker`` rules (map back, clip, outputs)."""

    template: CropRule
    search: CropRule
    tracker: TrackerRules = field(default_factory=TrackerRules)

    @classmethod
    def from_model(cls, model: Any, tracker: TrackerRules | None = None) -> "StepRules":
        """From anything with ``template_size``, ``search_size``, ``template_factor`` and
        ``search_factor``: a manifest's ``model`` section or a model config (torch: the default
        ``TrackerRules``, which exporters write into the manifests)."""
        return cls(CropRule(int(model.template_size), float(model.template_factor)),
                   CropRule(int(model.search_size), float(model.search_factor)), tracker or TrackerRules())

    @classmethod
    def from_manifest(cls, manifest: Any) -> "StepRules":
        return cls.from_model(manifest.model, manifest.tracker)

    @property
    def clip_margin(self) -> float:
        return self.tracker.clip_margin

    def with_clip_margin(self, margin: float) -> "StepRules":
        """The same rules with another ``tracker.clip.margin`` (checked as the manifest's is)."""
        return replace(self, tracker=replace(self.tracker, clip_margin=float(margin)))


@dataclass(frozen=True)
class InferenceSpec:
    """The arithmetic a runtime must use for the export's parity figures to hold.

    ``arithmetic``: fp32, fp16 or int8 (int8: quantised layers in int8, the rest as the hint
    says); ``openvino_precision_hint``: OpenVINO's INFERENCE_PRECISION_HINT ("f32", "f16",
    "bf16"; None: the device's default). Recent OpenVINO runs fp32 graphs in bf16 on CPUs with
    AMX or AVX512-BF16 unless told "f32", which silently costs an fp32 bundle its parity.
    """

    arithmetic: str
    openvino_precision_hint: str | None

    def __post_init__(self) -> None:
        if self.arithmetic not in ("fp32", "fp16", "bf16", "int8"):
            raise ValueError(f"inference.arithmetic must be fp32, fp16, bf16 or int8, got {self.arithmetic!r}")
        if self.openvino_precision_hint not in (None, "f32", "f16", "bf16"):
            raise ValueError(f"inference.openvino_precision_hint must be f32, f16, bf16 or null, "
                             f"got {self.openvino_precision_hint!r}")

    @classmethod
    def for_precision(cls, precision: str) -> "InferenceSpec":
        """The standard rule per bundle precision: fp32 pinned to f32, bf16 to bf16, and int8's
        float parts to f32 (bf16 ones cost the channels-first int8 graph its worst frames, for
        no speed over f32 ones in the channels-last graph: ``export/openvino_target.py``)."""
        hints = {"fp32": "f32", "fp16": "f16", "bf16": "bf16", "int8": "f32"}
        if precision not in hints:
            raise ValueError(f"no inference rule for precision {precision!r} (fp32, fp16, bf16, int8)")
        return cls(precision, hints[precision])

    def to_dict(self) -> dict:
        return {"arithmetic": self.arithmetic, "openvino_precision_hint": self.openvino_precision_hint}

    @classmethod
    def from_dict(cls, data: Any) -> "InferenceSpec":
        if not isinstance(data, dict) or "arithmetic" not in data or "openvino_precision_hint" not in data:
            raise ValueError(f"manifest: inference must be an object with arithmetic and openvino_precision_hint, "
                             f"got {data!r}")
        try:
            return cls(data["arithmetic"], data["openvino_precision_hint"])
        except ValueError as exc:
            raise ValueError(f"manifest: {exc}") from None


def _where(name: str) -> str:
    section, key = _LAYOUT.get(name, ("", name))
    prefix = "outputs." if section in ("box", "score") else ""
    return f"{prefix}{section}.{key}"


def _field(data: Any, section: str, key: str) -> Any:
    parent = data.get("outputs") if isinstance(data, dict) and section in ("box", "score") else data
    where = f"{'outputs.' if parent is not data else ''}{section}"
    block = parent.get(section) if isinstance(parent, dict) else None
    if not isinstance(block, dict) or key not in block:
        raise ValueError(f"{where}.{key} is missing")
    return block[key]


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{_where(name)} must be a number, got {value!r}")
    return float(value)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
