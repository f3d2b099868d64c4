"""bf16 autocast or nothing: the one switch that training (a GPU run) and the edit codec (a bf16 decode) share."""

from __future__ import annotations

import contextlib

import torch


def bf16_autocast(device: torch.device, enabled: bool):
    """bf16 autocast on ``device`` when ``enabled``, else a context that changes nothing (fp32)."""
    return torch.autocast(device.type, dtype=torch.bfloat16) if enabled else contextlib.nullcontext()
