"""Image-quality measures that see what a person sees: colour, texture and structure kept apart.

PSNR alone is dominated by luminance: a tokenizer that turns green grass brown can still score well.
So colour is measured in CIELAB's a*b* plane (OpenCV's 8-bit scale, where a* and b* are offset by 128),
on block means, and texture as the spread of the Laplacian. All functions take uint8 RGB arrays
``(..., H, W, 3)`` and return plain floats; they are pure numpy + OpenCV, used by the evaluation
scripts and by the quality tests alike.
"""

from __future__ import annotations

import cv2
import numpy as np


def to_lab(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB (..., H, W, 3) -> float64 Lab (..., H, W, 3) with a*, b* centred on 0."""
    flat = np.ascontiguousarray(rgb, dtype=np.uint8).reshape(-1, rgb.shape[-2], 3)
    lab = cv2.cvtColor(flat, cv2.COLOR_RGB2LAB).astype(np.float64).reshape(rgb.shape)
    lab[..., 1:] -= 128.0
    return lab


def block_means(x: np.ndarray, block: int) -> np.ndarray:
    """Mean over non-overlapping ``block`` x ``block`` cells: (..., H, W, C) -> (..., H/b, W/b, C)."""
    *lead, h, w, c = x.shape
    hb, wb = h // block, w // block
    x = x[..., : hb * block, : wb * block, :].astype(np.float64)
    return x.reshape(*lead, hb, block, wb, block, c).mean(axis=(-4, -2))  # (..., hb, wb, C)


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float(10 * np.log10(peak**2 / max(mse, 1e-10)))


def block_psnr(a: np.ndarray, b: np.ndarray, block: int = 16) -> float:
    """PSNR of the ``block`` x ``block`` means: how well the coarse content (and colour) survives."""
    return psnr(block_means(a, block), block_means(b, block))


def ab_error(a: np.ndarray, b: np.ndarray, block: int = 16) -> float:
    """Mean a*b* distance between the ``block`` x ``block`` means of two RGB images."""
    la, lb = block_means(to_lab(a), block), block_means(to_lab(b), block)
    return float(np.hypot(la[..., 1] - lb[..., 1], la[..., 2] - lb[..., 2]).mean())


def mean_colour_error(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """a*b* distance between the mean Lab colours of two images (over ``mask`` where given)."""
    la, lb = to_lab(a), to_lab(b)
    if mask is not None:
        la, lb = la[mask], lb[mask]
    ma, mb = la.reshape(-1, 3).mean(0), lb.reshape(-1, 3).mean(0)
    return float(np.hypot(ma[1] - mb[1], ma[2] - mb[2]))


def chroma(rgb: np.ndarray, block: int = 16) -> float:
    """Mean chroma (a*b* length) of the ``block`` x ``block`` means."""
    lab = block_means(to_lab(rgb), block)
    return float(np.hypot(lab[..., 1], lab[..., 2]).mean())


def chroma_ratio(output: np.ndarray, reference: np.ndarray, block: int = 16) -> float:
    """Chroma of ``output`` over that of ``reference``: 1 keeps saturation, below 1 washes it out."""
    return chroma(output, block) / max(chroma(reference, block), 1e-6)


def laplacian_std(rgb: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Std of the Laplacian of the luminance (over ``mask`` where given): how much fine texture there is."""
    grey = cv2.cvtColor(np.ascontiguousarray(rgb, dtype=np.uint8), cv2.COLOR_RGB2GRAY).astype(np.float64)
    lap = cv2.Laplacian(grey, cv2.CV_64F, ksize=3)
    return float(lap[mask].std() if mask is not None else lap.std())


def texture_ratio(output: np.ndarray, reference: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Laplacian spread of ``output`` over that of ``reference``: near 1 keeps the amount of texture."""
    return laplacian_std(output, mask) / max(laplacian_std(reference, mask), 1e-6)
