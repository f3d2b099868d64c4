"""Reading and writing weights: safetensors first, official ``.pt`` files through weights-only unpickling.

A pickled ``.pt`` file is opened with ``torch.load(weights_only=True)``, which refuses any object that is
not plain tensors and containers, so a malicious file cannot run code. Configs are inferred from the
state dict (or read from our safetensors metadata) and every mismatch is reported by key name.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import save_file

from .atomic import atomic_write
from .config import ARPG_PRESETS, VQ_PRESETS, ARPGConfig, VQConfig
from .loading import finish, meta_model, read_safetensors
from .model import ARPG
from .tokenizer import USAGE_BUFFER_LEN, VQModel

FORMAT = "arpg-studio/1"
WRAPPER_KEYS = ("state_dict", "model", "module")
STRIP_PREFIXES = ("module.", "_orig_mod.")
IGNORED_KEYS = ("freqs_cis",)


class CheckpointError(ValueError):
    """A weights file that cannot be used; the message says why, for a person."""


@dataclass
class Checkpoint:
    state_dict: dict[str, torch.Tensor]
    kind: str  # "arpg", "vq" or "unknown"
    metadata: dict = field(default_factory=dict)  # our safetensors metadata, decoded


def read_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read a state dict from safetensors or a weights-only ``.pt``, unwrapped and with prefixes stripped."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: the file is empty")
    with open(path, "rb") as f:
        head = f.read(8)
    if path.suffix == ".safetensors" or _looks_like_safetensors(head):
        sd, metadata = _read_safetensors(path)
    else:
        sd, metadata = _read_pickle(path), {}
    sd = {_strip(k): v for k, v in sd.items() if _strip(k) not in IGNORED_KEYS}
    return Checkpoint(sd, detect_kind(sd), metadata)


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


def arpg_config_of(ckpt: Checkpoint, n_head: int | None = None) -> ARPGConfig:
    _expect_kind(ckpt, "arpg")
    if "config" in ckpt.metadata and n_head is None:
        return ARPGConfig.from_dict(ckpt.metadata["config"])
    try:
        return infer_arpg_config(ckpt.state_dict, n_head)
    except (KeyError, ValueError, IndexError) as e:
        raise CheckpointError(f"cannot infer the ARPG configuration from this file: {e}") from e


def vq_config_of(ckpt: Checkpoint) -> VQConfig:
    _expect_kind(ckpt, "vq")
    if "config" in ckpt.metadata:
        return VQConfig.from_dict(ckpt.metadata["config"])
    try:
        return infer_vq_config(ckpt.state_dict)
    except (KeyError, ValueError, IndexError) as e:
        raise CheckpointError(f"cannot infer the tokenizer configuration from this file: {e}") from e


def build_arpg(ckpt: Checkpoint, n_head: int | None = None) -> ARPG:
    """The model, whose parameters are the state dict's own tensors (arpg_core.loading: no second copy)."""
    cfg = arpg_config_of(ckpt, n_head)
    model = meta_model(lambda: ARPG(cfg))
    _load_strict(model, ckpt.state_dict, "ARPG model")
    return finish(model).eval()


def build_vq(ckpt: Checkpoint) -> VQModel:
    cfg = vq_config_of(ckpt)
    model = meta_model(lambda: VQModel(cfg))
    sd = dict(ckpt.state_dict)
    if cfg.show_usage and "quantize.codebook_used" not in sd:
        sd["quantize.codebook_used"] = torch.zeros(USAGE_BUFFER_LEN)  # statistics only, never read
    _load_strict(model, sd, "VQ tokenizer")
    return finish(model).eval()


def load_arpg(path: str | os.PathLike, n_head: int | None = None) -> tuple[ARPG, dict]:
    ckpt = read_checkpoint(path)
    return build_arpg(ckpt, n_head), ckpt.metadata


def load_vq(path: str | os.PathLike) -> tuple[VQModel, dict]:
    ckpt = read_checkpoint(path)
    return build_vq(ckpt), ckpt.metadata


def save_safetensors(path: str | os.PathLike, state_dict: dict, metadata: dict) -> None:
    """Write atomically: a temporary file in the same folder, then a rename. Values of metadata are JSON."""
    path = Path(path)
    tensors = {k: v.detach().contiguous().cpu() for k, v in state_dict.items()}
    meta = {"format": FORMAT, **{k: json.dumps(v) for k, v in metadata.items()}}
    with atomic_write(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)


