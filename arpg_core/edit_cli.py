"""``arpg-studio inpaint | outpaint | expand | generate``: the engine from the command line."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np

from .atomic import OutputError
from .commands import UserError, command
from .imageio import format_for, load_image, load_mask, write_image
from .progress import ProgressBar, say
from .threads import parse_threads
from .validate import check_options, check_quality


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
    p.add_argument("--quality", type=int, default=95, help="JPEG/WebP quality, 1-100")


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
    if re.fullmatch(r"[+-]?[0-9]+", v):  # ASCII digits only: '²' is a character, not a number
        i = int(v) if len(v) <= 12 else -1
        if not 0 <= i < len(names):
            raise UserError(f"class {v} is out of range: this model has classes 0..{len(names) - 1}")
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
    """Every check before any work, the run, then all outputs or none (see arpg_core.atomic.OutputSet)."""
    import dataclasses

    import torch

    from .atomic import OutputSet
    from .pipeline import EditRequest
    from .registry import load_engine

    seed = args.seed if args.seed is not None else int(torch.randint(0, 2**31 - 1, ()).item())
    steps = args.steps if args.steps is not None else (64 if args.mode == "generate" else 32)
    fields = dict(mode=args.mode, label=None, steps=steps, cfg_scale=args.cfg, cfg_schedule=args.cfg_schedule)
    fields.update(schedule=args.schedule, temperature=args.temperature, top_k=args.top_k, top_p=args.top_p)
    fields.update(seed=seed, variants=args.variants, model=args.model)
    if args.mode == "inpaint":
        fields.update(feather=args.feather, dilate=args.dilate, seam_first=args.seam_first)
    elif args.mode == "outpaint":
        fields.update(extend=(args.left, args.top, args.right, args.bottom), seam_first=args.seam_first)
    elif args.mode == "expand":
        fields.update(expand_rope=args.rope, expand_lock=args.lock)
    request = EditRequest(**fields)
    check_options(request)  # the numbers first: before any file is read
    check_quality(args.quality)
    try:
        parse_threads(args.threads)
    except ValueError as e:
        raise UserError(f"--threads: {e}") from None

    outputs = output_paths(args.output, args.variants)
    extra = [Path(args.lanczos)] if getattr(args, "lanczos", None) else []
    for out in outputs + extra:
        format_for(out)
    files = OutputSet(outputs + extra, force=args.force)
    files.check()  # writable, not taken, names that fit, -o and --lanczos apart: before any work

    src = load_image(args.image) if args.image else None
    if args.mode == "inpaint":
        mask = load_mask(args.mask, src.size)
        if not mask.any():
            raise UserError(f"{args.mask}: the mask is empty (no white pixels): nothing to regenerate")
        request = dataclasses.replace(request, image=src.rgb, mask=mask)
    elif src is not None:
        request = dataclasses.replace(request, image=src.rgb)
    request.validate()  # against the image and mask: before the model is loaded

    engine = load_engine(args.model, args.tokenizer, args.device, args.precision, threads={"cli": args.threads})
    label = parse_class(args.label, engine.class_names)
    request = dataclasses.replace(request, label=label)
    engine.check(request)  # against the model: before any compute
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
    images = list(result.images)
    if extra:
        from .edits import lanczos_2x

        images.append(lanczos_2x(src.rgb))
    written = [str(out) for out in outputs]
    record = {
        "outputs": written,
        "class": label,
        "device": str(engine.device),
        "precision": engine.precision,
        **result.record(),
    }
    try:
        for img, out, tmp in zip(images, outputs + extra, files.stage()):
            write_image(tmp, format_for(out), img, alpha, icc, exif, args.quality)
        files.commit()
        if args.json:  # the record is an output too: if it cannot be written, no file is kept
            try:
                sys.stdout.write(json.dumps(record) + "\n")
                sys.stdout.flush()
            except (OSError, ValueError) as e:
                raise OutputError(f"cannot write the JSON record to standard output ({e}); no output was kept") from e
    except BaseException as e:
        files.rollback()
        if isinstance(e, OSError) and not isinstance(e, OutputError):
            raise OutputError(f"cannot write {', '.join(written)}: {e.strerror or e}; no output was written") from e
        raise
    files.finish()
    if not args.json:
        say(f"wrote {', '.join(written)} (seeds {', '.join(map(str, result.seeds))})")
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
