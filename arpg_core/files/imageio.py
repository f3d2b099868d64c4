"""Image and mask files: reading with stated conversion rules, atomic writing. The only image file I/O in core.

Reading rules:
- EXIF orientation is applied, and the EXIF block is kept with its orientation reset to 1.
- The ICC profile is kept as bytes and written back; pixels are not colour-converted.
- Modes: RGB as is; RGBA, LA and palette images with transparency are split into RGB plus an alpha
  channel; grayscale (L, 1) is replicated to RGB; CMYK and YCbCr are converted to RGB by Pillow;
  16-bit (I;16, I) and float (F) images are scaled to 8 bits (16-bit: value / 257).
- Images above ``MAX_PIXELS`` are refused before decoding (decompression-bomb guard), so decoding allocates at
  most a few bytes per pixel of 64 megapixels. Any other failure of the decoder on a damaged or hostile file is
  reported as an ``ImageError`` naming the file, never as the decoder's own exception.
Masks: white means regenerate. A mask file is read as luminance > 127; transparent pixels of a mask
with an alpha channel count as black.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from arpg_core.files.atomic import atomic_write
from arpg_core.validate import check_quality

# Pillow logs what it finds wrong in a damaged file (logger.error); without a handler of the program's own,
# Python would print that to stderr next to our one-line error. The app's log still receives it.
logging.getLogger("PIL").addHandler(logging.NullHandler())

MAX_PIXELS = 64_000_000
FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}


class ImageError(ValueError):
    """A file that cannot be used as an image or mask; the message names the file and the problem."""


@dataclass
class LoadedImage:
    rgb: np.ndarray  # (H, W, 3) uint8
    alpha: np.ndarray | None  # (H, W) uint8
    icc: bytes | None
    exif: bytes | None
    format: str
    mode: str  # the file's original mode, e.g. "RGBA", "I;16", "CMYK"

    @property
    def size(self) -> tuple[int, int]:
        return self.rgb.shape[1], self.rgb.shape[0]


class _Clamped(io.BufferedReader):
    """A file whose reads never ask for more than the file holds: Pillow sometimes reads a length taken from the
    file itself (a PNG chunk's), and Python allocates the whole request before reading (2 GB for 200 bytes)."""

    def read(self, size: int | None = -1) -> bytes:
        if size is not None and size > 0:
            size = min(size, self.limit)
        return super().read(size)


@contextlib.contextmanager
def _opened(path: str | os.PathLike) -> Iterator[Image.Image]:
    """The decoded image of ``path``; the file stays open for the block (EXIF and late chunks may be read)."""
    path = Path(path)
    if not path.exists():
        raise ImageError(f"{path}: no such file")
    if path.is_dir():
        raise ImageError(f"{path}: is a folder, not an image")
    size = path.stat().st_size
    if size == 0:
        raise ImageError(f"{path}: the file is empty")
    try:
        raw = io.FileIO(path, "r")
    except OSError as e:
        raise ImageError(f"{path}: cannot be read ({e.strerror or e})") from e
    with _Clamped(raw) as fp:
        fp.limit = size + 1
        yield _decode(path, fp)


def _decode(path: Path, fp) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a damaged tag is the decoder's business: no extra lines on stderr
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(fp)
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise ImageError(
                    f"{path}: {w}x{h} is {w * h / 1e6:.0f} megapixels, over the limit of {MAX_PIXELS // 1_000_000} "
                    "(a possible decompression bomb)"
                )
            img.load()
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageError(f"{path}: refused as a possible decompression bomb ({e})") from e
    except UnidentifiedImageError as e:
        raise ImageError(f"{path}: not an image file, or a format that cannot be read") from e
    except MemoryError as e:
        raise ImageError(f"{path}: too large to decode in the memory available") from e
    except Exception as e:  # OSError, SyntaxError, ValueError, struct.error, ...: a damaged or hostile file
        raise ImageError(f"{path}: the image is truncated or corrupt ({_first_line(e)})") from e
    return img


def _first_line(e: Exception) -> str:
    text = (str(e).splitlines() or [""])[0][:160]
    return text or type(e).__name__


def _read_as(path, convert, failure: str):
    """``convert`` the opened image, every failure one ImageError line: ``failure`` names what went wrong."""
    try:
        with _opened(path) as img, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return convert(img)
    except ImageError:
        raise
    except MemoryError as e:
        raise ImageError(f"{path}: too large to decode in the memory available") from e
    except Exception as e:  # a mode or tag that decodes but cannot be converted
        raise ImageError(f"{path}: {failure} ({_first_line(e)})") from e


def load_image(path: str | os.PathLike) -> LoadedImage:
    return _read_as(path, _loaded, "the image cannot be converted to RGB")


def _loaded(img: Image.Image) -> LoadedImage:
    fmt, mode = img.format or "", img.mode
    icc = img.info.get("icc_profile")
    exif = None
    try:
        exif_obj = img.getexif()
        img = ImageOps.exif_transpose(img)
        if exif_obj:
            exif_obj[0x0112] = 1  # orientation applied
            exif = exif_obj.tobytes()
    except Exception:
        exif = None
    rgb, alpha = to_rgb_alpha(img)
    return LoadedImage(rgb, alpha, icc, exif, fmt, mode)


def to_rgb_alpha(img: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """Apply the mode rules of this module: (H, W, 3) uint8 and an optional (H, W) uint8 alpha."""
    mode = img.mode
    if mode == "P":
        img = img.convert("RGBA") if "transparency" in img.info else img.convert("RGB")
        mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(img, dtype=np.float64)
        scale = 257.0 if mode.startswith("I;16") or a.max() > 255 else 1.0
        gray = np.clip(np.rint(a / scale), 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2), None
    if mode == "F":
        a = np.asarray(img, dtype=np.float64)
        a = a * 255 if a.max() <= 1.0 else a
        gray = np.clip(np.rint(a), 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2), None
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = np.asarray(img.convert("RGBA"))
        alpha = rgba[..., 3].copy()
        return np.ascontiguousarray(rgba[..., :3]), (None if (alpha == 255).all() else alpha)
    return np.ascontiguousarray(np.asarray(img.convert("RGB"))), None


def load_mask(path: str | os.PathLike, size: tuple[int, int] | None = None) -> np.ndarray:
    """A mask file as (H, W) bool (True = regenerate); ``size`` (W, H) must match when given."""
    return _read_as(path, lambda img: _mask_of(path, img, size), "the mask cannot be read as black and white")


def _mask_of(path, img: Image.Image, size: tuple[int, int] | None) -> np.ndarray:
    with contextlib.suppress(Exception):  # a damaged orientation tag: the pixels as stored
        img = ImageOps.exif_transpose(img)
    if size is not None and img.size != tuple(size):
        raise ImageError(
            f"{path}: the mask is {img.size[0]}x{img.size[1]} but the image is {size[0]}x{size[1]}; they must match"
        )
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        lum = np.asarray(img, dtype=np.float64) / (257.0 if img.mode.startswith("I;16") else 1.0)
        return lum > 127
    rgba = np.asarray(img.convert("RGBA"))
    lum = np.asarray(img.convert("L"), dtype=np.uint8)
    return (lum > 127) & (rgba[..., 3] > 127)


def format_for(path: str | os.PathLike) -> str:
    ext = Path(path).suffix.lower()
    if ext not in FORMATS:
        raise ImageError(f"{path}: unknown output format {ext or '(none)'}; use one of {', '.join(sorted(FORMATS))}")
    return FORMATS[ext]


def save_image(
    path: str | os.PathLike,
    rgb: np.ndarray,
    alpha: np.ndarray | None = None,
    icc: bytes | None = None,
    exif: bytes | None = None,
    quality: int = 95,
    force: bool = False,
) -> Path:
    """Write atomically (a temporary file in the same folder, then a rename). JPEG and BMP drop alpha.
    Without ``force`` an existing file is never replaced, not even one that appears while writing."""
    path = Path(path)
    fmt = format_for(path)
    quality = check_quality(quality)
    if path.exists() and not force:
        raise ImageError(f"{path} exists; choose another name or allow overwriting (--force)")
    if not path.parent.is_dir():
        raise ImageError(f"{path.parent}: no such folder")
    with atomic_write(path, replace=force) as tmp:
        write_image(tmp, fmt, rgb, alpha, icc, exif, quality)
    return path


def write_image(
    path: str | os.PathLike,
    fmt: str,
    rgb: np.ndarray,
    alpha: np.ndarray | None = None,
    icc: bytes | None = None,
    exif: bytes | None = None,
    quality: int = 95,
) -> None:
    """Encode to ``path`` as ``fmt`` (one of FORMATS' values), directly: callers write to a temporary."""
    if alpha is not None and fmt not in ("JPEG", "BMP"):
        img = Image.fromarray(np.dstack([rgb, alpha]), "RGBA")
    else:
        img = Image.fromarray(np.ascontiguousarray(rgb), "RGB")
    kwargs: dict = {}
    if icc and fmt in ("PNG", "JPEG", "WEBP", "TIFF"):
        kwargs["icc_profile"] = icc
    if exif and fmt in ("PNG", "JPEG", "WEBP", "TIFF"):
        kwargs["exif"] = exif
    if fmt in ("JPEG", "WEBP"):
        kwargs["quality"] = check_quality(quality)
    img.save(path, format=fmt, **kwargs)


def save_mask(path: str | os.PathLike, mask: np.ndarray, force: bool = False) -> Path:
    gray = np.where(mask, 255, 0).astype(np.uint8)
    return save_image(path, np.repeat(gray[..., None], 3, axis=2), force=force)
