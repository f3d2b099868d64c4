"""Which torch device an edit runs on: ``auto`` (CUDA, then MPS, then the CPU) or one the user names."""

from __future__ import annotations

import torch

from arpg_core.choices import DEVICES


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name not in DEVICES:
        raise ValueError(f"unknown device {name!r}; choose {', '.join(DEVICES[:-1])} or {DEVICES[-1]}")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("CUDA was requested but this machine has no usable CUDA device")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError("MPS was requested but it is not available on this machine")
    return torch.device(name)
