"""Boxes of plain texture filled over many seeds: the quality tests' fills (tests/test_quality.py), measured.

    python benchmarks/plain_fills.py [--arpg FILE --tokenizer FILE] [--seeds 8] [--prefill causal bidirectional]

The held-out sky, moss and grass crops of tests/data, a 48 px box in the middle of each, filled with the embedded
model's sampling defaults at seeds 0..n-1; prints each fill's mean a*b* error against the hidden pixels, their
mean and their worst, per prefill.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from eval_fill import load_pair  # noqa: E402

from arpg_core.choices import PREFILLS  # noqa: E402
from arpg_core.edit.requests import build_request  # noqa: E402
from arpg_core.training import metrics  # noqa: E402
from arpg_core.weights.defaults import model_default  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arpg", default=str(ROOT / "assets/embedded-arpg.safetensors"))
    ap.add_argument("--tokenizer", default=str(ROOT / "assets/embedded-tokenizer.safetensors"))
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--prefill", nargs="+", choices=PREFILLS, default=list(PREFILLS))
    args = ap.parse_args()
    engine = load_pair(args.arpg, args.tokenizer)
    users = model_default("sampling", "inpaint", model="embedded")
    print("| crop | prefill | a*b* error per seed | mean | worst |\n| --- | --- | --- | --- | --- |")
    for name in ("sky", "moss", "grass"):
        image = np.array(Image.open(ROOT / "tests/data" / f"heldout-{name}.png").convert("RGB"))
        mask = np.zeros(image.shape[:2], bool)
        mask[40:88, 40:88] = True
        for prefill in args.prefill:
            sampling = replace(users, prefill=prefill)
            errors = []
            for seed in range(args.seeds):
                request = build_request("inpaint", image=image, mask=mask, seed=seed, sampling=sampling)
                errors.append(metrics.mean_colour_error(engine.edit(request).images[0], image, mask))
            shown = " ".join(f"{e:.1f}" for e in errors)
            print(f"| {name} | {prefill} | {shown} | {statistics.mean(errors):.2f} | {max(errors):.1f} |", flush=True)


if __name__ == "__main__":
    main()
