"""The one table of parity tolerances, per precision and per measure.

Two measures, both against the fp32 PyTorch reference (fp16 and int8 are never compared with
each other):

* ``box``: the export-time check on real crop pairs, max |box difference| in normalised box
  units (``parity.crops``). fp32 1e-4: the same arithmetic in another order. fp16 1e-2 (2.6 px on
  a 256 crop): ~3 significant digits through ~40 layers; measured 1.6e-3 to 2.7e-3 on
  AsymTrack-tiny. int8 1e-1, 1.6 cells of the 16 x 16 corner heatmap: on the reference
  checkpoints (random weights, flat heatmaps, the hardest case) every quantisation scheme tried
  (ONNX Runtime QDQ with MinMax, percentile, symmetric ranges, head kept in float; NNCF with and
  without SmoothQuant) misses by 0.01 to 0.06 per pair, while a wrong scale or an unquantised
  state binding moves the corners by whole heatmaps (> 0.2). bf16 5e-2: its 8-bit mantissa
  (fp16 has 11) measured 4.9e-3 (demo weights) and 1.6e-2 (random reference checkpoint) on 16
  pairs, OpenVINO 2026.4 CPU with AVX512-BF16.
* ``min_iou``: the tracking check (``parity.tracking``), teacher-forced IoU every frame must
  reach. fp32 0.999 (1e-5-level box errors); fp16 0.98 (a few tenths of a pixel on a 256 crop);
  int8 0.90 (corners may move by about one heatmap cell on hard frames: still the same,
  tightly boxed target). bf16 0.90: with the demo weights it measured min 0.940 / mean 0.982 on
  vtest.avi (60 frames, init 638,240,50,82) and min 0.965 / mean 0.986 on box.mp4 (120 frames,
  init 298,15,297,227), max 6.4 and 8.7 px on the frame; on the whole videos (795 and 455
  frames) min 0.939 and 0.950. Errors of int8's size (int8 there: 0.941-0.984; fp16: min
  0.994); random weights do not track (flat heatmaps: 0.02 on box.mp4), so trained weights set
  it.

A target whose runtime computes the same precision with kernels of its own may declare its own
measured pair in its registry entry (``catalogue.TargetEntry.tolerances``); ``tolerance_for(precision,
target)`` returns it.
"""
from __future__ import annotations

from dataclasses import dataclass

from .. import catalogue

__all__ = ["Tolerance", "TOLERANCES", "tolerance_for"]


@dataclass(frozen=True)
class Tolerance:
    box: float  # max |box difference|, normalised units, export-time crops
    min_iou: float  # teacher-forced IoU every tracked frame must reach


TOLERANCES: dict[str, Tolerance] = {
    "fp32": Tolerance(box=1e-4, min_iou=0.999),
    "fp16": Tolerance(box=1e-2, min_iou=0.98),
    "bf16": Tolerance(box=5e-2, min_iou=0.90),
    "int8": Tolerance(box=1e-1, min_iou=0.90),
}


def tolerance_for(precision: str, target: str | None = None) -> Tolerance:
    """The tolerances of ``precision``, or those a ``target`` declares for it in its catalogue
    entry (a runtime whose kernels measurably differ); an unknown precision is an error, not a
    silent fp32."""
    if precision not in TOLERANCES:
        raise ValueError(f"no parity tolerance for precision {precision!r}: expected one of {', '.join(TOLERANCES)}")
    own = catalogue.targets()[target].tolerances.get(precision) if target in catalogue.targets() else None
    return Tolerance(*own) if own else TOLERANCES[precision]
