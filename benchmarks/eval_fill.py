"""Fills, outpaints and expansions against the hidden pixels, next to the classical baselines.

    python benchmarks/eval_fill.py data/photos [--arpg FILE] [--tokenizer FILE] [--n 64]
        [--grid docs/fill-grid.png]

On ``n`` held-out 128 px crops (the embedded window), each with a box covering a quarter of the window
at a random place, the hidden pixels are the ground truth. For the model and for OpenCV Telea it
reports, as Markdown (mean / median over the crops):

- the a*b* error of the fill's mean colour against the hidden pixels' (goal <= 5, and no worse than
  Telea + 1);
- the texture ratio: the std of the Laplacian in the fill over that of the hidden pixels (goal 0.6-1.4);
- the PSNR of the 8x8 block means inside the box.

The same colour figures follow for outpainted border strips (Telea fills the same strip) and for
``expand --lock 0`` (block-mean a*b* error against the real 128 px crop, Lanczos alongside). Fills and outpaints
keep the best of the embedded model's own candidates, as users get them (``--candidates 1``: the first one; docs/
ranking.md). ``--grid``
draws source (box darkened) | mask | model | Telea | ground truth for the first crops.
"""

from __future__ import annotations

import argparse
import statistics

import cv2
import numpy as np
import torch
from PIL import Image

from arpg_core.choices import PREFILLS
from arpg_core.edit.edits import lanczos_2x, lock_low_band
from arpg_core.edit.pipeline import Engine
from arpg_core.edit.requests import build_request, default
from arpg_core.files.checkpoints import load_arpg, load_vq
from arpg_core.training import metrics
from arpg_core.training.crops import CropStream
from arpg_core.weights.catalog import class_names_for
from arpg_core.weights.defaults import model_default


def load_pair(arpg_file: str, tokenizer: str) -> Engine:
    """The engine on an ARPG and tokenizer file pair, gradients off for the whole run."""
    torch.set_grad_enabled(False)
    vq, _ = load_vq(tokenizer)
    arpg, meta = load_arpg(arpg_file)
    return Engine(arpg, vq, class_names=class_names_for(arpg.cfg.num_classes, meta), name="embedded")


def to_uint8(images: torch.Tensor) -> list[np.ndarray]:
    """(B, 3, H, W) in [-1, 1] -> B writable (H, W, 3) uint8 arrays."""
    return list((images * 127.5 + 128).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy())


def heldout_crops(data: str, size: int, n: int) -> tuple[torch.Tensor, list[np.ndarray]]:
    """The first ``n`` held-out crops of ``size`` px (a fixed seed: every run and benchmark sees the same ones),
    as the (n, 3, size, size) batch and as uint8 images."""
    images, _ = CropStream(data, "heldout", size, generator=torch.Generator().manual_seed(2026)).batch(n)
    return images, to_uint8(images)


def box_masks(n: int, size: int, seed: int, side: int | None = None) -> list[np.ndarray]:
    """``n`` masks, each a ``side``^2 box (default size/2: a quarter of the window) at a random place."""
    rng = np.random.default_rng(seed)
    side = side or size // 2
    out = []
    for _ in range(n):
        y, x = rng.integers(0, size - side + 1, 2)
        m = np.zeros((size, size), bool)
        m[y : y + side, x : x + side] = True
        out.append(m)
    return out


