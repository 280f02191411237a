"""The torch backend's fp32 on CUDA is IEEE fp32: TF32 is switched off around its work and the
process's own settings come back afterwards (checked here on the flags; the GPU tests check the
boxes)."""
from __future__ import annotations

import torch

from asymtrack_deploy.runtimes.torch_backend import _ieee_fp32


def _flags():
    cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
    if hasattr(cudnn, "conv"):
        return cudnn.conv.fp32_precision, matmul.fp32_precision
    return cudnn.allow_tf32, matmul.allow_tf32


def test_ieee_fp32_inside_and_the_callers_settings_after():
    before = _flags()
    with _ieee_fp32(torch):
        inside = _flags()
    assert inside in (("ieee", "ieee"), (False, False))
    assert _flags() == before


def test_ieee_fp32_restores_after_an_error():
    before = _flags()
    try:
        with _ieee_fp32(torch):
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert _flags() == before
