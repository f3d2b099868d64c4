"""The Models dialog's rows and words: what the core lists, gathered in a worker, and how a person reads it.

:class:`ModelRow` is one model as ``app.models_controller.catalog`` gathers it in a worker thread; the functions
below turn rows, sizes and the core's errors into the app's words. The errors carry structured
fields (``arpg_core.weights.weights_errors``): the words are built from them, never by rewriting the command line's
sentences. Only torch-free parts of arpg_core are imported (the catalog, the errors): widgets import this module.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QLocale

from arpg_core.weights.weights_errors import OfflineError, WeightsError  # no torch: the catalog and the errors

KINDS = {"arpg": "image model", "vq": "tokenizer"}


@dataclass(frozen=True)
class ModelRow:
    """One line of the table, gathered in a worker thread (see :func:`catalog`)."""

    name: str
    kind: str  # "arpg", "vq" or "?" (unreadable)
    installed: bool
    builtin: bool  # part of the app (assets/): cannot be removed
    downloadable: bool  # an official model on the hub
    size_bytes: int | None  # on disk, when installed
    download_bytes: int | None  # approximate, for a downloadable model
    parameters: int | None
    native_px: int | None
    tokenizer: str | None  # the tokenizer an image model pairs with
    summary: str  # the config in brief, or why the file cannot be read
    estimate: dict | None  # arpg_core.weights.estimates.estimate(): memory and rough time per image (image models only)
    filename: str = ""  # the official file name (what to import offline)
    url: str | None = None  # where a browser can fetch it
    repo: str | None = None
    problem: str = ""  # the file is installed but unreadable: why


# --- words for a person ----------------------------------------------------------------------------


def size_text(n: int | float | None) -> str:
    if n is None:
        return "—"
    return QLocale().formattedDataSize(int(n), 2 if n >= 1e9 else 1, QLocale.DataSizeFormat.DataSizeSIFormat)


def count_text(n: int | None) -> str:
    if not n:
        return "—"
    for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= div:
            return f"{n / div:.3g} {unit}"
    return str(n)


def seconds_text(s: float) -> str:
    if s < 0.1:
        return "under 0.1 s"
    return f"{s:.0f} s" if s >= 10 else f"{s:.1f} s"


def estimate_text(row: ModelRow) -> str:
    """'ARPG-XXL: about 5.21 GB of memory in fp32 (+288 MB for VQ-16), about 35 s per 64-step image on this
    computer (7.1 s in int8)', the time measured here (arpg_core.weights.calibrate)"""
    e = row.estimate
    if not e:
        return ""
    text = f"{row.name}: about {size_text(e['memory_bytes'])} of memory in fp32"
    if e.get("tokenizer_memory_bytes"):
        text += f" (+{size_text(e['tokenizer_memory_bytes'])} for {e['tokenizer']})"
    if e.get("seconds_per_image") is not None:
        text += f", about {seconds_text(e['seconds_per_image'])} per {e['steps']}-step image on this computer"
        if e.get("seconds_per_image_int8") is not None:
            text += f" ({seconds_text(e['seconds_per_image_int8'])} in int8)"
    else:
        text += "; measuring this computer's speed for the time per image…"
    return text


def short_path(path: str) -> str:
    """~/… for a folder in the home folder (not on Windows, where ~ means nothing to most people)."""
    home = Path.home()
    p = Path(path)
    if os.name != "nt" and p.is_relative_to(home):
        return str(Path("~") / p.relative_to(home))
    return path


def sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] if text else text


def error_text(error: BaseException | None, message: str) -> str:
    """A core error in the app's words, built from its fields (``arpg_core.weights.weights_errors.WeightsError``): no
    command lines; offline says how to import instead, a connection problem what to check."""
    if not isinstance(error, WeightsError):  # its message is all there is
        return sentence(str(error) if error is not None else message)
    kind = error.kind
    if kind == "offline":
        text = f"Cannot download {error.name} ({error.detail})."
        if error.url:
            text += (
                f"\n\nTo install {error.name} without a connection: on a computer that is online, download "
                f"{error.filename} from {error.url}, copy it to this computer and choose Import file… here."
            )
        return text
    if kind == "not_installed" and error.filename:
        return (
            f"{error.name} is not installed; download {error.name} in Models…, or offline copy {error.filename} "
            "here and choose Import file… in Models…"
        )
    text = sentence(error.message)  # the core's sentence without the command line's advice (cli_hint)
    if isinstance(error, OfflineError):
        text += "\n\nCheck the connection (and HF_ENDPOINT or a proxy, if you use one)."
    return text