def convert(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    *,
    n_head: int | None = None,
    class_names: list[str] | None = None,
    force: bool = False,
) -> dict:
    """Convert an ARPG or VQ checkpoint in the official layout to safetensors with its config recorded."""
    dst = Path(dst)
    if dst.exists() and not force:
        raise CheckpointError(f"{dst} exists; pass --force to overwrite it")
    if dst.suffix != ".safetensors":
        raise CheckpointError(f"{dst}: the output must end in .safetensors")
    ckpt = read_checkpoint(src)
    if ckpt.kind == "arpg":
        model = build_arpg(ckpt, n_head)
        config = model.cfg.to_dict()
    elif ckpt.kind == "vq":
        model = build_vq(ckpt)
        config = model.cfg.to_dict()
    else:
        raise CheckpointError(f"{src}: {describe_unknown(ckpt.state_dict)}")
    meta = {"kind": ckpt.kind, "config": config}
    if class_names is not None or "class_names" in ckpt.metadata:
        meta["class_names"] = class_names if class_names is not None else ckpt.metadata["class_names"]
    save_safetensors(dst, model.state_dict(), meta)
    return meta


def describe_unknown(sd: dict) -> str:
    if not sd:
        return "the file holds no tensors"
    sample = ", ".join(sorted(sd)[:3])
    return f"this is neither an ARPG model nor a VQ tokenizer in the official layout (keys like {sample})"


# --- helpers ---------------------------------------------------------------------------------------


def _expect_kind(ckpt: Checkpoint, kind: str) -> None:
    if ckpt.kind == kind:
        return
    names = {"arpg": "an ARPG model", "vq": "a VQ tokenizer"}
    if ckpt.kind in names:
        raise CheckpointError(f"this is {names[ckpt.kind]}, not {names[kind]}")
    raise CheckpointError(describe_unknown(ckpt.state_dict))


def _load_strict(model: torch.nn.Module, sd: dict, what: str) -> None:
    expected = model.state_dict()
    missing = [k for k in expected if k not in sd]
    unexpected = [k for k in sd if k not in expected]
    mismatched = [
        f"{k} {tuple(sd[k].shape)} (expected {tuple(v.shape)})"
        for k, v in expected.items()
        if k in sd and tuple(sd[k].shape) != tuple(v.shape)
    ]
    problems = []
    for label, items in (("missing", missing), ("unexpected", unexpected), ("wrong shape", mismatched)):
        if items:
            more = f" and {len(items) - 5} more" if len(items) > 5 else ""
            problems.append(f"{label}: {', '.join(items[:5])}{more}")
    if problems:
        raise CheckpointError(f"these weights do not fit the {what}; " + "; ".join(problems))
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in sd.items()}, strict=True, assign=True)


def _strip(key: str) -> str:
    for prefix in STRIP_PREFIXES:
        while key.startswith(prefix):
            key = key[len(prefix) :]
    return key


def _looks_like_safetensors(head: bytes) -> bool:
    # 8-byte little-endian header length, followed by a JSON header starting with '{'
    return len(head) == 8 and 0 < int.from_bytes(head, "little") < 100_000_000 and not head.startswith(b"PK")


def _read_safetensors(path: Path) -> tuple[dict, dict]:
    try:
        sd, raw = read_safetensors(path)  # no memory map: peak memory is the tensors alone (arpg_core.loading)
    except (SafetensorError, OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise CheckpointError(f"{path}: not a readable safetensors file ({e})") from e
    metadata = {}
    for k, v in raw.items():
        try:
            metadata[k] = json.loads(v)
        except json.JSONDecodeError:
            metadata[k] = v
    return sd, metadata


def _read_pickle(path: Path) -> dict:
    # argparse.Namespace is what official training scripts store as 'args': plain data, safe to allow.
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            obj = torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))
    except pickle.UnpicklingError as e:
        raise CheckpointError(
            f"{path}: refused to load: the file contains pickled objects other than tensors, which could run "
            f"code. Only weights are accepted ({str(e).splitlines()[0][:160]})"
        ) from e
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as e:
        raise CheckpointError(f"{path}: the file is truncated or corrupt, or not a PyTorch checkpoint ({e})") from e
    return _unwrap(obj, path)


def _unwrap(obj, path: Path) -> dict:
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: expected a dict of tensors, found {type(obj).__name__}")
    for key in WRAPPER_KEYS:
        if isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise CheckpointError(f"{path}: no tensors found (top-level keys: {', '.join(map(str, list(obj)[:6]))})")
    return tensors
