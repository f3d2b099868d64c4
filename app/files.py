"""Document files: open, save names that never clobber the source, and the crash-recovery autosave."""

from __future__ import annotations

import itertools
import json
import logging
import shutil
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

from arpg_core.files.imageio import ImageError, LoadedImage, load_image, load_mask, save_image

from .settings import data_dir

log = logging.getLogger("arpg_studio.files")
OPEN_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff);;All files (*)"
SAVE_FILTER = "PNG (*.png);;JPEG (*.jpg *.jpeg);;WebP (*.webp);;TIFF (*.tif *.tiff);;BMP (*.bmp)"


def filter_for(path: Path) -> str:
    """The entry of SAVE_FILTER that lists files like ``path`` (PNG when none does)."""
    entries = SAVE_FILTER.split(";;")
    suffix = f"*{path.suffix.lower()}"
    return next((e for e in entries if suffix in e.split("(")[1].rstrip(")").split()), entries[0])


def suffix_for_filter(entry: str) -> str:
    """'.jpg' for 'JPEG (*.jpg *.jpeg)'; '.png' when the entry names no pattern."""
    patterns = entry.split("(")[1].rstrip(")").split() if "(" in entry else []
    return patterns[0].lstrip("*") if patterns and patterns[0].startswith("*.") else ".png"


__all__ = ["ImageError", "LoadedImage", "load_image", "load_mask", "save_image", "save_mask"]


def save_mask(path: str | Path, mask: np.ndarray, force: bool = False) -> Path:
    """A mask as a grey PNG: white = regenerate, black = keep, grey = a soft brush's edge (uint8 coverage)."""
    gray = np.where(mask, 255, 0).astype(np.uint8) if mask.dtype == bool else np.asarray(mask, np.uint8)
    return save_image(path, np.repeat(gray[..., None], 3, axis=2), force=force)


def read_coverage(path: Path, size: tuple[int, int]) -> np.ndarray:
    """A mask written by :func:`save_mask`, as uint8 coverage."""
    load_mask(path, size)  # the same checks (readable, of the right size)
    with Image.open(path) as img:
        return np.asarray(img.convert("L"), np.uint8).copy()


def free_name(path: Path) -> Path:
    """``path`` if nothing is there, else the first of name-2, name-3, … that is free."""
    if not path.exists():
        return path
    i = 2
    while (candidate := path.with_name(f"{path.stem}-{i}{path.suffix}")).exists():
        i += 1
    return candidate


def suggested_save_path(source: Path | None, save_path: Path | None, folder: str) -> Path:
    """Where Save As starts: the last save, else '<source>_edited' next to the source, else untitled.png."""
    if save_path is not None:
        return save_path
    if source is not None:
        suffix = (
            source.suffix.lower() if source.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp", ".tif") else ".png"
        )
        return free_name(source.with_name(f"{source.stem}_edited{suffix}"))
    return free_name(Path(folder) / "untitled.png")


# --- autosave --------------------------------------------------------------------------------------


def autosave_dir() -> Path:
    return data_dir() / "autosave"


_autosave_lock = threading.Lock()
_autosave_seq = itertools.count(1)
_autosave_written = [0]  # the sequence number of the snapshot on disk


def write_autosave(rgb, alpha, mask, icc, exif, meta: dict, folder: Path | None = None) -> threading.Thread:
    """Write the document in a background thread (arrays are snapshotted first); returns the thread."""
    folder = folder or autosave_dir()
    rgb, alpha, mask = rgb.copy(), None if alpha is None else alpha.copy(), mask.copy()
    meta = {**meta, "saved_at": time.time()}

    seq = next(_autosave_seq)

    def work() -> None:
        with _autosave_lock:  # one writer at a time, and an older snapshot never replaces a newer one
            if seq < _autosave_written[0]:
                return
            _write()

    def _write() -> None:
        try:
            tmp = folder.with_name(folder.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            save_image(tmp / "image.png", rgb, alpha)
            save_mask(tmp / "mask.png", mask)
            if icc:
                (tmp / "icc.bin").write_bytes(icc)
            if exif:
                (tmp / "exif.bin").write_bytes(exif)
            (tmp / "document.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
            shutil.rmtree(folder, ignore_errors=True)
            tmp.rename(folder)
            _autosave_written[0] = seq
        except Exception:
            log.exception("autosave failed")

    thread = threading.Thread(target=work, name="autosave", daemon=True)
    thread.start()
    return thread


def read_autosave(folder: Path | None = None) -> dict | None:
    """The autosaved document as a dict (rgb, alpha, mask, icc, exif, meta), or None if there is none."""
    folder = folder or autosave_dir()
    if not (folder / "document.json").is_file():
        return None
    try:
        meta = json.loads((folder / "document.json").read_text(encoding="utf-8"))
        img = load_image(folder / "image.png")
        mask = read_coverage(folder / "mask.png", img.size)
    except (OSError, ValueError) as e:
        log.warning("autosave unreadable: %s", e)
        return None
    icc = (folder / "icc.bin").read_bytes() if (folder / "icc.bin").is_file() else None
    exif = (folder / "exif.bin").read_bytes() if (folder / "exif.bin").is_file() else None
    return {"rgb": img.rgb, "alpha": img.alpha, "mask": mask, "icc": icc, "exif": exif, "meta": meta}


def clear_autosave(folder: Path | None = None) -> None:
    shutil.rmtree(folder or autosave_dir(), ignore_errors=True)
