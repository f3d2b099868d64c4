"""Which of an edit's candidates fits its context best: a score that sees only the known pixels.

A fill or an outpaint samples several candidates and keeps the ones whose colour and brightness agree best with
a classical continuation of their surroundings. The reference is OpenCV's Telea inpainting of the edited pixels:
smooth, so it says nothing about texture, but near the edge and in the mean it says which colours belong there.
Each candidate is scored by the mean distance, over the edited pixels, between its low band and the
reference's, in CIELAB with luminance at half weight (a wrong hue or a dark blot is what a person sees at
once). Texture is left alone: the low band is blurred at half a token.

On 64 held-out 128 px crops with a quarter-window box each, the best of 6 candidates of the embedded model had
a fill colour error of 3.5 a*b* units against the first candidate's 4.7 (Telea: 2.9), with the same texture
(benchmarks/eval_fill.py; docs/ranking.md). Pure numpy + OpenCV; no torch.
"""

from __future__ import annotations

import cv2
import numpy as np

# Scored on the edited area's bounding box, shrunk until its longest side is at most this (the score is a low band).
SCORE_SIDE = 256
LUMINANCE_WEIGHT = 0.5  # L* counts half as much as a* and b*: a colour cast is worse than a brightness shift
TELEA_RADIUS = 5  # px at the scoring scale (as benchmarks/eval_fill.py runs Telea)


def context_scores(images: list[np.ndarray], source: np.ndarray, edited: np.ndarray, sigma: float) -> list[float]:
    """How far each candidate's low band (Gaussian ``sigma`` px) is from Telea's fill of the ``edited`` pixels of
    ``source``, averaged over them (lower fits better). ``images``: (H, W, 3) uint8 candidates of the same size
    as ``source``; ``edited``: (H, W) bool, the pixels the edit generated."""
    if not edited.any():
        return [0.0] * len(images)
    ys, xs = np.nonzero(edited)
    H, W = edited.shape
    pad = int(np.ceil(3 * sigma)) + TELEA_RADIUS
    y0, y1 = max(0, ys.min() - pad), min(H, ys.max() + 1 + pad)
    x0, x1 = max(0, xs.min() - pad), min(W, xs.max() + 1 + pad)
    f = min(1.0, SCORE_SIDE / max(y1 - y0, x1 - x0))
    size = (max(1, round((x1 - x0) * f)), max(1, round((y1 - y0) * f)))

    def shrink(img: np.ndarray) -> np.ndarray:
        img = img[y0:y1, x0:x1]
        return img if f == 1.0 else cv2.resize(img, size, interpolation=cv2.INTER_AREA)

    mask = shrink(edited.astype(np.uint8) * 255) >= 128
    if not mask.any():  # an edited area thinner than a scoring pixel: score at its nearest pixel
        coverage = shrink(edited.astype(np.float32))
        mask = coverage == coverage.max()
    known = np.ascontiguousarray(shrink(source))
    reference = cv2.inpaint(known, mask.astype(np.uint8), TELEA_RADIUS, cv2.INPAINT_TELEA)
    s = max(0.5, sigma * f)
    ref = _low_lab(reference, s)
    scores = []
    for img in images:
        d = _low_lab(np.ascontiguousarray(shrink(img)), s) - ref  # (h, w, 3)
        dist = np.sqrt((LUMINANCE_WEIGHT * d[..., 0]) ** 2 + d[..., 1] ** 2 + d[..., 2] ** 2)
        scores.append(float(dist[mask].mean()))
    return scores


def best_first(scores: list[float]) -> list[int]:
    """Candidate indices from the best score to the worst; equal scores keep their order (their seeds')."""
    return sorted(range(len(scores)), key=lambda i: (scores[i], i))


def _low_lab(rgb: np.ndarray, sigma: float) -> np.ndarray:
    """uint8 RGB (h, w, 3) -> its Gaussian-blurred CIELAB in float32, on OpenCV's 8-bit scale (L* 0-255; a*, b*
    offset by 128, which a difference cancels), as ``arpg_core.training.metrics`` measures."""
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)  # (h, w, 3)
    return cv2.GaussianBlur(lab, (0, 0), sigma)
