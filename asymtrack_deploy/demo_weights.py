"""The demo weights that ship with the package: where they are, and when a caller gets them.

Torch-free (a path lookup), so the CLI and the benchmark plan can ask without importing torch.
"""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DEMO_CHECKPOINT", "default_checkpoint", "checkpoint_or_demo"]

DEMO_CHECKPOINT = Path(__file__).resolve().parent / "data" / "weights" / "asymtrack_tiny_demo.pth"


def default_checkpoint() -> Path | None:
    """The demo checkpoint that ships with the package, when there is one."""
    return DEMO_CHECKPOINT if DEMO_CHECKPOINT.is_file() else None


def checkpoint_or_demo(checkpoint: str | os.PathLike | None, random_weights: bool) -> str | os.PathLike | None:
    """``checkpoint``; with none given and no random weights asked for, the demo weights, so
    that a reference backend opens with no arguments; a ValueError when there are none."""
    if checkpoint is not None or random_weights:
        return checkpoint
    demo = default_checkpoint()
    if demo is None:
        raise ValueError("no checkpoint given and no demo weights installed: pass checkpoint=PATH "
                         "(or random_weights=True for timing only)")
    return demo
