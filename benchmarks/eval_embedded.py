"""Evaluate the embedded model on held-out photos and draw the model card's picture grid.

    python benchmarks/eval_embedded.py data/photos [--arpg assets/embedded-arpg.safetensors]
        [--tokenizer assets/embedded-tokenizer.safetensors] [--grid assets/embedded-examples.png]

Prints (as Markdown) the tokenizer's round trip at 128 px: PSNR next to 8x bicubic down/up, the PSNR and
a*b* error of the 16x16 block means and the chroma ratio (with ``--old-tokenizer`` FILE, that one's
figures alongside); ARPG's held-out bits per token next to the unigram entropy of the same tokens, and
the time of one 128 px inpaint end to end. Fills against Telea: ``benchmarks/eval_fill.py``.
The grid shows, per held-out photo: a centre box, a free-form stroke and an outpainted border, each
as source | mask | ARPG | OpenCV Telea.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

from arpg_core.threads import prepare_process

prepare_process()  # before torch loads: OpenMP's wait policy (docs/performance.md)

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from arpg_core.edit.pipeline import Engine  # noqa: E402
from arpg_core.edit.requests import build_request  # noqa: E402
from arpg_core.files.checkpoints import load_arpg, load_vq  # noqa: E402
from arpg_core.training import metrics  # noqa: E402
from arpg_core.training.crops import CropStream  # noqa: E402
from arpg_core.training.train import bits_per_token, pretokenize, unigram_entropy_bits  # noqa: E402
from arpg_core.weights.catalog import class_names_for, own_defaults  # noqa: E402

USERS = own_defaults("embedded")  # the embedded model's own sampling defaults, as users get them


def to_uint8(x: torch.Tensor) -> np.ndarray:
    return (x * 127.5 + 128).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def tokenizer_colour(real: np.ndarray, recon: np.ndarray) -> dict[str, float]:
    """Block-mean (16x16) PSNR, a*b* error and chroma ratio, averaged over the crops."""
    return {
        "block_psnr": statistics.mean(metrics.block_psnr(a, b, 16) for a, b in zip(real, recon)),
        "ab_error": statistics.mean(metrics.ab_error(b, a, 16) for a, b in zip(real, recon)),
        "chroma_ratio": metrics.chroma_ratio(recon, real, 16),
    }


@torch.no_grad()
def tokenizer_figures(vq, images: torch.Tensor, real: np.ndarray) -> dict[str, float]:
    recon = np.concatenate([to_uint8(vq.decode(vq.encode(images[i : i + 32]))) for i in range(0, len(images), 32)])
    return {"psnr": statistics.mean(metrics.psnr(a, b) for a, b in zip(real, recon)), **tokenizer_colour(real, recon)}


def stroke_mask(size: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = Image.new("L", (size, size), 0)
    d = ImageDraw.Draw(img)
    pts = [tuple(rng.integers(size * 0.2, size * 0.8, 2).tolist()) for _ in range(5)]
    d.line(pts, fill=255, width=max(6, size // 12), joint="curve")
    return np.asarray(img) > 127


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--arpg", default="assets/embedded-arpg.safetensors")
    ap.add_argument("--tokenizer", default="assets/embedded-tokenizer.safetensors")
    ap.add_argument("--old-tokenizer", default=None, help="also measure this tokenizer's round trip")
    ap.add_argument("--grid", default=None, help="write the example grid PNG here")
    ap.add_argument("--crops", type=int, default=256)
    ap.add_argument("--steps", type=int, default=32)
    ap.add_argument("--tokenizer-only", action="store_true", help="only the round-trip figures (no ARPG needed)")
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    vq, _ = load_vq(args.tokenizer)
    size = 16 * vq.cfg.downsample  # the embedded window: a 16x16 token grid

    stream = CropStream(args.data, "heldout", size, generator=torch.Generator().manual_seed(123))
    images, _ = stream.batch(args.crops)
    real = to_uint8(images)
    tokenizers = {"tokenizer": vq}
    if args.old_tokenizer:
        tokenizers["old tokenizer"] = load_vq(args.old_tokenizer)[0]
    figures = {name: tokenizer_figures(model, images, real) for name, model in tokenizers.items()}
    small = size // vq.cfg.downsample
    bicubic = np.stack(
        [
            cv2.resize(
                cv2.resize(im, (small, small), interpolation=cv2.INTER_CUBIC),
                (size, size),
                interpolation=cv2.INTER_CUBIC,
            )
            for im in real
        ]
    )
    figures["8x bicubic down/up"] = {
        "psnr": statistics.mean(metrics.psnr(a, b) for a, b in zip(real, bicubic)),
        **tokenizer_colour(real, bicubic),
    }

    print(f"| measure (held-out photos, {size} px, {args.crops} crops) | value |")
    print("| --- | --- |")
    for name, f in figures.items():
        print(f"| {name}: PSNR | {f['psnr']:.2f} dB |")
        print(f"| {name}: PSNR of the 16x16 block means | {f['block_psnr']:.2f} dB |")
        print(f"| {name}: a*b* error of the 16x16 block means | {f['ab_error']:.2f} |")
        print(f"| {name}: chroma ratio (output / input) | {f['chroma_ratio']:.3f} |")
    if args.tokenizer_only:
        return
    arpg, meta = load_arpg(args.arpg)
    if arpg.cfg.vocab_size != vq.cfg.codebook_size or arpg.cfg.grid_size * vq.cfg.downsample != size:
        raise SystemExit(f"{args.arpg} was not trained on the tokens of {args.tokenizer}")
    codes, labels = pretokenize(vq, args.data, "heldout", args.crops, size, seed=321)
    bpt = bits_per_token(arpg, codes, labels)
    unigram = unigram_entropy_bits(codes, arpg.cfg.vocab_size)
    used = int(torch.unique(codes).numel())

    # int8 fast mode against fp32, teacher-forced on the same held-out tokens and orders
    from arpg_core.nn.quant import quantize_int8

    q = quantize_int8(copy.deepcopy(arpg))  # in place since issue 12: quantize a copy, keep the fp32 model
    gen = torch.Generator().manual_seed(5)
    n = min(64, codes.shape[0])
    orders = torch.argsort(torch.rand(n, codes.shape[1], generator=gen), dim=1)
    ids = arpg.cfg.vocab_size + 1 + labels[:n]
    a, b = arpg(codes[:n], ids, orders), q(codes[:n], ids, orders)
    int8_max, int8_mean = float((a - b).abs().max()), float((a - b).abs().mean())
    int8_top1 = float((a.argmax(-1) == b.argmax(-1)).float().mean())
    bpt_int8 = bits_per_token(q, codes, labels)

    engine = Engine(arpg, vq, class_names=class_names_for(arpg.cfg.num_classes, meta), name="embedded")
    box = np.zeros((size, size), bool)
    box[size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = True
    times = []
    for i in range(5):
        req = build_request("inpaint", image=real[i], mask=box, num_steps=args.steps, seed=i, **USERS)
        t = time.perf_counter()
        engine.edit(req)
        times.append(time.perf_counter() - t)

    print(f"| codebook entries used by the held-out crops | {used} / {vq.cfg.codebook_size} |")
    print(f"| ARPG held-out bits per token (random orders) | {bpt:.3f} |")
    print(f"| unigram entropy of the same tokens | {unigram:.3f} |")
    print(f"| int8 fast mode: logit error vs fp32, max / mean | {int8_max:.3f} / {int8_mean:.4f} |")
    print(f"| int8 fast mode: top-1 agreement with fp32 (teacher-forced) | {100 * int8_top1:.1f}% |")
    print(f"| int8 fast mode: held-out bits per token | {bpt_int8:.3f} |")
    print(
        f"| one {size} px inpaint (centre box, {args.steps} steps, CFG 3), end to end, median of 5 | "
        f"{statistics.median(times):.2f} s |"
    )

    if args.grid:
        rows = []
        border = max(vq.cfg.downsample * 2, size // 8)
        for i in range(3):
            src = real[10 + i]
            for kind in ("box", "stroke", "outpaint"):
                if kind == "box":
                    mask = box
                elif kind == "stroke":
                    mask = stroke_mask(size, i)
                else:
                    mask = np.ones((size, size), bool)
                    mask[border:-border, border:-border] = False
                if kind == "outpaint":
                    inner = src[border:-border, border:-border]
                    req = build_request(
                        "outpaint", image=inner, extend=(border,) * 4, num_steps=args.steps, seed=i, **USERS
                    )
                else:
                    req = build_request("inpaint", image=src, mask=mask, num_steps=args.steps, seed=i, **USERS)
                ours = engine.edit(req).images[0]
                telea = cv2.inpaint(src, mask.astype(np.uint8), 5, cv2.INPAINT_TELEA)
                shown = src.copy()
                shown[mask] = shown[mask] // 3
                mask_img = np.repeat((mask * 255).astype(np.uint8)[..., None], 3, 2)
                rows.append(np.concatenate([shown, mask_img, ours, telea], axis=1))
        grid = np.concatenate(rows, axis=0)
        Image.fromarray(grid).save(args.grid, optimize=True)
        print(
            f"\nwrote {args.grid} ({grid.shape[1]}x{grid.shape[0]}): columns source (masked area darkened) | "
            "mask | ARPG | OpenCV Telea; rows per photo: centre box, free-form stroke, outpainted border"
        )


if __name__ == "__main__":
    main()
