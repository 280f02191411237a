"""Option types shared by several commands; the choices come from ``catalogue``."""
from __future__ import annotations

from enum import Enum

from ..catalogue import PRECISIONS, target_names


class Variant(str, Enum):
    tiny = "tiny"
    small = "small"
    base = "base"


Precision = Enum("Precision", {name: name for name in PRECISIONS}, type=str)
Target = Enum("Target", {name: name for name in target_names()}, type=str)
