"""Opt-in CPU "fast" mode: int8 dynamic quantization of the Linear layers (weights int8, activations
quantized on the fly). Its error against fp32 is measured in docs/performance.md."""

from __future__ import annotations

import warnings

import torch


def quantize_int8(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of ``model`` with every nn.Linear replaced by a dynamically quantized int8 Linear (CPU only)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization announces its move to torchao
        from torch.ao.quantization import quantize_dynamic

        return quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
