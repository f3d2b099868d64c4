"""A thick stroke across whole held-out photos: how the engine tiles it, how long it takes, how it looks.

    python benchmarks/thick_stroke.py data/photos [--width 90] [--out DIR] [--radius-tokens R]

Draws a ``width`` px line corner to corner (80 px in from the sides) over the two 1024 x 768 held-out photos
named below and fills it with the embedded model at its defaults (seed 3). Prints the windows (count, scale),
the time, and the mean a*b* and L* error of the 16x16 block means inside the stroke against the photo, next
to OpenCV Telea; ``--out`` writes the fills. ``--radius-tokens`` overrides the engine's TILE_RADIUS_TOKENS
(2; a larger value makes the engine use native tiles for the stroke).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import arpg_core.edit.plans as plans  # noqa: E402
from arpg_core.edit.requests import build_request  # noqa: E402
from arpg_core.weights.catalog import own_defaults  # noqa: E402
from arpg_core.weights.registry import load_engine  # noqa: E402

PHOTOS = ("lomiri_picosdeeuropa-by-aitzol-berasategi", "gcompris_explore-monuments-india-konarksuntemple")


def block_errors(out: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """Mean |a*b*| and |L*| error of the 16x16 block means whose block lies inside the mask."""
    inside = cv2.erode(mask.astype(np.uint8), np.ones((16, 16), np.uint8)).astype(bool)

    def means(img):
        return cv2.blur(cv2.cvtColor(img, cv2.COLOR_RGB2LAB).astype(np.float32), (16, 16))[inside]

    d = np.abs(means(out) - means(truth))
    return float(d[:, 1:].mean()), float(d[:, 0].mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data")
    ap.add_argument("--width", type=int, default=90)
    ap.add_argument("--out", default=None)
    ap.add_argument("--radius-tokens", type=float, default=None)
    args = ap.parse_args()
    if args.radius_tokens is not None:
        plans.TILE_RADIUS_TOKENS = args.radius_tokens
    torch.set_num_threads(2)
    engine = load_engine("embedded")
    print(f"A {args.width} px stroke corner to corner, embedded model, seed 3\n")
    print("| photo | windows | scale | time | block a*b* / L* error | Telea a*b* / L* |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name in PHOTOS:
        img = np.array(Image.open(Path(args.data) / "images" / f"{name}.jpg").convert("RGB"))
        H, W = img.shape[:2]
        line = np.zeros((H, W), np.uint8)
        cv2.line(line, (80, 150), (W - 80, H - 200), 1, args.width)
        mask = line.astype(bool)
        request = build_request("inpaint", image=img, mask=mask, seed=3, **own_defaults("embedded"))
        t0 = time.perf_counter()
        result = engine.edit(request)
        seconds = time.perf_counter() - t0
        out = result.images[0]
        scale = statistics.mean(w.scale for w in result.windows)
        ab, lum = block_errors(out, img, mask)
        tab, tlum = block_errors(cv2.inpaint(img, line, 5, cv2.INPAINT_TELEA), img, mask)
        row = [name[:24], len(result.windows), f"{scale:.2f}", f"{seconds:.1f} s"]
        row += [f"{ab:.2f} / {lum:.1f}", f"{tab:.2f} / {tlum:.1f}"]
        print("| " + " | ".join(str(v) for v in row) + " |", flush=True)
        if args.out:
            Path(args.out).mkdir(parents=True, exist_ok=True)
            Image.fromarray(out).save(Path(args.out) / f"{name[:24]}.png")


if __name__ == "__main__":
    main()
