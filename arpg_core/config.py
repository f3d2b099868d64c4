"""Model configurations: frozen dataclasses, and named presets that are plain data.

Token ids follow the official ARPG layout (embedding table of ``vocab + 1 + classes + 1 + 1`` rows):
image tokens ``0..V-1``, the mask token ``V`` (input of every query), class ``y`` at ``V + 1 + y``,
the null class ("none", the unconditional CFG branch) at ``V + 1 + C``, and one unused "none token".
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields


@dataclass(frozen=True)
class ARPGConfig:
    dim: int = 1024
    n_layer: int = 24  # split evenly: n_layer // 2 self-attention + n_layer // 2 cross-attention blocks
    n_head: int = 16
    vocab_size: int = 16384
    num_classes: int = 1000
    block_size: int = 256  # tokens in the native grid (a square: 16x16 for the official models)
    multiple_of: int = 256  # the FFN hidden size is rounded up to this
    rope_base: float = 10000.0
    norm_eps: float = 1e-5
    ffn_hidden_dim: int = field(default=0)  # 0: derived from dim and multiple_of, as the official code does

    def __post_init__(self):
        if self.n_layer % 2:
            raise ValueError(f"n_layer must be even (self + cross halves), got {self.n_layer}")
        if self.dim % self.n_head:
            raise ValueError(f"dim {self.dim} is not divisible by n_head {self.n_head}")
        if self.head_dim % 4:
            raise ValueError(f"head_dim {self.head_dim} must be a multiple of 4 for the 2D rotary table")
        side = math.isqrt(self.block_size)
        if side * side != self.block_size:
            raise ValueError(f"block_size {self.block_size} is not a square grid")
        if self.ffn_hidden_dim == 0:
            hidden = int(2 * 4 * self.dim / 3)
            hidden = self.multiple_of * ((hidden + self.multiple_of - 1) // self.multiple_of)
            object.__setattr__(self, "ffn_hidden_dim", hidden)

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_head

    @property
    def grid_size(self) -> int:
        return math.isqrt(self.block_size)

    @property
    def mask_token_id(self) -> int:
        return self.vocab_size

    @property
    def null_class_id(self) -> int:
        return self.vocab_size + 1 + self.num_classes

    @property
    def embedding_rows(self) -> int:
        return self.vocab_size + 1 + self.num_classes + 2

    def class_token_id(self, label: int | None) -> int:
        """Embedding id of a class label; ``None`` (or ``num_classes``) is the null class."""
        if label is None or label == self.num_classes:
            return self.null_class_id
        if not 0 <= label < self.num_classes:
            raise ValueError(f"class {label} is outside 0..{self.num_classes - 1}")
        return self.vocab_size + 1 + label

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ARPGConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass(frozen=True)
class VQConfig:
    codebook_size: int = 16384
    codebook_dim: int = 8
    l2_norm: bool = True
    show_usage: bool = True  # keeps the (unused at inference) `quantize.codebook_used` buffer in the state dict
    z_channels: int = 256
    ch: int = 128
    ch_mult: tuple[int, ...] = (1, 1, 2, 2, 4)
    encoder_res_blocks: int = 2  # per level
    decoder_res_blocks: int = 3  # per level: the official decoder uses one more than the encoder
    num_groups: int = 32  # GroupNorm groups

    def __post_init__(self):
        object.__setattr__(self, "ch_mult", tuple(self.ch_mult))

    @property
    def downsample(self) -> int:
        return 2 ** (len(self.ch_mult) - 1)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["ch_mult"] = list(self.ch_mult)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> VQConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


ARPG_PRESETS: dict[str, ARPGConfig] = {
    "ARPG-L": ARPGConfig(dim=1024, n_layer=24, n_head=16),
    "ARPG-XL": ARPGConfig(dim=1280, n_layer=36, n_head=20),
    "ARPG-XXL": ARPGConfig(dim=1536, n_layer=48, n_head=24),
}

VQ_PRESETS: dict[str, VQConfig] = {
    "VQ-16": VQConfig(),
}
