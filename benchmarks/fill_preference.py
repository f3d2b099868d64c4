"""Sheets for judging fills by eye: the model's fill and Telea's side by side, in random order.

    python benchmarks/fill_preference.py data/photos OUT_DIR [--n 24] [--versus telea|raw]
    python benchmarks/fill_preference.py --score OUT_DIR/key.json PICKS

The first form writes ``sheet0.png`` ... (six rows each, shown at 2x: one fill left, the other right, which
is which drawn at random) and ``key.json``, on the first ``n`` crops and boxes of ``eval_fill.py`` (the
same held-out crops, the model at its defaults). A judge looks at the sheets and writes one letter per row,
``L`` or ``R`` for the fill that looks more like an untouched photo (``=`` for no preference); the second
form unblinds the picks against the key and prints the tally. Telea's diagonal cross pattern is easy to
recognise, so the judging is not truly blind: it records a person's preference, not a controlled study.
``--versus raw`` puts the model's fill without the colour match on the other side instead of Telea's,
``--versus first`` the first of its candidates (the fill without the ranking, docs/ranking.md), ``--versus smooth``
the same fill without the restored grain (docs/detail.md).
"""

from __future__ import annotations

import argparse
import json
import os

import cv2
import numpy as np
from eval_fill import box_masks, heldout_crops, load_pair, telea
from PIL import Image

from arpg_core.choices import PREFILLS
from arpg_core.edit.requests import build_request
from arpg_core.weights.catalog import own_defaults

ROWS = 6


def sheets(
    data: str, out: str, n: int, arpg_file: str, tokenizer: str, versus: str = "telea", prefill: str | None = None
) -> None:
    engine = load_pair(arpg_file, tokenizer)
    size = engine.native
    total = max(n, 64)  # eval_fill's crops and boxes: the first n of its default 64
    _, crops = heldout_crops(data, size, total)
    masks = box_masks(total, size, seed=7)
    sampling = {**own_defaults("embedded"), **({"prefill": prefill} if prefill else {})}  # as users get it
    rng = np.random.default_rng(99)
    key, rows = [], []
    for i in range(n):
        src, m = crops[i], masks[i]
        request = build_request("inpaint", image=src, mask=m, seed=i, **sampling)
        ours = engine.edit(request).images[0]
        if versus == "telea":
            other = telea(src, m)
        else:  # the same fill raw, the first of its candidates (no ranking), or without the restored grain
            change = {"raw": {"colour_match": 0.0}, "first": {"candidates": 1}, "smooth": {"detail": 0.0}}[versus]
            other = engine.edit(request.replace(**change)).images[0]
        other_left = bool(rng.integers(2))
        key.append(versus if other_left else "model")  # what the left side shows
        left, right = (other, ours) if other_left else (ours, other)
        gap = np.full((size, 6, 3), 255, np.uint8)
        rows.append(np.concatenate([left, gap, right], 1))
    os.makedirs(out, exist_ok=True)
    for k in range(0, n, ROWS):
        gap = np.full((6, rows[0].shape[1], 3), 255, np.uint8)
        sheet = np.concatenate([x for r in rows[k : k + ROWS] for x in (r, gap)], 0)
        sheet = cv2.resize(sheet, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
        Image.fromarray(sheet).save(os.path.join(out, f"sheet{k // ROWS}.png"))
    with open(os.path.join(out, "key.json"), "w") as f:
        json.dump({"left": key}, f)
    print(f"wrote {(n + ROWS - 1) // ROWS} sheets and key.json to {out}")


def score(key_file: str, picks: str) -> None:
    with open(key_file) as f:
        left = json.load(f)["left"]
    picks = picks.replace(" ", "").upper()
    if len(picks) != len(left) or set(picks) - set("LR="):
        raise SystemExit(f"give one of L, R or = per row: {len(left)} letters, got {len(picks)}")
    versus = next((k for k in left if k != "model"), "telea")
    won = {"model": [], versus: [], "none": []}
    for row, (p, on_left) in enumerate(zip(picks, left), 1):
        if p == "=":
            won["none"].append(row)
        else:
            other = versus if on_left == "model" else "model"
            won[on_left if p == "L" else other].append(row)
    for name, rows in won.items():
        print(f"{name}: {len(rows)} of {len(left)} (rows {', '.join(map(str, rows)) or '-'})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", nargs="?")
    ap.add_argument("out", nargs="?")
    ap.add_argument("--n", type=int, default=24)
    ap.add_argument("--arpg", default="assets/embedded-arpg.safetensors")
    ap.add_argument("--tokenizer", default="assets/embedded-tokenizer.safetensors")
    ap.add_argument(
        "--versus", choices=("telea", "raw", "first", "smooth"), default="telea", help="the other side of each row"
    )
    ap.add_argument(
        "--prefill", choices=PREFILLS, default=None, help="the fills' prefill (default: the embedded model's)"
    )
    ap.add_argument("--score", nargs=2, metavar=("KEY", "PICKS"), help="unblind the picks against the key")
    args = ap.parse_args()
    if args.score:
        score(*args.score)
    elif args.data and args.out:
        sheets(args.data, args.out, args.n, args.arpg, args.tokenizer, args.versus, args.prefill)
    else:
        ap.error("give DATA and OUT, or --score KEY PICKS")


if __name__ == "__main__":
    main()
