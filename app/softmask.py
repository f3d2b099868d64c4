"""The soft brush: the mask holds a coverage per pixel (0 = keep, 255 = regenerate, in between: a soft edge).

The model regenerates every painted pixel (coverage above 0) and feathers its result past the painted area as
before; the app then blends the result into the photo by the coverage, so a soft brush's edge fades the edit
in. Outside the painted area the weight is the coverage of the nearest painted pixel, so the model's feather
band fades from the stroke's soft rim rather than from full strength. Pixels the model left unchanged stay
bit-identical: the blend moves a pixel only by the difference the model made to it.
"""

from __future__ import annotations

import cv2
import numpy as np

ON = 255


def stamp(
    patch: np.ndarray,
    ox: float,
    oy: float,
    x0: float,
    y0: float,
    x1: float,
    y1: float,
    diameter: float,
    hardness: float,
    erase: bool,
) -> None:
    """Paint (or erase) a soft round-capped segment into ``patch`` (uint8 coverage), whose top-left pixel is
    (ox, oy) in image pixels. Full coverage within ``hardness`` of the radius, falling linearly to 0 at the edge."""
    h, w = patch.shape
    ys = np.arange(h, dtype=np.float32)[:, None] + oy + 0.5
    xs = np.arange(w, dtype=np.float32)[None, :] + ox + 0.5
    dx, dy = x1 - x0, y1 - y0
    length2 = dx * dx + dy * dy
    if length2 > 1e-9:
        t = np.clip(((xs - x0) * dx + (ys - y0) * dy) / length2, 0.0, 1.0)
        dist = np.hypot(xs - (x0 + t * dx), ys - (y0 + t * dy))
    else:
        dist = np.hypot(xs - x0, ys - y0)
    radius = diameter / 2
    soft = max(radius * (1.0 - hardness), 0.5)
    cover = np.clip((radius - dist) / soft, 0.0, 1.0)
    if erase:
        np.minimum(patch, np.round((1.0 - cover) * ON).astype(np.uint8), out=patch)
    else:
        np.maximum(patch, np.round(cover * ON).astype(np.uint8), out=patch)


def has_soft(mask: np.ndarray | None) -> bool:
    return mask is not None and bool(((mask > 0) & (mask < ON)).any())


def blend_weight(mask: np.ndarray) -> np.ndarray:
    """(H, W) float32 weight: each painted pixel's coverage, and outside the painted area the nearest one's."""
    painted = mask > 0
    if not painted.any():
        return np.zeros(mask.shape, np.float32)
    _dist, labels = cv2.distanceTransformWithLabels(
        (~painted).astype(np.uint8), cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL
    )  # each painted pixel is its own label, 1.. in raster order; the others take the nearest one's
    values = np.zeros(int(painted.sum()) + 1, np.float32)
    values[1:] = mask[painted] / ON
    return values[labels]


def soften(source: np.ndarray, result: np.ndarray, mask: np.ndarray, margin: int) -> np.ndarray:
    """``result`` blended into ``source`` by the soft mask's weight, within ``margin`` px of the painted area
    (the model's feather band); elsewhere ``result`` is returned as it is."""
    rows, cols = np.nonzero((mask > 0).any(axis=1))[0], np.nonzero((mask > 0).any(axis=0))[0]
    if not len(rows):
        return result
    H, W = mask.shape
    y0, y1 = max(0, rows[0] - margin - 2), min(H, rows[-1] + margin + 3)
    x0, x1 = max(0, cols[0] - margin - 2), min(W, cols[-1] + margin + 3)
    k = blend_weight(mask[y0:y1, x0:x1])[..., None]
    src = source[y0:y1, x0:x1].astype(np.float32)
    out = result.copy()
    out[y0:y1, x0:x1] = np.clip(np.round(src + (result[y0:y1, x0:x1].astype(np.float32) - src) * k), 0, 255)
    return out
