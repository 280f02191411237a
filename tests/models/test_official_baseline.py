"""The official per-frame computation (benchmark baseline) gives the official boxes."""
from __future__ import annotations

import numpy as np
import torch

from asymtrack_deploy.models import build_model, load_checkpoint
from asymtrack_deploy.models.official import official_search, official_template_cache
from tests.conftest import reference_checkpoint, reference_file


def test_official_order_of_work_matches_reference_boxes():
    model = load_checkpoint(build_model("tiny"), reference_checkpoint("tiny"))
    data = np.load(reference_file("pairs_tiny.npz"))
    z = model.normalize(torch.from_numpy(data["template"][:3]))
    x = model.normalize(torch.from_numpy(data["search"][:3]))
    box, _ = official_search(model, x, official_template_cache(model, z))
    np.testing.assert_allclose(box.numpy(), data["pred_boxes"][:3], rtol=0, atol=1e-5)
