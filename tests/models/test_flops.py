"""FLOPs per branch, reproducible with torch's FlopCounterMode (multiply-add = 2)."""
from __future__ import annotations

import torch

from asymtrack_deploy.models import build_model, count_flops
from asymtrack_deploy.models.official import official_search, official_template_cache
from asymtrack_deploy.models.summary import model_summary


def test_official_per_frame_count_is_reproduced_and_the_split_costs_less():
    model = build_model("tiny")
    x = torch.zeros(1, 3, 256, 256)
    cache = official_template_cache(model, torch.zeros(1, 3, 128, 128))
    official = count_flops(official_search, model, x, cache)
    assert abs(official / 1e9 - 1.18) < 0.01  # the figure the official tiny is quoted at
    summary = model_summary(model)
    assert summary["flops"]["search (official convention)"] < official
    assert summary["flops"]["search"] > summary["flops"]["search (official convention)"]
