"""``arpg-studio inpaint | outpaint | expand | generate``: the engine from the command line."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from arpg_core.choices import CFG_SCHEDULES, DEVICES, PRECISIONS, PREFILLS, ROPES, SCHEDULES, SIDES
from arpg_core.cli.commands import UserError, command
from arpg_core.edit.placement import Document, apply
from arpg_core.edit.requests import GENERATE_STEPS, EditRequest, build_request, default
from arpg_core.files.atomic import OutputError
from arpg_core.files.imageio import format_for, load_image, load_mask, write_image
from arpg_core.progress import ProgressBar, say
from arpg_core.threads import parse_threads
from arpg_core.validate import check_options, check_quality
from arpg_core.weights.defaults import model_default


def _common(p) -> None:
    """The options every mode shares; each default is the request's own (arpg_core.edit.requests)."""
    p.add_argument("-o", "--output", required=True, help="output file (.png .jpg .webp .bmp .tif)")
    p.add_argument("--class", dest="label", default="none", help="class id, class name, or 'none' (default)")
    p.add_argument(
        "--steps",
        dest="num_steps",
        type=int,
        default=None,
        help=f"decoding steps (default: {default('sampling').num_steps}; generate: {GENERATE_STEPS})",
    )
    p.add_argument(
        "--cfg",
        dest="cfg_scale",
        type=float,
        default=default("cfg_scale"),
        help="classifier-free guidance scale (1 = off)",
    )
    p.add_argument("--cfg-schedule", choices=CFG_SCHEDULES, default=default("cfg_schedule"))
    p.add_argument("--schedule", choices=SCHEDULES, default=default("schedule"))
    p.add_argument(
        "--prefill",
        choices=PREFILLS,
        default=None,
        help=f"how the known tokens enter the model: causal, as in training, or all at once (default: the model's; "
        f"{default('prefill')}, the embedded model {model_default('prefill', model='embedded')})",
    )
    p.add_argument(
        "--temperature",
        type=float,
        default=None,
        help=f"sampling temperature (default: the model's; {default('temperature')}, "
        f"the embedded model {model_default('temperature', model='embedded')})",
    )
    p.add_argument("--top-k", type=int, default=default("top_k"))
    p.add_argument("--top-p", type=float, default=default("top_p"))
    p.add_argument("--seed", type=int, default=None, help="first variant's seed (default: random)")
    p.add_argument(
        "--variants", type=int, default=default("variants"), help="number of results; files are numbered when > 1"
    )
    p.add_argument(
        "--model",
        default=default("model"),
        help="'embedded', an installed preset (ARPG-L, ARPG-XL, ARPG-XXL) or a file",
    )
    p.add_argument("--tokenizer", default=None, help="tokenizer for a model file: 'VQ-16' (installed) or a file")
    p.add_argument("--device", default="cpu", choices=DEVICES)
    p.add_argument(
        "--precision",
        default="auto",
        choices=PRECISIONS,
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


def _next_to_known(p) -> None:
    """The options of the modes that generate next to known pixels (inpaint, outpaint)."""
    p.add_argument("--seam-first", action="store_true", help="decode tokens next to known content first")
    p.add_argument(
        "--colour-match",
        dest="colour_match",
        type=float,
        default=default("colour_match", "inpaint"),
        metavar="PX",
        help="shift the result by the tokenizer's colour error on the known pixels around it, spread under a "
        "Gaussian of PX; 0 = the raw decode (docs/colour-match.md)",
    )
    p.add_argument(
        "--detail",
        type=float,
        default=default("detail", "inpaint"),
        metavar="X",
        help="add X times the fine grain the tokenizer lost on the known pixels, taken from the most alike known "
        "patch; 0 = the decode's own (docs/detail.md)",
    )
    p.add_argument(
        "--candidates",
        type=int,
        default=None,
        metavar="N",
        help="sample N and keep the --variants whose colours best fit the surroundings, best first (default: the "
        f"model's; {default('candidates')}, the embedded model {model_default('candidates', model='embedded')}; "
        "docs/ranking.md)",
    )


@command("inpaint")
def _inpaint_args(p) -> None:
    p.description = "Regenerate the white area of MASK in IMAGE; everything else stays bit-identical."
    p.add_argument("image")
    p.add_argument("--mask", required=True, help="mask file, white = regenerate, same size as the image")
    p.add_argument("--feather", type=int, default=default("feather"), help="px of blending outside the mask")
    p.add_argument("--dilate", type=int, default=default("dilate"), help="grow the token mask by N tokens")
    _next_to_known(p)
    _common(p)
    p.set_defaults(run=_run, mode="inpaint")


@command("outpaint")
def _outpaint_args(p) -> None:
    p.description = "Extend IMAGE by the given pixels per side; the original pixels never change."
    p.add_argument("image")
    for side in SIDES:
        p.add_argument(f"--{side}", type=int, default=0, metavar="PX")
    _next_to_known(p)
    _common(p)
    p.set_defaults(run=_run, mode="outpaint")


@command("expand")
def _expand_args(p) -> None:
    p.description = "2x resolution expansion: source tokens at the even positions of a grid twice as large."
    p.add_argument("image")
    p.add_argument(
        "--rope",
        dest="expand_rope",
        choices=ROPES,
        default=default("expand_rope"),
        help="positions of the larger grid (docs/expand.md)",
    )
    p.add_argument(
        "--lock",
        dest="expand_lock",
        type=float,
        default=default("expand_lock"),
        metavar="PX",
        help="keep the Lanczos 2x below a Gaussian of PX output pixels, so colours and shapes stay the "
        "source's and the model adds the detail; 0 = the model's own image (docs/expand.md)",
    )
    p.add_argument("--lanczos", default=None, metavar="FILE", help="also write the Lanczos 2x baseline here")
    _common(p)
    p.set_defaults(run=_run, mode="expand")


@command("generate")
def _generate_args(p) -> None:
    p.description = f"Class-conditional generation from nothing (the official task: arccos, {GENERATE_STEPS} steps)."
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


def _request(args) -> EditRequest:
    """The request the options ask for, pixels and class still to come; built from the options by name."""
    import torch

    values = dict(vars(args))
    for name in ("num_steps", "temperature", "prefill", "candidates"):  # not given: the mode's, under the model's
        if values.get(name, 0) is None:
            values[name] = model_default(name, args.mode, model=args.model)
    if values["seed"] is None:
        values["seed"] = int(torch.randint(0, 2**31 - 1, ()).item())
    if args.mode == "outpaint":
        values["extend"] = tuple(getattr(args, side) for side in SIDES)
    values.update(label=None, image=None, mask=None)  # the files come later
    mode = values.pop("mode")
    return build_request(mode, **values)


def _run(args) -> int:
    """Every check before any work, the run, then all outputs or none (see arpg_core.files.atomic.OutputSet)."""
    import dataclasses

    from arpg_core.edit.plans import lanczos_result
    from arpg_core.files.atomic import OutputSet
    from arpg_core.weights.registry import load_engine

    request = _request(args)
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
    plan = engine.plan(dataclasses.replace(request, label=label))  # checked against the model: before any compute
    bar = ProgressBar(1, args.mode)
    gen = engine.run(plan)
    try:
        while True:
            p = next(gen)
            bar.total = p.total
            bar.update(p.step, window=f"{p.window + 1}/{p.windows}")
    except StopIteration as stop:
        result = stop.value
    bar.close()

    document = Document(src.rgb, src.alpha) if src else None
    placed = [apply(document, result, i) for i in range(len(result.images))]
    if extra:
        placed.append(apply(document, lanczos_result(src.rgb)))
    icc = src.icc if src else None
    exif = src.exif if src else None
    written = [str(out) for out in outputs]
    record = {
        "outputs": written,
        "class": label,
        "device": str(engine.device),
        "precision": engine.precision,
        **result.record(),
    }
    try:
        for doc, out, tmp in zip(placed, outputs + extra, files.stage()):
            write_image(tmp, format_for(out), doc.rgb, doc.alpha, icc, exif, args.quality)
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
