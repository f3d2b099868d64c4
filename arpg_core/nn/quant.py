"""Opt-in CPU "fast" mode: int8 dynamic quantization of the Linear layers (weights int8, activations
quantized on the fly). Its error against fp32 is measured in docs/performance.md."""

from __future__ import annotations

import torch

from arpg_core.nn.loading import quantize_int8_


def quantize_int8(model: torch.nn.Module, source=None) -> torch.nn.Module:
    """``model`` with every nn.Linear replaced by a dynamically quantized int8 Linear (CPU only).

    In place, layer by layer: no copy of the model is made, and each fp32 weight is freed once its int8
    version exists (unless the caller still holds it). Returns the same module. ``source``: the weights file
    the model was read from, for the int8 cache (arpg_core.weights.int8_cache) when that is switched on."""
    if source is not None:
        from arpg_core.weights import int8_cache

        if int8_cache.enabled():
            int8_cache.quantize_cached(model, source)
            return model
    return quantize_int8_(model)
