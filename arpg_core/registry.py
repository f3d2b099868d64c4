"""Where weights come from: the embedded model in assets/, files the user names, and the official presets.

The official entries are data: the hub repo and file, the size, the expected parameter count, the
tokenizer each pairs with, the native resolution and where its class names come from. An official
preset is used once it is installed in the user cache (see ``weights``: download or import).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import torch

from . import calibrate
from .calibrate import Speed
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
    classes: str  # "imagenet" (assets/imagenet_classes.txt, 1000 names) or "metadata" (stored in the weights)

    @property
    def approx_download_bytes(self) -> int:
        """Approximate size of the download: fp32 weights, 4 bytes a parameter (the hub has the exact size)."""
        return self.size_bytes if self.size_bytes is not None else 4 * self.parameters

    @property
    def classes_source(self) -> str:
        if self.classes == "imagenet":
            return f"ImageNet's 1000 classes (assets/{IMAGENET_CLASSES_FILE})"
        return "class names stored in the weights"

    @property
    def url(self) -> str | None:
        """Where a browser can fetch the file (the official hub; HF_ENDPOINT is not applied here)."""
        return f"https://huggingface.co/{self.repo}/resolve/main/{self.filename}" if self.repo else None


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


def estimate(entry: ModelEntry | str, speed: Speed | None = None, measure: bool = True) -> dict:
    """Approximate download size, memory (fp32 on the CPU) and time per image of a registry entry.

    ``memory_bytes`` is the model's own weights in fp32 (about 5.2 GB for ARPG-XXL); the tokenizer it pairs with
    adds ``tokenizer_memory_bytes``. ``seconds_per_image`` (fp32) and ``seconds_per_image_int8`` are for one
    64-step image (sampling, batch 1 with guidance) on this machine: from ``speed``, else the measurement kept
    in the model cache, taken on first use (arpg_core.calibrate); None for a tokenizer, or when nothing is
    measured and ``measure`` is False.
    """
    if isinstance(entry, str):
        entry = REGISTRY[entry]
    tok = REGISTRY.get(entry.tokenizer) if entry.tokenizer else None
    seconds = seconds_int8 = measured = None
    if entry.kind == "arpg":
        if speed is None:
            speed = calibrate.speed(measure=measure)
        if speed is not None:
            n = calibrate.parameters_of(entry.name, entry.parameters)
            seconds = _round_seconds(speed.seconds_per_image(n, "fp32"))
            seconds_int8 = _round_seconds(speed.seconds_per_image(n, "int8"))
            measured = speed.machine
    return {
        "name": entry.name,
        "parameters": entry.parameters,
        "download_bytes": entry.approx_download_bytes,
        "memory_bytes": 4 * entry.parameters,
        "tokenizer": entry.tokenizer,
        "tokenizer_memory_bytes": 4 * tok.parameters if tok else 0,
        "seconds_per_image": seconds,
        "seconds_per_image_int8": seconds_int8,
        "steps": calibrate.STEPS_PER_IMAGE,
        "measured": measured,  # the machine, threads and others' load of the measurement
        "native_px": entry.native_px,
        "classes": entry.classes_source,
        "approximate": True,
    }


def _round_seconds(s: float) -> float:
    return round(s, 2) if s < 1 else round(s, 1) if s < 10 else float(round(s))


def format_bytes(n: int | float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.3g} {unit}"
        n /= 1000
    return f"{n:.3g} GB"


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
    """A preset name ("embedded", "ARPG-L"), a name given at import, or a file path, to the file it stands for.

    Registry names come first, then existing files, then names of models imported under a name of their own.
    """
    from .weights import installed_path, not_installed_message  # weights imports this module

    if spec in ("embedded", "embedded-tokenizer"):
        path = assets_dir() / default_file
        if not path.is_file():
            raise CheckpointError(f"the embedded weights are missing: {path} not found")
        return path
    if spec in REGISTRY:
        path = installed_path(spec)
        if path is None:
            raise CheckpointError(not_installed_message(spec))
        return path
    if Path(spec).is_file():
        return Path(spec)
    return installed_path(spec) or Path(spec)


def _recorded_tokenizer(name: str, model_path: Path) -> Path:
    """A tokenizer named in a model's metadata: a known or installed model name, or a plain file name beside the
    model. A path elsewhere (``/etc/passwd``, ``../x``) is refused: a file must not make the app read others."""
    from .weights import installed_path

    if name in REGISTRY or name in ("embedded", "embedded-tokenizer"):
        return resolve_path(name, EMBEDDED_VQ_FILE)
    path = installed_path(name)
    if path is not None:
        return path
    plain = name not in ("", ".", "..") and Path(name).name == name and "\\" not in name and "/" not in name
    if plain and (model_path.parent / name).is_file():
        return model_path.parent / name
    raise CheckpointError(
        f"{model_path}: its metadata names the tokenizer {name[:80]!r}, which is neither a known model nor a file "
        "beside it; pass --tokenizer"
    )


def load_engine(
    model: str = "embedded",
    tokenizer: str | None = None,
    device: str = "cpu",
    precision: str = "auto",
    threads: dict | None = None,
) -> Engine:
    """An Engine from a preset name or files. The embedded model brings its own tokenizer.

    ``precision`` goes to :class:`Engine` ("auto", "fp32", "bf16", or "int8", the CPU fast mode); ``threads``
    overrides the thread policy ({"cli": N} or {"setting": N}, see arpg_core.threads)."""
    dev = resolve_device(device)
    model_path = resolve_path(model, EMBEDDED_ARPG_FILE)
    arpg_ckpt = read_checkpoint(model_path)
    arpg = build_arpg(arpg_ckpt)
    arpg_ckpt.state_dict.clear()  # the model owns those tensors now; int8 can free each fp32 weight as it goes
    if tokenizer is not None:
        tok_path = resolve_path(tokenizer, EMBEDDED_VQ_FILE)  # the user's own choice: any name or file
    else:
        # the embedded model, a preset (its pairing) or a file we installed (the pairing recorded at import)
        entry = REGISTRY.get(model)
        tokenizer = entry.tokenizer if entry else arpg_ckpt.metadata.get("tokenizer")
        if not isinstance(tokenizer, str):
            raise CheckpointError("an ARPG file needs its tokenizer: pass --tokenizer (VQ-16 for the official models)")
        tok_path = _recorded_tokenizer(tokenizer, model_path)
    vq = build_vq(read_checkpoint(tok_path))
    names = class_names_for(arpg.cfg.num_classes, arpg_ckpt.metadata)
    recorded = arpg_ckpt.metadata.get("model")
    name = model if model in REGISTRY or model == recorded else Path(model).stem
    return Engine(
        arpg, vq, class_names=names, name=name, device=dev, precision=precision, threads=threads, int8_source=model_path
    )
