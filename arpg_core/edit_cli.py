"""``arpg-studio inpaint | outpaint | expand | generate``: the engine from the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from .cli import UserError, command
from .imageio import format_for, load_image, load_mask, save_image
from .progress import ProgressBar
from .threads import parse_threads


def _common(p) -> None:
    p.add_argument("-o", "--output", required=True, help="output file (.png .jpg .webp .bmp .tif)")
    p.add_argument("--class", dest="label", default="none", help="class id, class name, or 'none' (default)")
    p.add_argument("--steps", type=int, default=None, help="decoding steps (default: 32; generate: 64)")
    p.add_argument("--cfg", type=float, default=3.0, help="classifier-free guidance scale (1 = off)")
    p.add_argument("--cfg-schedule", choices=["constant", "linear"], default="constant")
    p.add_argument("--schedule", choices=["arccos", "cosine"], default="arccos")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-k", type=int, default=0)
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=None, help="first variant's seed (default: random)")
    p.add_argument("--variants", type=int, default=1, help="number of results; files are numbered when > 1")
    p.add_argument(
        "--model", default="embedded", help="'embedded', an installed preset (ARPG-L, ARPG-XL, ARPG-XXL) or a file"
    )
    p.add_argument("--tokenizer", default=None, help="tokenizer for a model file: 'VQ-16' (installed) or a file")
    p.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda", "mps"])
    p.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "fp32", "bf16", "int8"],
        help="auto: bf16 where supported on CUDA, or where this CPU measured it faster (bf16 units, large models), "
        "else fp32; int8: the CPU fast mode (docs/performance.md)",
    )
    p.add_argument(
        "--threads",
        default=None,
        metavar="N",
        help="CPU threads, or 'auto' (default: $ARPG_STUDIO_THREADS, else chosen from the model's size and the "
        "cores other programs leave free; docs/performance.md)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON result record on stdout")
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")
    p.add_argument("--quality", type=int, default=95, help="JPEG/WebP quality")


@command("inpaint")
def _inpaint_args(p) -> None:
    p.description = "Regenerate the white area of MASK in IMAGE; everything else stays bit-identical."
    p.add_argument("image")
    p.add_argument("--mask", required=True, help="mask file, white = regenerate, same size as the image")
    p.add_argument("--feather", type=int, default=8, help="px of blending outside the mask")
    p.add_argument("--dilate", type=int, default=0, help="grow the token mask by N tokens")
    p.add_argument("--seam-first", action="store_true", help="decode tokens next to known content first")
    _common(p)
    p.set_defaults(run=_run, mode="inpaint")


@command("outpaint")
def _outpaint_args(p) -> None:
    p.description = "Extend IMAGE by the given pixels per side; the original pixels never change."
    p.add_argument("image")
    for side in ("left", "right", "top", "bottom"):
        p.add_argument(f"--{side}", type=int, default=0, metavar="PX")
    p.add_argument("--seam-first", action="store_true", help="decode tokens next to known content first")
    _common(p)
    p.set_defaults(run=_run, mode="outpaint")


@command("expand")
def _expand_args(p) -> None:
    p.description = "2x resolution expansion: source tokens at the even positions of a grid twice as large."
    p.add_argument("image")
    p.add_argument("--rope", choices=["pi", "ntk"], default="pi", help="positions of the larger grid (docs/expand.md)")
    p.add_argument(
        "--lock",
        type=float,
        default=1.0,
        metavar="PX",
        help="keep the Lanczos 2x below a Gaussian of PX output pixels, so colours and shapes stay the "
        "source's and the model adds the detail; 0 = the model's own image (docs/expand.md)",
    )
    p.add_argument("--lanczos", default=None, metavar="FILE", help="also write the Lanczos 2x baseline here")
    _common(p)
    p.set_defaults(run=_run, mode="expand")


@command("generate")
def _generate_args(p) -> None:
    p.description = "Class-conditional generation from nothing (the official task: arccos, 64 steps)."
    _common(p)
    p.set_defaults(run=_run, mode="generate", image=None)


def parse_class(value: str, names: list[str]) -> int | None:
    """An id, a name (case-insensitive, also any comma-separated synonym) or 'none'."""
    v = value.strip()
    if v.lower() in ("none", ""):
        return None
    if v.lstrip("-").isdigit():
        i = int(v)
        if not 0 <= i < len(names):
            raise UserError(f"class {i} is out of range: this model has classes 0..{len(names) - 1}")
        return i
    low = v.lower()
    for i, n in enumerate(names):
        if n.lower() == low or low in (s.strip().lower() for s in n.split(",")):
            return i
    raise UserError(f"unknown class {value!r}; give an id 0..{len(names) - 1}, a class name, or 'none'")


def output_paths(output: str, variants: int) -> list[Path]:
    out = Path(output)
    if variants == 1:
        return [out]
    return [out.with_name(f"{out.stem}-{i + 1}{out.suffix}") for i in range(variants)]


def _run(args) -> int:
    import torch

    from .pipeline import EditRequest
    from .registry import load_engine

    if args.steps is not None and args.steps < 1:
        raise UserError(f"--steps must be at least 1, got {args.steps}")
    if args.variants < 1:
        raise UserError(f"--variants must be at least 1, got {args.variants}")
    try:
        parse_threads(args.threads)
    except ValueError as e:
        raise UserError(f"--threads: {e}") from None
    outputs = output_paths(args.output, args.variants)
    extra = [Path(args.lanczos)] if getattr(args, "lanczos", None) else []
    for out in outputs + extra:
        format_for(out)
        if out.exists() and not args.force:
            raise UserError(f"{out} exists; pass --force to overwrite it")
        if not out.parent.is_dir():
            raise UserError(f"{out.parent}: no such folder")

    src = load_image(args.image) if args.image else None
    fields = {}
    if args.mode == "inpaint":
        mask = load_mask(args.mask, src.size)
        if not mask.any():
            raise UserError(f"{args.mask}: the mask is empty (no white pixels): nothing to regenerate")
        fields = dict(mask=mask, feather=args.feather, dilate=args.dilate, seam_first=args.seam_first)
    elif args.mode == "outpaint":
        ext = (args.left, args.top, args.right, args.bottom)
        if any(e < 0 for e in ext):
            raise UserError("extensions must be >= 0 pixels")
        if sum(ext) == 0:
            raise UserError("nothing to extend: give --left, --right, --top or --bottom a positive number")
        fields = dict(extend=ext, seam_first=args.seam_first)
    elif args.mode == "expand":
        fields = dict(expand_rope=args.rope, expand_lock=args.lock)

    engine = load_engine(args.model, args.tokenizer, args.device, args.precision, threads={"cli": args.threads})
    label = parse_class(args.label, engine.class_names)
    seed = args.seed if args.seed is not None else int(torch.randint(0, 2**31 - 1, ()).item())
    request = EditRequest(
        mode=args.mode,
        image=src.rgb if src else None,
        label=label,
        steps=args.steps or (64 if args.mode == "generate" else 32),
        cfg_scale=args.cfg,
        cfg_schedule=args.cfg_schedule,
        schedule=args.schedule,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        seed=seed,
        variants=args.variants,
        model=args.model,
        **fields,
    )
    engine.check(request)
    bar = ProgressBar(1, args.mode)
    gen = engine.run(request)
    try:
        while True:
            p = next(gen)
            bar.total = p.total
            bar.update(p.step, window=f"{p.window + 1}/{p.windows}")
    except StopIteration as stop:
        result = stop.value
    bar.close()

    alpha = _result_alpha(src, args, result.images[0].shape[:2]) if src else None
    icc = src.icc if src else None
    exif = src.exif if src else None
    written = []
    for img, out in zip(result.images, outputs):
        save_image(out, img, alpha, icc, exif, quality=args.quality, force=args.force)
        written.append(str(out))
    if extra:
        from .edits import lanczos_2x

        baseline = lanczos_2x(src.rgb)
        save_image(extra[0], baseline, alpha, icc, exif, quality=args.quality, force=args.force)
    record = {
        "outputs": written,
        "class": label,
        "device": str(engine.device),
        "precision": engine.precision,
        **result.record(),
    }
    if args.json:
        print(json.dumps(record))
    else:
        print(f"wrote {', '.join(written)} (seeds {', '.join(map(str, result.seeds))})", file=sys.stderr)
    return 0


def _result_alpha(src, args, out_hw) -> np.ndarray | None:
    """Alpha of the result: kept for inpaint, opaque new area for outpaint, resized for expand."""
    if src.alpha is None:
        return None
    if args.mode == "inpaint":
        return src.alpha
    if args.mode == "outpaint":
        alpha = np.full(out_hw, 255, np.uint8)
        alpha[args.top : args.top + src.alpha.shape[0], args.left : args.left + src.alpha.shape[1]] = src.alpha
        return alpha
    import cv2

    return cv2.resize(src.alpha, (out_hw[1], out_hw[0]), interpolation=cv2.INTER_LANCZOS4)
