"""How well a model predicts a fill's tokens from its context, with the context prefilled one way or the other.

    python benchmarks/prefill_bits.py data/photos [--pair ARPG TOKENIZER ...] [--n 48]

On ``n`` held-out 128 px crops with eval_fill's boxes (a quarter of the window), the known tokens go into the
KV cache in one step, either causally in raster order (each sees the ones before it, as context does in
training) or bidirectionally (all at once, each seeing every other: the reference fixture's editing semantics).
Then every box token is queried at once, and the table gives the mean cross-entropy of the true box tokens, in
bits: what the first decoding step knows about each of them. The unigram entropy of the same tokens is the
figure of a model that ignores the context.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eval_fill import box_masks, heldout_crops

from arpg_core.choices import PREFILLS
from arpg_core.files.checkpoints import load_arpg, load_vq
from arpg_core.training.train import unigram_entropy_bits


@torch.no_grad()
def context_bits(arpg, codes: torch.Tensor, masks, prefill: str) -> float:
    """Mean bits of the box tokens (codes (N, h*w)) given the known ones, prefilled as ``prefill`` says."""
    total, count = 0.0, 0
    side = math.isqrt(codes.shape[1])
    cell = masks[0].shape[0] // side
    null = torch.tensor([arpg.cfg.null_class_id])
    for tokens, mask in zip(codes, masks):
        box = torch.from_numpy(mask[cell // 2 :: cell, cell // 2 :: cell].copy()).flatten()  # (h*w,) cell centres
        known, unknown = (~box).nonzero()[:, 0], box.nonzero()[:, 0]
        cache = arpg.new_cache(1, 1 + codes.shape[1])
        inputs = torch.cat([null, tokens[known]])[None]  # (1, 1 + K)
        rows = torch.cat([torch.zeros(1, dtype=torch.long), known + 1])[None]
        logits = arpg.step(cache, inputs, rows, (unknown + 1)[None], causal=prefill == "causal")[0]  # (M, V)
        total += F.cross_entropy(logits, tokens[unknown], reduction="sum").item()
        count += unknown.numel()
    return total / count / math.log(2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data")
    ap.add_argument(
        "--pair",
        nargs=2,
        action="append",
        metavar=("ARPG", "TOKENIZER"),
        help="a model pair (repeatable; default: the embedded one)",
    )
    ap.add_argument("--n", type=int, default=48)
    args = ap.parse_args()
    pairs = args.pair or [["assets/embedded-arpg.safetensors", "assets/embedded-tokenizer.safetensors"]]
    torch.set_num_threads(1)
    images, _ = heldout_crops(args.data, 128, args.n)
    masks = box_masks(args.n, 128, seed=7)
    print(f"Box tokens' bits given the context only: {args.n} held-out 128 px crops, eval_fill's boxes\n")
    print("| pair | " + " | ".join(f"{p} prefill" for p in PREFILLS) + " | unigram entropy |")
    print("| --- |" + " --- |" * (len(PREFILLS) + 1))
    for arpg_file, vq_file in pairs:
        arpg, vq = load_arpg(arpg_file)[0].eval(), load_vq(vq_file)[0].eval()
        with torch.no_grad():
            codes = vq.encode(images).flatten(1)  # (n, h*w)
        bits = [context_bits(arpg, codes, masks, p) for p in PREFILLS]
        entropy = unigram_entropy_bits(codes, arpg.cfg.vocab_size)
        print(f"| {arpg_file} | " + " | ".join(f"{b:.3f}" for b in bits) + f" | {entropy:.3f} |", flush=True)


if __name__ == "__main__":
    main()
