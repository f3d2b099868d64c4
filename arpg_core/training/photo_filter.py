"""Which pictures count as colour photographs, and which are near-duplicates of one another.

:func:`photo_check` (opaque, not tiny, in colour, not flat) and :func:`near_duplicates` decide what
``prepare_data`` keeps; :func:`fit_within` sizes what it keeps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

MIN_SIDE = 200  # smaller images are dropped
MIN_COLOURS = 1500  # distinct colours in a 128 px thumbnail; drawings and flat art have fewer
MIN_CHROMA = 1.0  # mean |channel - grey| (0..255) below which an image counts as monochrome
MAX_TRANSPARENT = 0.001  # share of pixels with alpha < 255 above which an image has holes
DUP_HASH_BITS = 6  # 8x8 average hashes this close (Hamming) ...
DUP_COLOUR_DIFF = 12.0  # ... whose 16x16 colour thumbnails also differ this little are duplicates


@dataclass
class PhotoStats:
    width: int
    height: int
    transparent: float  # share of pixels with alpha < 255
    chroma: float  # mean |channel - mean of channels| of a 128 px thumbnail, 0..255
    colours: int  # distinct RGB values in that thumbnail


def photo_stats(img: Image.Image) -> PhotoStats:
    w, h = img.size
    transparent = 0.0
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (img.mode == "P" and "transparency" in img.info):
        alpha = np.asarray(img.convert("RGBA").getchannel("A"))
        transparent = float((alpha < 255).mean())
    thumb = img.convert("RGB")
    thumb.thumbnail((128, 128), Image.Resampling.BOX)
    a = np.asarray(thumb, dtype=np.int32)
    chroma = float(np.abs(a - a.mean(axis=2, keepdims=True)).mean())
    packed = (a[..., 0] << 16) | (a[..., 1] << 8) | a[..., 2]
    return PhotoStats(w, h, transparent, chroma, int(np.unique(packed).size))


def photo_check(img: Image.Image) -> str | None:
    """Why an image is not a usable colour photograph (``None`` when it is).

    Reasons: ``small`` (shorter side < 200), ``transparent`` (cut-outs and holes), ``grayscale``,
    ``flat`` (few distinct colours: drawings, flat or abstract art).
    """
    s = photo_stats(img)
    if min(s.width, s.height) < MIN_SIDE:
        return "small"
    if s.transparent > MAX_TRANSPARENT:
        return "transparent"
    if img.mode in ("L", "LA", "I", "I;16", "F", "1") or s.chroma < MIN_CHROMA:
        return "grayscale"
    if s.colours < MIN_COLOURS:
        return "flat"
    return None


def average_hash(img: Image.Image) -> int:
    """64-bit average hash: an 8x8 grey thumbnail thresholded at its mean."""
    a = np.asarray(img.convert("L").resize((8, 8), Image.Resampling.BOX), dtype=np.float32)
    bits = (a > a.mean()).flatten()
    return int("".join("1" if b else "0" for b in bits), 2)


def colour_thumb(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("RGB").resize((16, 16), Image.Resampling.BOX), dtype=np.float32)


def near_duplicates(images: list[Image.Image]) -> list[int | None]:
    """For each image, the index of an earlier image it nearly duplicates (``None`` if it is new).

    Near means: 8x8 average hashes within ``DUP_HASH_BITS`` bits *and* 16x16 colour thumbnails within
    ``DUP_COLOUR_DIFF`` mean absolute difference.  Order the list by preference (best copy first).
    """
    hashes = [average_hash(im) for im in images]
    thumbs = [colour_thumb(im) for im in images]
    kept: list[int] = []
    out: list[int | None] = []
    for i in range(len(images)):
        dup = None
        for j in kept:
            if (hashes[i] ^ hashes[j]).bit_count() <= DUP_HASH_BITS and (
                np.abs(thumbs[i] - thumbs[j]).mean() <= DUP_COLOUR_DIFF
            ):
                dup = j
                break
        out.append(dup)
        if dup is None:
            kept.append(i)
    return out


def fit_within(img: Image.Image, max_side: int) -> Image.Image:
    """Downscale (Lanczos) so the longer side is at most ``max_side``; never upscales."""
    w, h = img.size
    if max(w, h) <= max_side:
        return img
    s = max_side / max(w, h)
    return img.resize((max(1, round(w * s)), max(1, round(h * s))), Image.Resampling.LANCZOS)
