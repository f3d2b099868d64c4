"""Model configurations: frozen dataclasses, and named presets that are plain data.

Token ids follow the official ARPG layout (embedding table of ``vocab + 1 + classes + 1 + 1`` rows):
image tokens ``0..V-1``, the mask token ``V`` (input of every query), class ``y`` at ``V + 1 + y``,
the null class ("none", the unconditional CFG branch) at ``V + 1 + C``, and one unused "none token".
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, field, fields


class ConfigError(ValueError):
    """A configuration value of the wrong type or outside its range; the message names the field."""


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _whole(name: str, value, lo: int, hi: int) -> int:
    """``value`` as an int in [lo, hi]; bools, strings and floats (1e9 included) are refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(f"{name} must be a whole number between {lo} and {hi}, got {_show(value)}")
    if not lo <= value <= hi:
        raise ConfigError(f"{name} must be between {lo} and {hi}, got {_show(value)}")
    return int(value)


def _real(name: str, value, lo: float, hi: float) -> float:
    """``value`` as a finite float with lo < value <= hi."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number above {lo:g} and at most {hi:g}, got {_show(value)}")
    if not lo < value <= hi:
        raise ConfigError(f"{name} must be above {lo:g} and at most {hi:g}, got {_show(value)}")
    return float(value)


def _flag(name: str, value) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be true or false, got {_show(value)}")
    return value


def _known_fields(cls, d) -> dict:
    if not isinstance(d, dict):
        raise ConfigError(f"the config must be a JSON object of fields, got {type(d).__name__} {_show(d)}")
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in d.items() if k in names}


# Bounds of every size field. Real files are further bounded by their tensors: a config is checked against
# the shapes in the file's header before anything is built (arpg_core.files.shapes).
MAX_DIM = 65536
MAX_LAYERS = 1024
MAX_VOCAB = 1 << 24
MAX_CLASSES = 1 << 20
MAX_GRID_SIDE = 64  # block_size is at most 64x64 tokens
MAX_FFN = 1 << 20
MAX_CHANNELS = 16384
MAX_LEVELS = 8


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
        self.validate()
        if self.n_layer % 2:
            raise ConfigError(f"n_layer must be even (self + cross halves), got {self.n_layer}")
        if self.dim % self.n_head:
            raise ConfigError(f"dim {self.dim} is not divisible by n_head {self.n_head}")
        if self.head_dim % 4:
            raise ConfigError(f"head_dim {self.head_dim} must be a multiple of 4 for the 2D rotary table")
        side = math.isqrt(self.block_size)
        if side * side != self.block_size:
            raise ConfigError(f"block_size {self.block_size} is not a square grid")
        if self.ffn_hidden_dim == 0:
            hidden = int(2 * 4 * self.dim / 3)
            hidden = self.multiple_of * ((hidden + self.multiple_of - 1) // self.multiple_of)
            object.__setattr__(self, "ffn_hidden_dim", hidden)

    def validate(self) -> None:
        """Raise ConfigError naming the first field of the wrong type or outside its bounds."""
        _whole("dim", self.dim, 4, MAX_DIM)
        _whole("n_layer", self.n_layer, 2, MAX_LAYERS)
        _whole("n_head", self.n_head, 1, max(1, self.dim // 4))
        _whole("vocab_size", self.vocab_size, 2, MAX_VOCAB)
        _whole("num_classes", self.num_classes, 0, MAX_CLASSES)
        _whole("block_size", self.block_size, 4, MAX_GRID_SIDE**2)
        _whole("multiple_of", self.multiple_of, 1, MAX_FFN)
        _real("rope_base", self.rope_base, 1.0, 1e12)
        _real("norm_eps", self.norm_eps, 0.0, 1.0)
        _whole("ffn_hidden_dim", self.ffn_hidden_dim, 0, MAX_FFN)

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
        return cls(**_known_fields(cls, d))


VQ_NORMS = ("group", "pixel")


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
    # "group": GroupNorm over each group's channels and the whole map (LlamaGen); "pixel": each position's
    # channels on their own, so nothing is normalised away over the window (the embedded tokenizer v3)
    norm: str = "group"
    # A path for each cell's mean colour around every normalisation: the encoder adds a 1x1 conv of the
    # cell-mean input to the latent, the decoder adds a 1x1 conv of the code, upsampled bilinearly, to its
    # output. GroupNorm removes each group's level over the window, so without it a flat colour cannot
    # pass through a small tokenizer (the embedded tokenizer v3; VQ-16 has none).
    colour_path: bool = False

    def __post_init__(self):
        if not isinstance(self.ch_mult, (list, tuple)) or not 1 <= len(self.ch_mult) <= MAX_LEVELS:
            raise ConfigError(f"ch_mult must be a list of 1 to {MAX_LEVELS} whole numbers, got {_show(self.ch_mult)}")
        object.__setattr__(self, "ch_mult", tuple(self.ch_mult))
        self.validate()

    def validate(self) -> None:
        """Raise ConfigError naming the first field of the wrong type or outside its bounds."""
        _whole("codebook_size", self.codebook_size, 2, MAX_VOCAB)
        _whole("codebook_dim", self.codebook_dim, 1, 4096)
        _flag("l2_norm", self.l2_norm)
        _flag("show_usage", self.show_usage)
        _whole("z_channels", self.z_channels, 1, 4096)
        _whole("ch", self.ch, 1, 4096)
        for m in self.ch_mult:
            _whole("each ch_mult entry", m, 1, 64)
        if self.ch * max(self.ch_mult) > MAX_CHANNELS:
            raise ConfigError(f"ch x ch_mult gives {self.ch * max(self.ch_mult)} channels, over {MAX_CHANNELS}")
        _whole("encoder_res_blocks", self.encoder_res_blocks, 1, 16)
        _whole("decoder_res_blocks", self.decoder_res_blocks, 1, 16)
        _whole("num_groups", self.num_groups, 1, self.ch)
        if self.ch % self.num_groups:
            raise ConfigError(f"num_groups {self.num_groups} does not divide ch {self.ch}")
        _flag("colour_path", self.colour_path)
        if self.norm not in VQ_NORMS:
            raise ConfigError(f"norm must be one of {', '.join(VQ_NORMS)}, got {_show(self.norm)}")

    @property
    def downsample(self) -> int:
        return 2 ** (len(self.ch_mult) - 1)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["ch_mult"] = list(self.ch_mult)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> VQConfig:
        return cls(**_known_fields(cls, d))


ARPG_PRESETS: dict[str, ARPGConfig] = {
    "ARPG-L": ARPGConfig(dim=1024, n_layer=24, n_head=16),
    "ARPG-XL": ARPGConfig(dim=1280, n_layer=36, n_head=20),
    "ARPG-XXL": ARPGConfig(dim=1536, n_layer=48, n_head=24),
}

VQ_PRESETS: dict[str, VQConfig] = {
    "VQ-16": VQConfig(),
}
