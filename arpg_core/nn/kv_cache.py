"""Explicit key/value caches with preallocated buffers, made fresh for every decoding job."""

from __future__ import annotations

import torch
from torch import Tensor


class KVCache:
    """Keys and values of one attention layer, preallocated as (B, H, max_len, D)."""

    def __init__(self, batch: int, heads: int, max_len: int, head_dim: int, dtype, device):
        shape = (batch, heads, max_len, head_dim)
        self.k = torch.zeros(shape, dtype=dtype, device=device)
        self.v = torch.zeros(shape, dtype=dtype, device=device)
        self.length = 0

    @property
    def capacity(self) -> int:
        return self.k.shape[2]

    def append(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Store k, v (B, H, T, D) after what is cached; return views of everything cached so far."""
        end = self.length + k.shape[2]
        if end > self.capacity:
            raise RuntimeError(f"KV cache full: {end} tokens do not fit in {self.capacity}")
        self.k[:, :, self.length : end] = k
        self.v[:, :, self.length : end] = v
        self.length = end
        return self.k[:, :, :end], self.v[:, :, :end]


class DecodeCache:
    """Everything one ARPG decoding job keeps between steps.

    One KVCache per self-attention block, one for the shared keys and values that every
    cross-attention block reads, and the rotary table this job uses (the native grid or a larger one).
    """

    def __init__(self, n_self: int, batch: int, heads: int, max_len: int, head_dim: int, rope: Tensor, dtype, device):
        self.layers = [KVCache(batch, heads, max_len, head_dim, dtype, device) for _ in range(n_self)]
        self.shared = KVCache(batch, heads, max_len, head_dim, dtype, device)
        self.rope = rope

    @property
    def length(self) -> int:
        return self.shared.length

    @property
    def batch(self) -> int:
        return self.shared.k.shape[0]
