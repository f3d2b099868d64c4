"""What a weights file is, from its safetensors header and tensor names alone: no weights are read, no torch.

Listing installed models (``arpg_core.weights.cache``, ``arpg-studio weights list``, the Models dialog) verifies each
file from its header: its kind, its config (recorded, or inferred from the shapes) against the tensor shapes.
``arpg_core.files.checkpoints`` builds on the same functions to read and build models.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from arpg_core.files.safefile import CheckpointError, SafeHeader, read_header
from arpg_core.files.shapes import expected_shapes, fit_problems
from arpg_core.nn.config import ARPG_PRESETS, VQ_PRESETS, ARPGConfig, ConfigError, VQConfig

STRIP_PREFIXES = ("module.", "_orig_mod.")
IGNORED_KEYS = ("freqs_cis",)


def inspect_safetensors(path: str | os.PathLike) -> tuple[str, ARPGConfig | VQConfig, dict, SafeHeader]:
    """Verify a safetensors file from its header alone (no weights read): sizes, kind, config against the
    shapes. Returns (kind, config, metadata, header); raises CheckpointError naming the problem."""
    path = Path(path)
    header = read_header(path)
    metadata = _decode_metadata(header.metadata)
    names = {_strip(k): v for k, v in header.tensors.items() if _strip(k) not in IGNORED_KEYS}
    kind = detect_kind(names)
    if kind == "unknown":
        raise CheckpointError(f"{path}: {describe_unknown(names)}")
    cfg = _config_from_metadata(path, kind, metadata)
    if cfg is None:
        try:
            cfg = infer_arpg_config(names) if kind == "arpg" else infer_vq_config(names)
        except (KeyError, ValueError, IndexError, TypeError, ZeroDivisionError) as e:
            raise CheckpointError(f"{path}: cannot infer the configuration from this file: {e}") from e
    _check_recorded(path, names, kind, cfg)
    return kind, cfg, metadata, header


def detect_kind(sd: dict) -> str:
    if "layers.to_k.weight" in sd and "embeddings.weight" in sd:
        return "arpg"
    if "quantize.embedding.weight" in sd and "decoder.conv_out.weight" in sd:
        return "vq"
    return "unknown"


def infer_arpg_config(sd: dict, n_head: int | None = None, block_size: int | None = None) -> ARPGConfig:
    """An ARPG config from weight shapes. Heads default to head_dim 64, the grid to 16x16 (256 tokens)."""
    vocab, dim = sd["head.weight"].shape
    rows = sd["embeddings.weight"].shape[0]
    n_self = len({k.split(".")[2] for k in sd if k.startswith("layers.self_dec.")})
    hidden = sd["layers.self_dec.0.ffn.w1.weight"].shape[0]
    n_head = n_head or max(1, dim // 64)
    fields = dict(
        dim=dim,
        n_layer=2 * n_self,
        n_head=n_head,
        vocab_size=vocab,
        num_classes=rows - vocab - 3,
        block_size=block_size or 256,
    )
    for preset in ARPG_PRESETS.values():
        if all(getattr(preset, k) == v for k, v in fields.items()) and preset.ffn_hidden_dim == hidden:
            return preset
    return ARPGConfig(**fields, ffn_hidden_dim=hidden)


def infer_vq_config(sd: dict) -> VQConfig:
    ch = sd["encoder.conv_in.weight"].shape[0]
    levels = len({k.split(".")[2] for k in sd if k.startswith("encoder.conv_blocks.")})
    ch_mult = tuple(sd[f"encoder.conv_blocks.{i}.res.0.conv1.weight"].shape[0] // ch for i in range(levels))
    fields = dict(
        codebook_size=sd["quantize.embedding.weight"].shape[0],
        codebook_dim=sd["quantize.embedding.weight"].shape[1],
        show_usage="quantize.codebook_used" in sd,
        z_channels=sd["encoder.conv_out.weight"].shape[0],
        ch=ch,
        ch_mult=ch_mult,
        encoder_res_blocks=len({k.split(".")[4] for k in sd if k.startswith("encoder.conv_blocks.0.res.")}),
        decoder_res_blocks=len({k.split(".")[4] for k in sd if k.startswith("decoder.conv_blocks.0.res.")}),
    )
    for preset in VQ_PRESETS.values():
        if all(getattr(preset, k) == v for k, v in fields.items()):
            return preset
    return VQConfig(**fields)


def describe_unknown(sd: dict) -> str:
    if not sd:
        return "the file holds no tensors"
    sample = ", ".join(sorted(sd)[:3])
    return f"this is neither an ARPG model nor a VQ tokenizer in the official layout (keys like {sample})"


def _check_recorded(path: Path, names: dict, kind: str, cfg) -> None:
    found = {k: (tuple(v.shape), v.dtype) for k, v in names.items()}
    problems = fit_problems(found, expected_shapes(kind, cfg))
    if problems:
        raise CheckpointError(
            f"{path}: its tensors do not match the model its metadata describes (nothing was built); "
            + "; ".join(problems)
        )


def _config_from_metadata(path: Path | None, kind: str, metadata: dict) -> ARPGConfig | VQConfig | None:
    """The config recorded in our metadata, validated; None when there is none."""
    if "config" not in metadata:
        return None
    where = f"{path}: " if path else ""
    try:
        return (ARPGConfig if kind == "arpg" else VQConfig).from_dict(metadata["config"])
    except (ConfigError, TypeError) as e:
        raise CheckpointError(f"{where}the config in the file's metadata is not usable: {e}") from e


def _strip(key: str) -> str:
    for prefix in STRIP_PREFIXES:
        while key.startswith(prefix):
            key = key[len(prefix) :]
    return key


def _decode_metadata(raw: dict[str, str]) -> dict:
    metadata = {}
    for k, v in raw.items():
        try:
            metadata[k] = json.loads(v)
        except (ValueError, RecursionError):
            metadata[k] = v
    return metadata
