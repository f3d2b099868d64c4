"""Where installed models live: the user's cache folder and the embedded files in assets/. No torch.

Installed models are safetensors files named ``<name>.safetensors`` in ``cache_dir()``: by default
``platformdirs.user_cache_dir("arpg-studio")/models``, or ``$ARPG_STUDIO_CACHE`` (that folder itself). The
embedded model in assets/ counts as installed. ``arpg_core.weights.cache`` fills and empties the cache.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from arpg_core.weights.catalog import REGISTRY, assets_dir

HUB_DIR = ".hub"
SUFFIX = ".safetensors"
EMBEDDED = ("embedded", "embedded-tokenizer")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}")  # a name a model can be installed under


def cache_dir() -> Path:
    """The folder of installed models: ``$ARPG_STUDIO_CACHE``, else ``user_cache_dir("arpg-studio")/models``."""
    env = os.environ.get("ARPG_STUDIO_CACHE")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("arpg-studio", appauthor=False)) / "models"


def hub_cache_dir() -> Path:
    """huggingface_hub's cache for our downloads (kept apart from the user's own ~/.cache/huggingface)."""
    return cache_dir() / HUB_DIR


def installed_path(name: str) -> Path | None:
    """The installed file of a model name, or None. The embedded names resolve to assets/."""
    if name in EMBEDDED:
        entry = REGISTRY[name]
        path = assets_dir() / entry.filename
        return path if path.is_file() else None
    if not NAME.fullmatch(name):
        return None
    path = cache_dir() / f"{name}{SUFFIX}"
    return path if path.is_file() else None
