"""The model an export starts from: a checkpoint, or seeded random weights on request only.

Random weights make a bundle that runs and times like a real one but tracks nothing, so they
must be asked for explicitly (``random_weights=True``); the manifest records it. The model
itself comes from ``models.load_model``; this adds the manifest's record of its source.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..bundle import SourceSpec, file_sha256
from ..models import AsymTrack, load_model

__all__ = ["prepare_model"]


def prepare_model(
    variant: str,
    checkpoint: str | os.PathLike | None = None,
    random_weights: bool = False,
    seed: int = 0,
) -> tuple[AsymTrack, SourceSpec]:
    """The deploy-form fp32 model in eval mode on CPU, and where its weights came from.

    Raises CheckpointError (a ValueError) for a checkpoint that does not fit ``variant``.
    """
    if checkpoint is not None and random_weights:
        raise ValueError("give either a checkpoint or random_weights=True (--random-weights), not both")
    if checkpoint is None and not random_weights:
        raise ValueError(
            "no checkpoint given: pass a checkpoint (--checkpoint PATH), or ask for random weights "
            "explicitly (--random-weights [--seed N]) for a bundle that runs but does not track"
        )
    model = load_model(variant, checkpoint, random_weights, seed)
    if checkpoint is None:
        return model, SourceSpec(None, None, random_weights=True, seed=seed)
    path = Path(checkpoint)
    return model, SourceSpec(path.name, file_sha256(path))