def stroke_masks(n: int, size: int, seed: int) -> list[np.ndarray]:
    """``n`` masks, each a brush stroke 8-12 px wide through three random points from edge to edge (a wire or
    a scratch to remove)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        ys = rng.integers(size // 8, size - size // 8, 3)
        pts = np.array([[0, ys[0]], [size // 2, ys[1]], [size - 1, ys[2]]], np.int32)
        m = np.zeros((size, size), np.uint8)
        cv2.polylines(m, [pts], False, 1, int(rng.integers(8, 13)))
        out.append(m.astype(bool))
    return out


def telea(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return cv2.inpaint(image, mask.astype(np.uint8), 5, cv2.INPAINT_TELEA)


def region(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The bounding box of ``mask`` cut out of ``image``."""
    ys, xs = np.nonzero(mask)
    return image[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def fill_scores(out: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    return {
        "colour": metrics.mean_colour_error(out, truth, mask),
        "texture": metrics.texture_ratio(out, truth, mask),
        "block8": metrics.block_psnr(region(out, mask), region(truth, mask), 8),
    }


def summarise(rows: list[dict[str, float]]) -> dict[str, tuple[float, float]]:
    return {k: (statistics.mean(r[k] for r in rows), statistics.median(r[k] for r in rows)) for k in rows[0]}


def border_mask(size: int, border: int) -> np.ndarray:
    m = np.ones((size, size), bool)
    m[border:-border, border:-border] = False
    return m


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data")
    ap.add_argument("--arpg", default="assets/embedded-arpg.safetensors")
    ap.add_argument("--tokenizer", default="assets/embedded-tokenizer.safetensors")
    ap.add_argument("--n", type=int, default=64, help="held-out crops (at least 60 for the model card)")
    ap.add_argument("--crop", type=int, default=None, help="crop size in px (default: the model's window)")
    ap.add_argument("--box", type=int, default=None, help="box side in px (default: half the crop)")
    ap.add_argument("--strokes", action="store_true", help="brush strokes across the crop instead of boxes")
    ap.add_argument("--grid", default=None, help="write source | mask | model | Telea | truth rows here")
    ap.add_argument("--grid-rows", type=int, default=8)
    ap.add_argument(
        "--temperature",
        type=float,
        default=model_default("temperature", model="embedded"),
        help="sampling temperature (default: the embedded model's own, as users get it)",
    )
    ap.add_argument("--top-k", type=int, default=None, help="top-k (default: the engine's)")
    ap.add_argument(
        "--prefill",
        choices=PREFILLS,
        default=model_default("prefill", model="embedded"),
        help="how the known tokens enter the model (default: the embedded model's own)",
    )
    ap.add_argument(
        "--detail",
        type=float,
        default=default("detail", "inpaint"),
        help="fills and outpaints get this much of the surroundings' fine grain (default: the engine's; 0 = off)",
    )
    ap.add_argument(
        "--candidates",
        type=int,
        default=model_default("candidates", "inpaint", model="embedded"),
        help="fills and outpaints keep the best of this many (default: the embedded model's own; 1 = the first)",
    )
    ap.add_argument(
        "--colour-match",
        type=float,
        default=default("colour_match", "inpaint"),
        help="px for fills and outpaints (default: the engine's; 0 scores the raw decode)",
    )
    ap.add_argument("--lock", type=float, default=6.0, help="px: also score the model's detail on Telea's low band")
    args = ap.parse_args()
    engine = load_pair(args.arpg, args.tokenizer)
    vq, size = engine.vq, args.crop or engine.native
    images, crops = heldout_crops(args.data, size, args.n)
    masks = stroke_masks(args.n, size, seed=7) if args.strokes else box_masks(args.n, size, seed=7, side=args.box)
    given = (("temperature", args.temperature), ("top_k", args.top_k), ("prefill", args.prefill))
    sampling = {k: v for k, v in given if v is not None}
    fill = {**sampling, "colour_match": args.colour_match, "candidates": args.candidates, "detail": args.detail}

    # What the tokenizer alone gives back of the hidden pixels: the most a fill through it can match.
    with torch.inference_mode():
        trips = to_uint8(vq.decode(vq.encode(images)))
    ceiling = [fill_scores(t, src, m) for t, src, m in zip(trips, crops, masks)]

    ours, classical, locked, results = [], [], [], []
    for i, (src, m) in enumerate(zip(crops, masks)):
        out = engine.edit(build_request("inpaint", image=src, mask=m, seed=i, **fill)).images[0]
        base = telea(src, m)
        results.append((out, base))
        ours.append(fill_scores(out, src, m))
        classical.append(fill_scores(base, src, m))
        both = np.where(m[..., None], lock_low_band(out, base, args.lock), src)
        locked.append(fill_scores(both, src, m))

    border = max(vq.cfg.downsample * 2, size // 8)
    strip = border_mask(size, border)
    out_ours, out_telea = [], []
    for i, src in enumerate(crops):
        inner = src[border:-border, border:-border]
        out = engine.edit(build_request("outpaint", image=inner, extend=(border,) * 4, seed=i, **fill)).images[0]
        out_ours.append(fill_scores(out, src, strip))
        out_telea.append(fill_scores(telea(src, strip), src, strip))

    exp_ours, exp_lanczos = [], []
    for i, src in enumerate(crops[: max(12, args.n // 4)]):
        small = cv2.resize(src, (size // 2, size // 2), interpolation=cv2.INTER_AREA)
        out = engine.edit(build_request("expand", image=small, expand_lock=0.0, seed=i, **sampling)).images[0]
        exp_ours.append(metrics.ab_error(out, src, 8))
        exp_lanczos.append(metrics.ab_error(lanczos_2x(small), src, 8))

    a, t, lk, rt = summarise(ours), summarise(classical), summarise(locked), summarise(ceiling)
    shape = "an 8-12 px stroke across" if args.strokes else f"a {args.box or size // 2} px box"
    print(f"Fills: {args.n} held-out {size} px crops, {shape} each (mean / median)")
    print(
        f"colour match {args.colour_match:g} px, fine grain x{args.detail:g}, the best of {args.candidates} "
        f"candidates, sampling {sampling}\n"
    )
    print(
        f"| measure | model | Telea | model on Telea's low band ({args.lock:g} px) "
        "| tokenizer round trip of the hidden pixels | goal |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    goals = {"colour": "<= 5, <= Telea + 1", "texture": "0.6 - 1.4", "block8": "higher is better"}
    names = {
        "colour": "a*b* error of the fill's mean colour",
        "texture": "texture ratio (Laplacian std, fill / hidden)",
        "block8": "PSNR of 8x8 block means in the box (dB)",
    }
    for k in names:
        both = f"{lk[k][0]:.2f} / {lk[k][1]:.2f}"
        trip = f"{rt[k][0]:.2f} / {rt[k][1]:.2f}"
        print(
            f"| {names[k]} | {a[k][0]:.2f} / {a[k][1]:.2f} | {t[k][0]:.2f} / {t[k][1]:.2f} | {both} | {trip} "
            f"| {goals[k]} |"
        )
    wins = sum(o["colour"] <= c["colour"] for o, c in zip(ours, classical))
    print(f"\nThe model's fill colour is closer than Telea's on {wins} of {args.n} crops.")
    a, t = summarise(out_ours), summarise(out_telea)
    print(f"\nOutpainted {border} px border strips (mean / median)\n")
    print("| measure | model | Telea |")
    print("| --- | --- | --- |")
    for k in names:
        print(f"| {names[k]} | {a[k][0]:.2f} / {a[k][1]:.2f} | {t[k][0]:.2f} / {t[k][1]:.2f} |")
    print(f"\nExpand {size // 2} -> {size} px with --lock 0, {len(exp_ours)} crops: block-mean (8x8) a*b* error")
    print(f"model {statistics.mean(exp_ours):.2f}, Lanczos {statistics.mean(exp_lanczos):.2f}")

    if args.grid:
        rows = []
        for i in range(min(args.grid_rows, args.n)):
            src, m = crops[i], masks[i]
            shown = src.copy()
            shown[m] = shown[m] // 3
            mask_img = np.repeat((m * 255).astype(np.uint8)[..., None], 3, 2)
            rows.append(np.concatenate([shown, mask_img, results[i][0], results[i][1], src], axis=1))
        grid = np.concatenate(rows, axis=0)
        grid = cv2.resize(grid, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
        Image.fromarray(grid).save(args.grid, optimize=True)
        print(f"\nwrote {args.grid}: source (box darkened) | mask | model | Telea | ground truth, shown at 2x")


if __name__ == "__main__":
    main()
