"""Fingerprints of the CLI's edits: a fixed set of requests on the embedded model, each output's decoded pixels
hashed, so a refactor of the edit path can show it changed no pixel.

    PYTHONPATH=$PWD python scripts/edit_fingerprints.py                 # print the JSON
    PYTHONPATH=$PWD python scripts/edit_fingerprints.py --write docs/refactor-fingerprints.json
    PYTHONPATH=$PWD python scripts/edit_fingerprints.py --check docs/refactor-fingerprints-v3-detail.json

docs/refactor-fingerprints.json was recorded on 4fe3cd6, before issue 14; docs/refactor-fingerprints-14a.json
after it. They differ in one hash only: the alpha channel of expand-rgba (the CLI's expanded alpha is resized
bilinearly now, as the app's was; docs/expand.md). Both are on the v1 embedded weights: new weights change every
hash. docs/refactor-fingerprints-v3.json is recorded on the v3 weights; -v3-colour-match.json after the colour
match of inpaint and outpaint (docs/colour-match.md: those 18 edits differ; with ``colour_match`` 0 all 26 matched
-v3.json) and after outpaint windows stopped pasting their inner sides (two multi-window outpaints differ);
-v3-prefill.json adds an inpaint and an outpaint with ``--prefill causal`` (the other 27 match -v3-colour-match.json,
the embedded model's own prefill being bidirectional). -v3-ranking.json is recorded with the embedded model keeping
the best of 6 fills (docs/ranking.md): the 20 inpaint and outpaint edits differ from -v3-prefill.json, which all 29
matched with its candidates set to 1. -v3-detail.json is recorded with the fine grain restored (docs/detail.md) and
candidates sampled by one-window fills only; with the grain off and one candidate all 29 matched -v3-prefill.json;
a later refactor checks against it.

The inputs are synthesized deterministically here or taken from tests/data, the requests run in one process
through ``arpg_core.cli.main.main`` with one CPU thread (the same arithmetic on every machine size), and each
output file is decoded with Pillow: the hash covers its mode, size and pixels, not the file's bytes (so
metadata does not count), the alpha channel hashed apart from the colours. ``--check`` exits 1 naming every
request whose pixels differ.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"


def _inputs(folder: Path) -> dict[str, Path]:
    """Small inputs: two test crops, a wide image over one window, a mask with two regions, a thin stroke (tiled),
    an RGBA image."""
    rng = np.random.default_rng(1234)
    grass = np.asarray(Image.open(DATA / "heldout-grass.png").convert("RGB"))
    sky = np.asarray(Image.open(DATA / "heldout-sky.png").convert("RGB"))
    small = grass[16:80, 16:112]  # 96x64
    wide = np.concatenate([grass, sky], axis=1)[:, 40:240]  # 200x128: two inpaint windows, several outpaint ones
    yy, xx = np.mgrid[0:72, 0:88]
    rgba = np.dstack(
        [
            (xx * 3) % 256,
            (yy * 3) % 256,
            rng.integers(0, 256, (72, 88)),
            np.clip(255 - (xx + yy) * 2, 0, 255),
        ]
    ).astype(np.uint8)
    mask = np.zeros((64, 96), np.uint8)
    mask[20:44, 30:70] = 255
    wide_mask = np.zeros((128, 200), np.uint8)
    wide_mask[10:40, 10:50] = 255  # two regions far apart: two windows
    wide_mask[80:120, 150:195] = 255
    rgba_mask = np.zeros((72, 88), np.uint8)
    rgba_mask[30:60, 10:40] = 255
    stroke_mask = np.zeros((128, 200), np.uint8)
    cv2.polylines(stroke_mask, [np.array([[0, 20], [100, 100], [199, 60]], np.int32)], False, 255, 6)  # thin: tiled
    files = {
        "small": (small, "RGB"),
        "wide": (wide, "RGB"),
        "rgba": (rgba, "RGBA"),
        "mask": (mask, "L"),
        "wide_mask": (wide_mask, "L"),
        "rgba_mask": (rgba_mask, "L"),
        "stroke_mask": (stroke_mask, "L"),
    }
    out = {}
    for name, (arr, mode) in files.items():
        path = folder / f"{name}.png"
        Image.fromarray(np.ascontiguousarray(arr), mode).save(path)
        out[name] = path
    return out


def requests(i: dict[str, Path]) -> dict[str, list[str]]:
    """Name -> CLI arguments without the output (added per request)."""
    s, w, a = str(i["small"]), str(i["wide"]), str(i["rgba"])
    m, wm, am = str(i["mask"]), str(i["wide_mask"]), str(i["rgba_mask"])
    table = {
        "inpaint-none": f"inpaint {s} --mask {m} --seed 1 --steps 8",
        "inpaint-class": f"inpaint {s} --mask {m} --seed 2 --steps 8 --class 3",
        "inpaint-variants": f"inpaint {s} --mask {m} --seed 3 --steps 6 --variants 2",
        "inpaint-sampling": f"inpaint {s} --mask {m} --seed 4 --steps 5 --cfg 2.5 --cfg-schedule linear "
        "--schedule cosine --temperature 0.8 --top-k 50 --top-p 0.9 --class 2",
        "inpaint-greedy": f"inpaint {s} --mask {m} --seed 5 --steps 4 --temperature 0",
        "inpaint-feather": f"inpaint {s} --mask {m} --seed 6 --steps 4 --feather 0 --dilate 1",
        "inpaint-seam-first": f"inpaint {s} --mask {m} --seed 7 --steps 6 --seam-first",
        "inpaint-default-steps": f"inpaint {s} --mask {m} --seed 8",
        "inpaint-wide": f"inpaint {w} --mask {wm} --seed 9 --steps 6",
        "inpaint-rgba": f"inpaint {a} --mask {am} --seed 10 --steps 4",
        "inpaint-int8": f"inpaint {s} --mask {m} --seed 11 --steps 4 --precision int8",
        "inpaint-stroke": f"inpaint {w} --mask {i['stroke_mask']} --seed 27 --steps 4",
        "inpaint-causal": f"inpaint {s} --mask {m} --seed 28 --steps 6 --prefill causal",
        "outpaint-causal": f"outpaint {s} --right 40 --seed 29 --steps 4 --prefill causal",
        "outpaint-left": f"outpaint {s} --left 40 --seed 12 --steps 4",
        "outpaint-top": f"outpaint {s} --top 24 --seed 13 --steps 4",
        "outpaint-right": f"outpaint {s} --right 48 --seed 14 --steps 4 --class 4",
        "outpaint-bottom": f"outpaint {s} --bottom 32 --seed 15 --steps 4",
        "outpaint-all-wide": f"outpaint {w} --left 30 --top 20 --right 60 --bottom 16 --seed 16 --steps 3",
        "outpaint-seam-first": f"outpaint {s} --right 32 --seed 17 --steps 4 --seam-first",
        "outpaint-rgba": f"outpaint {a} --left 16 --bottom 16 --seed 18 --steps 3",
        "expand-lock": f"expand {s} --seed 19 --steps 4",
        "expand-nolock": f"expand {s} --seed 20 --steps 4 --lock 0",
        "expand-ntk": f"expand {s} --seed 21 --steps 4 --rope ntk --lock 2",
        "expand-wide": f"expand {w} --seed 22 --steps 3 --variants 2",
        "expand-rgba": f"expand {a} --seed 23 --steps 3",
        "generate-none": "generate --seed 24 --steps 8",
        "generate-class": "generate --seed 25 --steps 8 --class 0 --cfg 4",
        "generate-default-steps": "generate --seed 26 --class 1",
    }
    return {name: line.split() for name, line in table.items()}  # the temp folder's paths have no spaces


def pixel_hashes(path: Path) -> dict[str, str]:
    """sha256 of the colour channels, and of the alpha channel apart (``NAME:alpha``) when there is one."""
    with Image.open(path) as im:
        im.load()
        arr = np.asarray(im)
        mode, (w, h) = im.mode, im.size
    out = {}
    channels = (
        {path.name: arr[..., :3], f"{path.name}:alpha": arr[..., 3]} if mode in ("RGBA", "LA") else {path.name: arr}
    )
    for name, a in channels.items():
        head = f"{mode} {w}x{h}\n".encode()
        out[name] = hashlib.sha256(head + np.ascontiguousarray(a).tobytes()).hexdigest()
    return out


def run_all() -> dict[str, dict[str, str]]:
    from arpg_core.cli.main import main

    out: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory(prefix="arpg-fingerprints-") as tmp:
        folder = Path(tmp)
        inputs = _inputs(folder)
        for name, args in requests(inputs).items():
            target = folder / "out" / name
            target.mkdir(parents=True)
            extra = ["--lanczos", str(target / "lanczos.png")] if name == "expand-lock" else []
            argv = [*args, "-o", str(target / "result.png"), "--threads", "1", *extra]
            code = main(argv)
            if code != 0:
                raise SystemExit(f"{name}: arpg-studio {' '.join(argv)} exited {code}")
            out[name] = {k: v for p in sorted(target.iterdir()) for k, v in pixel_hashes(p).items()}
            print(f"{name}: {len(out[name])} file(s)", file=sys.stderr, flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", type=Path, help="write the JSON here")
    ap.add_argument("--check", type=Path, help="compare with this JSON; exit 1 on any difference")
    args = ap.parse_args()
    result = run_all()
    text = json.dumps(result, indent=1, sort_keys=True) + "\n"
    if args.write:
        args.write.write_text(text)
    if args.check:
        expected = json.loads(args.check.read_text())
        diff = sorted(k for k in expected.keys() | result.keys() if expected.get(k) != result.get(k))
        for k in diff:
            print(f"DIFFERS: {k}: expected {expected.get(k)}, got {result.get(k)}")
        print(f"{len(result) - len(diff)} of {len(expected.keys() | result.keys())} requests identical")
        return 1 if diff else 0
    if not args.write:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
