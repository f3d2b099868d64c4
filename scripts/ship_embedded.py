"""Copy a trained ARPG and tokenizer into assets/ as the embedded model, stored in half precision.

    .venv/bin/python scripts/ship_embedded.py runs/arpg-v3/arpg.safetensors runs/vq-v3-dec/tokenizer.safetensors

The weights are stored as fp16 (10-bit mantissa; the loader widens them to fp32, arpg_core.files.checkpoints), which
halves the installer's share of them; the tokenizer's usage buffer (a training statistic, never read) is left
out. Both files keep their metadata (config, class names, training settings) and record ``stored_dtype``.
The pair must match: the ARPG's vocabulary is the tokenizer's codebook. Writes are atomic.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from arpg_core.files.checkpoints import build_arpg, build_vq, read_checkpoint, save_safetensors  # noqa: E402
from arpg_core.files.shapes import USAGE_BUFFER  # noqa: E402
from arpg_core.weights.catalog import EMBEDDED_ARPG_FILE, EMBEDDED_VQ_FILE  # noqa: E402

DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}


def half(state_dict: dict, dtype: torch.dtype) -> dict:
    return {k: v.to(dtype) if v.is_floating_point() else v for k, v in state_dict.items() if k != USAGE_BUFFER}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("arpg")
    ap.add_argument("tokenizer")
    ap.add_argument("--dtype", choices=list(DTYPES), default="fp16")
    ap.add_argument("--out", default=str(ROOT / "assets"))
    args = ap.parse_args()
    arpg, vq = read_checkpoint(args.arpg), read_checkpoint(args.tokenizer)
    vocab = build_arpg(arpg).cfg.vocab_size
    codes = build_vq(vq).cfg.codebook_size
    if vocab != codes:
        print(f"error: the ARPG predicts {vocab} tokens, the tokenizer has {codes} codes: not a pair", file=sys.stderr)
        return 2
    dtype = DTYPES[args.dtype]
    out = Path(args.out)
    for ckpt, name in ((arpg, EMBEDDED_ARPG_FILE), (vq, EMBEDDED_VQ_FILE)):
        meta = {k: v for k, v in ckpt.metadata.items() if k != "format"}  # save_safetensors writes its own
        save_safetensors(out / name, half(ckpt.state_dict, dtype), {**meta, "stored_dtype": args.dtype})
        print(f"wrote {out / name} ({(out / name).stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
