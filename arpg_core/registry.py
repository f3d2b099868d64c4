"""Where weights come from: the embedded model in assets/, files the user names, and the official presets.

The official entries are data: the hub repo and file, the size, the expected parameter count, the
tokenizer each pairs with, the native resolution and where its class names come from.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import torch

from .checkpoints import CheckpointError, build_arpg, build_vq, read_checkpoint
from .pipeline import Engine

EMBEDDED_ARPG_FILE = "embedded-arpg.safetensors"
EMBEDDED_VQ_FILE = "embedded-tokenizer.safetensors"
IMAGENET_CLASSES_FILE = "imagenet_classes.txt"


@dataclass(frozen=True)
class ModelEntry:
    name: str
    kind: str  # "arpg" or "vq"
    repo: str | None  # Hugging Face repo, None for the embedded model
    filename: str
    size_bytes: int | None  # None: not known until the hub is asked
    parameters: int
    tokenizer: str | None  # the VQ entry an ARPG model pairs with
    native_px: int
    classes: str  # "imagenet" or "metadata"


REGISTRY: dict[str, ModelEntry] = {
    e.name: e
    for e in (
        ModelEntry(
            "embedded", "arpg", None, EMBEDDED_ARPG_FILE, None, 6_560_256, "embedded-tokenizer", 128, "metadata"
        ),
        ModelEntry("embedded-tokenizer", "vq", None, EMBEDDED_VQ_FILE, None, 3_118_251, None, 128, "metadata"),
        ModelEntry("ARPG-L", "arpg", "hp-l33/ARPG", "arpg_300m.pt", None, 319_845_376, "VQ-16", 256, "imagenet"),
        ModelEntry("ARPG-XL", "arpg", "hp-l33/ARPG", "arpg_700m.pt", None, 718_997_760, "VQ-16", 256, "imagenet"),
        ModelEntry("ARPG-XXL", "arpg", "hp-l33/ARPG", "arpg_1b.pt", None, 1_302_449_664, "VQ-16", 256, "imagenet"),
        ModelEntry(
            "VQ-16", "vq", "FoundationVision/LlamaGen", "vq_ds16_c2i.pt", None, 71_883_403, None, 256, "imagenet"
        ),
    )
}


def assets_dir() -> Path:
    """assets/: $ARPG_STUDIO_ASSETS, the frozen app's bundle, or the source tree."""
    env = os.environ.get("ARPG_STUDIO_ASSETS")
    if env:
        return Path(env)
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle and (Path(bundle) / "assets").is_dir():
        return Path(bundle) / "assets"
    return Path(__file__).resolve().parent.parent / "assets"


@cache
def imagenet_class_names() -> tuple[str, ...]:
    path = assets_dir() / IMAGENET_CLASSES_FILE
    return tuple(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name not in ("cpu", "cuda", "mps"):
        raise ValueError(f"unknown device {name!r}; choose auto, cpu, cuda or mps")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("CUDA was requested but this machine has no usable CUDA device")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError("MPS was requested but it is not available on this machine")
    return torch.device(name)


def class_names_for(num_classes: int, metadata: dict) -> list[str]:
    names = metadata.get("class_names")
    if isinstance(names, list) and len(names) == num_classes:
        return [str(n) for n in names]
    if num_classes == 1000:
        return list(imagenet_class_names())
    return [f"class {i}" for i in range(num_classes)]


def resolve_path(spec: str, default_file: str) -> Path:
    """A preset name ("embedded") or a file path to the file it stands for."""
    if spec in ("embedded", "embedded-tokenizer"):
        path = assets_dir() / default_file
        if not path.is_file():
            raise CheckpointError(f"the embedded weights are missing: {path} not found")
        return path
    if spec in REGISTRY:
        raise CheckpointError(f"{spec} is not installed; import or download it first (arpg-studio weights)")
    return Path(spec)


def load_engine(model: str = "embedded", tokenizer: str | None = None, device: str = "cpu") -> Engine:
    """An Engine from a preset name or files. The embedded model brings its own tokenizer."""
    dev = resolve_device(device)
    arpg_ckpt = read_checkpoint(resolve_path(model, EMBEDDED_ARPG_FILE))
    arpg = build_arpg(arpg_ckpt)
    if tokenizer is None:
        if model != "embedded":
            raise CheckpointError("an ARPG file needs its tokenizer: pass --tokenizer (VQ-16 for the official models)")
        tokenizer = "embedded-tokenizer"
    vq = build_vq(read_checkpoint(resolve_path(tokenizer, EMBEDDED_VQ_FILE)))
    names = class_names_for(arpg.cfg.num_classes, arpg_ckpt.metadata)
    name = model if model in REGISTRY else Path(model).stem
    return Engine(arpg, vq, class_names=names, name=name, device=dev)
