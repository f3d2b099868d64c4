"""The model catalog: the embedded model in assets/ and the official presets, as data.

Each entry names the hub repo and file, the size, the expected parameter count, the tokenizer it pairs with,
the native resolution and where its class names come from. An official preset is used once it is installed
in the user cache (``arpg_core.weights.cache``: download or import). Reading the catalog imports no torch: listing
models (``arpg-studio weights list``, the Models dialog) starts from here.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

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
    # The model's own defaults over the requests' (field, value), SamplingParams' fields and others
    # (``candidates``): what its edits start from in the CLI and in a new app. Empty: the official defaults.
    defaults: tuple[tuple[str, float | str | int], ...] = ()

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
        # Temperature 0.7: at 1 the small model's fills carry specks of unrelated colour; 0.7 is cleaner by eye
        # and closer in colour and block means (assets/MODEL_CARD.md, "The v3 pair against Telea").
        ModelEntry(
            "embedded",
            "arpg",
            None,
            EMBEDDED_ARPG_FILE,
            None,
            8_133_120,
            "embedded-tokenizer",
            128,
            "metadata",
            # The context prefilled causally, as it was trained (the core's default; v3 alone was tuned the other
            # way, docs/prefill.md); the best of 6 fills by their fit to the surroundings (docs/ranking.md)
            defaults=(("temperature", 0.7), ("candidates", 6)),
        ),
        ModelEntry("embedded-tokenizer", "vq", None, EMBEDDED_VQ_FILE, None, 6_907_638, None, 128, "metadata"),
        ModelEntry("ARPG-L", "arpg", "hp-l33/ARPG", "arpg_300m.pt", None, 319_845_376, "VQ-16", 256, "imagenet"),
        ModelEntry("ARPG-XL", "arpg", "hp-l33/ARPG", "arpg_700m.pt", None, 718_997_760, "VQ-16", 256, "imagenet"),
        ModelEntry("ARPG-XXL", "arpg", "hp-l33/ARPG", "arpg_1b.pt", None, 1_302_449_664, "VQ-16", 256, "imagenet"),
        ModelEntry(
            "VQ-16", "vq", "FoundationVision/LlamaGen", "vq_ds16_c2i.pt", None, 71_883_403, None, 256, "imagenet"
        ),
    )
}


def own_defaults(model: str | None) -> dict[str, float | str | int]:
    """The defaults ``model`` (a catalog name) sets over the requests'; empty for a file or None."""
    entry = REGISTRY.get(model)
    return dict(entry.defaults) if entry else {}


def assets_dir() -> Path:
    """assets/: $ARPG_STUDIO_ASSETS, the frozen app's bundle, or the source tree."""
    env = os.environ.get("ARPG_STUDIO_ASSETS")
    if env:
        return Path(env)
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle and (Path(bundle) / "assets").is_dir():
        return Path(bundle) / "assets"
    return Path(__file__).resolve().parent.parent.parent / "assets"


@cache
def imagenet_class_names() -> tuple[str, ...]:
    path = assets_dir() / IMAGENET_CLASSES_FILE
    return tuple(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


def class_names_for(num_classes: int, metadata: dict) -> list[str]:
    names = metadata.get("class_names")
    if isinstance(names, list) and len(names) == num_classes:
        return [str(n) for n in names]
    if num_classes == 1000:
        return list(imagenet_class_names())
    return [f"class {i}" for i in range(num_classes)]
