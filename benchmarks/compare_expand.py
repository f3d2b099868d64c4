"""Compare position schemes for 2x expansion on held-out photos, with Lanczos as the baseline.

    python benchmarks/compare_expand.py data/photos [--n 12] [--sigmas 0.5,1,1.5,2,3] [--grid FILE.png]

Each photo: a held-out crop at twice the native size is the ground truth; its half-size version is
the source. The source is expanded with position interpolation ("pi": every rotary frequency sees
positions scaled by 1/2) and with the NTK-style mix ("ntk": the highest frequencies keep the
unscaled positions, the rest interpolate), and with Lanczos. Each raw ARPG result is also scored with
the low band locked to the Lanczos upscale at several widths (``--sigmas``; the engine's
``expand_lock``). Prints PSNR against the ground truth.
"""

from __future__ import annotations

import argparse
import statistics

from arpg_core.threads import prepare_process

prepare_process()  # before torch loads: OpenMP's wait policy (docs/performance.md)

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from arpg_core.edit.edits import lanczos_2x, lock_low_band  # noqa: E402
from arpg_core.edit.requests import build_request, default  # noqa: E402
from arpg_core.training.crops import CropStream  # noqa: E402
from arpg_core.weights.registry import load_engine  # noqa: E402


def psnr(a, b) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255**2 / max(mse, 1e-10)))


def expand(engine, img, rope, seed, steps, cfg):
    request = build_request(
        "expand", image=img, num_steps=steps, seed=seed, expand_rope=rope, cfg_scale=cfg, expand_lock=0.0
    )
    return engine.edit(request).images[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--n", type=int, default=12)
    ap.add_argument("--steps", type=int, default=32)
    ap.add_argument("--cfg", type=float, default=1.0)
    ap.add_argument("--sigmas", default="1,1.5,2,3", help="low-band lock widths to score, in output px")
    ap.add_argument("--grid", default=None)
    args = ap.parse_args()
    lock = default("expand_lock")  # the grid shows what the app and CLI give by default
    sigmas = sorted({float(x) for x in args.sigmas.split(",")} | {lock})
    engine = load_engine("embedded")
    size = engine.native
    stream = CropStream(args.data, "heldout", 2 * size, generator=torch.Generator().manual_seed(7))
    scores: dict[str, list[float]] = {}
    rows = []
    for i in range(args.n):
        truth, _ = stream.sample()
        src = cv2.resize(truth, (size, size), interpolation=cv2.INTER_AREA)
        base = lanczos_2x(src)
        outs = {"lanczos": base}
        for rope in ("pi", "ntk"):
            raw = expand(engine, src, rope, i, args.steps, args.cfg)
            outs[rope] = raw
            for sigma in sigmas:
                outs[f"{rope} + lock {sigma:g}"] = lock_low_band(raw, base, sigma)
        for k, v in outs.items():
            scores.setdefault(k, []).append(psnr(v, truth))
        if i < 4:
            big_src = cv2.resize(src, (2 * size, 2 * size), interpolation=cv2.INTER_NEAREST)
            locked = outs[f"pi + lock {lock:g}"]
            rows.append(np.concatenate([big_src, base, outs["pi"], outs["ntk"], locked, truth], axis=1))
    print(f"| method ({args.n} held-out photos, {size} -> {2 * size} px) | PSNR vs ground truth, mean | min | max |")
    print("| --- | --- | --- | --- |")
    for k, v in scores.items():
        print(f"| {k} | {statistics.mean(v):.2f} dB | {min(v):.2f} | {max(v):.2f} |")
    if args.grid:
        Image.fromarray(np.concatenate(rows, axis=0)).save(args.grid, optimize=True, quality=90)
        print(
            f"\nwrote {args.grid}: columns source (nearest) | Lanczos | ARPG pi | ARPG ntk | "
            f"ARPG pi + lock {default:g} | ground truth"
        )


if __name__ == "__main__":
    main()
