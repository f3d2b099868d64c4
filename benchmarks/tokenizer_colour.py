"""Why does a small tokenizer lose colour? Short training runs, one hypothesis each, measured alike.

    python benchmarks/tokenizer_colour.py data/photos runs/colour [--steps 400] [--only NAME ...]
    python benchmarks/tokenizer_colour.py data/photos runs/colour --eval-only FILE.safetensors ...

Each variant trains the embedded tokenizer recipe with one thing changed, for the same number of
steps and seed, then is measured on held-out 128 px crops: full PSNR, PSNR of the 16x16 block means,
the a*b* error of the block means, the chroma ratio, how much of the block means' a* and b* variance
the code alone explains (a per-code mean colour, fitted on training crops), and the colour of flat
saturated patches (grass, red, blue). Runs resume from their folders; the table is Markdown.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from arpg_core.cli.train_cli import EMBEDDED_VQ_V1 as EMBEDDED_VQ
from arpg_core.files.checkpoints import load_vq
from arpg_core.nn.tokenizer import VQModel
from arpg_core.training import metrics
from arpg_core.training.crops import CropStream
from arpg_core.training.train import VQTrainConfig, train_vq

BASE = VQTrainConfig(batch=16, crop=64, warmup=40)
# name -> (what it tests, tokenizer config, training config); steps are set from the command line
VARIANTS: dict[str, tuple[str, object, VQTrainConfig]] = {
    "baseline": ("the shipped recipe", EMBEDDED_VQ, BASE),
    "colour-loss": (
        "loss: + chroma and cell-mean L1",
        EMBEDDED_VQ,
        replace(BASE, chroma_weight=2.0, lowpass_weight=2.0),
    ),
    "codebook-4096": ("capacity: 4096 codes", replace(EMBEDDED_VQ, codebook_size=4096), BASE),
    "no-l2": ("l2-normalised codes", replace(EMBEDDED_VQ, l2_norm=False), BASE),
    "no-reseed": ("dead-code reseeding", EMBEDDED_VQ, replace(BASE, reseed_every=0)),
    "crop-128": ("training at 64 px (same pixels a step)", EMBEDDED_VQ, replace(BASE, crop=128, batch=4)),
    "wide-ch64": ("capacity: twice the channels", replace(EMBEDDED_VQ, ch=64), BASE),
    # GroupNorm(32) on 32 channels is a per-channel instance norm: it removes each feature map's mean
    # over the window, so the window's overall colour can only pass through its edges and textures.
    "groups-8": ("a bug: one channel per GroupNorm group", replace(EMBEDDED_VQ, num_groups=8), BASE),
    "groups-1": ("the same, one group per layer", replace(EMBEDDED_VQ, num_groups=1), BASE),
    "pixel-norm": ("no statistics over the window at all", replace(EMBEDDED_VQ, norm="pixel"), BASE),
    "groups-8-colour-8": (
        "rate: groups of 4 and colour terms weighted 8",
        replace(EMBEDDED_VQ, num_groups=8),
        replace(BASE, chroma_weight=8.0, lowpass_weight=8.0),
    ),
    "code-colour": (
        "a code that must carry its cell's colour: groups of 4, colour head on the code (weight 1)",
        replace(EMBEDDED_VQ, num_groups=8),
        replace(BASE, code_colour_weight=1.0),
    ),
    "code-colour-hue": (
        "the same, plus hue rotation of a quarter of the crops (all hues seen)",
        replace(EMBEDDED_VQ, num_groups=8),
        replace(BASE, code_colour_weight=1.0, hue_jitter=0.25),
    ),
    "colour-path": (
        "a path for each cell's mean colour around the GroupNorms (config colour_path)",
        replace(EMBEDDED_VQ, num_groups=8, colour_path=True),
        BASE,
    ),
}
PATCHES = {"grass": (102, 149, 52), "red": (200, 30, 30), "blue": (30, 60, 200), "purple": (120, 50, 140)}


def to_u8(x: torch.Tensor) -> np.ndarray:
    return (x * 127.5 + 128).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def to_float(u8: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(u8)).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


@torch.no_grad()
def roundtrip(vq: VQModel, images: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    codes = torch.cat([vq.encode(images[i : i + 32]) for i in range(0, len(images), 32)])
    recon = torch.cat([vq.decode(codes[i : i + 32]) for i in range(0, len(codes), 32)])
    return codes.numpy(), to_u8(recon)


@torch.no_grad()
def evaluate(vq: VQModel, data: str, n: int = 96) -> dict[str, float]:
    vq.eval()
    ds = vq.cfg.downsample
    held, _ = CropStream(data, "heldout", 128, generator=torch.Generator().manual_seed(123)).batch(n)
    train, _ = CropStream(data, "train", 128, generator=torch.Generator().manual_seed(5)).batch(2 * n)
    real = to_u8(held)
    codes, recon = roundtrip(vq, held)
    out = {
        "psnr": metrics.psnr(real, recon),
        "block_psnr": metrics.block_psnr(real, recon, 16),
        "ab_error": metrics.ab_error(real, recon, 16),
        "chroma_ratio": metrics.chroma_ratio(recon, real, 16),
        "texture_ratio": float(np.median([metrics.texture_ratio(o, r) for o, r in zip(recon, real)])),
    }
    # How much of each token cell's colour the code alone carries: a per-code mean Lab colour fitted on
    # training crops, scored on the held-out cells (R^2 per channel).
    tcodes, _ = roundtrip(vq, train)
    tcells = metrics.block_means(metrics.to_lab(to_u8(train)), ds).reshape(-1, 3)
    k = vq.cfg.codebook_size
    sums, cnt = np.zeros((k, 3)), np.zeros(k)
    np.add.at(sums, tcodes.reshape(-1), tcells)
    np.add.at(cnt, tcodes.reshape(-1), 1)
    table = np.where(cnt[:, None] > 0, sums / np.maximum(cnt, 1)[:, None], tcells.mean(0))
    cells = metrics.block_means(metrics.to_lab(real), ds).reshape(-1, 3)
    resid = ((cells - table[codes.reshape(-1)]) ** 2).mean(0)
    r2 = 1 - resid / cells.var(0)
    out.update(code_r2_L=r2[0], code_r2_a=r2[1], code_r2_b=r2[2])
    for name, rgb in PATCHES.items():
        flat = np.broadcast_to(np.array(rgb, np.uint8), (1, 128, 128, 3))
        _, rec = roundtrip(vq, to_float(flat))
        out[f"{name}_ab"] = metrics.mean_colour_error(flat, rec)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data")
    ap.add_argument("runs")
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--only", nargs="*", default=None, help="variants to run (default: all)")
    ap.add_argument("--eval-only", nargs="*", default=None, metavar="FILE", help="measure these tokenizers")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    if args.eval_only is not None:
        for path in args.eval_only:
            vq, _ = load_vq(path)
            rows.append((Path(path).name, "", evaluate(vq, args.data)))
    else:
        for name in args.only or VARIANTS:
            what, cfg, tc = VARIANTS[name]
            tc = replace(tc, steps=args.steps, checkpoint_every=max(50, args.steps // 4))
            path = train_vq(args.data, Path(args.runs) / name, cfg, tc)
            vq, _ = load_vq(path)
            rows.append((name, what, evaluate(vq, args.data)))
            print(name, {k: round(float(v), 3) for k, v in rows[-1][2].items()}, flush=True)
    keys = list(rows[0][2])
    print("| variant | tests | " + " | ".join(keys) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in keys) + " |")
    for name, what, m in rows:
        print(f"| {name} | {what} | " + " | ".join(f"{m[k]:.3g}" for k in keys) + " |", flush=True)


if __name__ == "__main__":
    main()
