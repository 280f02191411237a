"""Option types shared by several commands."""
from __future__ import annotations

from enum import Enum


class Variant(str, Enum):
    tiny = "tiny"
    small = "small"
    base = "base"


class Precision(str, Enum):
    fp32 = "fp32"
    fp16 = "fp16"
    int8 = "int8"
