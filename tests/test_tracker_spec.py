"""The manifest's tracker and inference sections (schema 2): layout, refusals, one source of truth."""
from __future__ import annotations

import json
from dataclasses import replace
from types import SimpleNamespace

import pytest

from asymtrack_deploy.bundle import MANIFEST_NAME, Manifest, load_bundle
from asymtrack_deploy.runtimes.base import BackendInfo
from asymtrack_deploy.tracker_spec import DEFAULT_SCORE_THRESHOLD, CropRule, InferenceSpec, StepRules, TrackerRules
from tests.test_bundle import _edit, _manifest, bundle_dir  # noqa: F401 - the fixture

EXPECTED_TRACKER = {
    "crop": {
        "side": "ceil_sqrt_area_times_factor",
        "min_side": 1,
        "origin": "round_half_to_even",
        "padding_value": [0, 0, 0],
        "edge": "right_bottom_short_by_one",
        "interpolation": "opencv_inter_linear_u8",
        "color": "convert_resized_crop_to_rgb",
    },
    "map_back": {"rule": "search_crop_to_frame", "origin": "previous_state_centre_unrounded"},
    "clip": {"rule": "keep_margin_in_frame", "margin": 10.0},
    "outputs": {
        "box": {"name": "box", "format": "cx,cy,w,h", "normalized_by": "search_size"},
        "score": {"name": "score", "meaning": "corner_peak_mass_geometric_mean", "default_threshold": 0.25},
    },
}


def test_sections_as_written(bundle_dir):  # noqa: F811
    data = json.loads((bundle_dir / MANIFEST_NAME).read_text())
    assert data["schema_version"] == 2
    assert data["tracker"] == EXPECTED_TRACKER
    assert data["inference"] == {"arithmetic": "fp32", "openvino_precision_hint": "f32"}


@pytest.mark.parametrize("precision, hint", [("fp32", "f32"), ("fp16", "f16"), ("bf16", "bf16"), ("int8", "f32")])
def test_derived_precision_gets_its_own_inference_rule(precision, hint):
    derived = replace(_manifest(), precision=precision)
    assert derived.to_dict()["inference"] == {"arithmetic": precision, "openvino_precision_hint": hint}
    assert Manifest.from_dict(derived.to_dict()) == derived


def test_an_explicit_inference_choice_survives_a_round_trip():
    m = replace(_manifest(), inference_override=InferenceSpec("fp32", "bf16"))
    assert Manifest.from_dict(m.to_dict()).inference.openvino_precision_hint == "bf16"


def test_schema_1_is_refused_with_the_reexport_command(bundle_dir):  # noqa: F811
    _edit(bundle_dir, lambda d: (d.__setitem__("schema_version", 1), d.pop("tracker"), d.pop("inference")))
    with pytest.raises(ValueError) as info:
        load_bundle(bundle_dir)
    message = str(info.value)
    assert "\n" not in message and "schema_version 1 is older" in message
    assert "asymtrack-deploy export --target onnx --precision fp32 --variant tiny --checkpoint ckpt.pth" in message


def _set(path: str, value):
    def change(data):
        *parents, last = path.split(".")
        node = data
        for key in parents:
            node = node[key]
        if value is KeyError:
            node.pop(last)
        else:
            node[last] = value
    return change


@pytest.mark.parametrize(
    "path, value, message",
    [
        ("tracker.crop.interpolation", "float_bilinear", "crop.interpolation 'float_bilinear' is not a rule"),
        ("tracker.crop.edge", "exact", "crop.edge 'exact' is not a rule"),
        ("tracker.map_back.origin", "rounded_crop_origin", "map_back.origin"),
        ("tracker.crop.padding_value", [114, 114, 114], "padding"),
        ("tracker.clip.margin", -1, "clip.margin"),
        ("tracker.clip.margin", "10", "clip.margin must be a number"),
        ("tracker.outputs.score.default_threshold", 2, "default_threshold"),
        ("tracker.outputs.box.name", "boxes", "outputs.box.name 'boxes' must be a search output"),
        ("tracker.clip", KeyError, "clip.rule is missing"),
        ("tracker", KeyError, "lacks the field 'tracker'"),
        ("inference.openvino_precision_hint", "int4", "openvino_precision_hint"),
        ("inference", KeyError, "inference must be an object"),
    ],
)
def test_bad_tracker_and_inference_sections(bundle_dir, path, value, message):  # noqa: F811
    _edit(bundle_dir, _set(path, value))
    with pytest.raises(ValueError, match=message):
        load_bundle(bundle_dir)


def test_backend_info_carries_the_manifest_rules(bundle_dir):  # noqa: F811
    _edit(bundle_dir, _set("tracker.clip.margin", 3.5))
    info = BackendInfo.from_manifest(load_bundle(bundle_dir).manifest)
    assert info.rules.clip_margin == 3.5 and info.rules.tracker.clip_margin == 3.5
    assert info.rules.search == CropRule(256, 4.0) and info.rules.template == CropRule(128, 2.0)
    cfg = SimpleNamespace(template_size=128, search_size=256, template_factor=2.0, search_factor=4.0)
    assert StepRules.from_model(cfg).tracker == TrackerRules()  # what the torch backend hands over
    assert TrackerRules().score_threshold == DEFAULT_SCORE_THRESHOLD and TrackerRules().clip_margin == 10.0
