"""``arpg-studio train-tokenizer`` and ``arpg-studio train-arpg``: the embedded model's recipe, resumable."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

from arpg_core.cli.commands import UserError, command
from arpg_core.nn.config import ARPGConfig, VQConfig
from arpg_core.progress import say

# The embedded model: a 16x16 token grid on 128 px (8x downsampling), sized for a 2-core CPU.
# v1, the first shipped tokenizer: GroupNorm(32) on its 32-channel levels normalises every channel on
# its own, which throws away each feature map's mean over the window, and with it the window's colour
# (assets/MODEL_CARD.md, "Why colour was lost").
EMBEDDED_VQ_V1 = VQConfig(
    codebook_size=1024,
    codebook_dim=8,
    z_channels=64,
    ch=32,
    ch_mult=(1, 1, 2, 4),
    encoder_res_blocks=1,
    decoder_res_blocks=2,
)
# v2: groups of 4 channels or more, and four times the codes.
EMBEDDED_VQ_V2 = replace(EMBEDDED_VQ_V1, num_groups=8, codebook_size=4096)
# v3: and a path for each cell's mean colour around the norms, so a flat or saturated colour can pass.
EMBEDDED_VQ = replace(EMBEDDED_VQ_V2, colour_path=True)
# Tokenizer recipes, by name: the config and the colour terms of the loss.
TOKENIZER_RECIPES: dict[str, tuple[VQConfig, dict[str, float]]] = {
    "v1": (EMBEDDED_VQ_V1, {"chroma_weight": 0.0, "lowpass_weight": 0.0}),
    "v2": (EMBEDDED_VQ_V2, {"chroma_weight": 1.0, "lowpass_weight": 1.0}),
    # hue_jitter: a fifth of the crops with rotated hues, so saturated blues and purples are seen too
    "v3": (EMBEDDED_VQ, {"chroma_weight": 1.0, "lowpass_weight": 1.0, "hue_jitter": 0.2}),
}
EMBEDDED_ARPG = dict(dim=256, n_layer=8, n_head=4, block_size=256, multiple_of=64)  # vocab: the tokenizer's


@command("train-tokenizer")
def _tok_args(p) -> None:
    p.description = "Train the VQ tokenizer on random crops of a prepare-data folder (resumes from OUT)."
    p.add_argument("data", help="folder made by prepare-data")
    p.add_argument("out", help="run folder: checkpoints and tokenizer.safetensors")
    p.add_argument("--steps", type=int, default=6000)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--crop", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--recipe", choices=list(TOKENIZER_RECIPES), default="v3", help="tokenizer config and loss")
    p.add_argument(
        "--texture",
        type=float,
        default=None,
        metavar="WEIGHT",
        help="weight of the texture-energy term (default: the recipe's, 0; the shipped v3 decoder stages: 2, then 6)",
    )
    p.add_argument(
        "--texture-octaves",
        type=int,
        default=0,
        metavar="N",
        help="compare gradient energy at N octaves in the texture term (default 0: one Laplacian band)",
    )
    p.add_argument(
        "--hue-jitter",
        type=float,
        default=None,
        metavar="SHARE",
        help="share of crops with rotated hues (default: the recipe's)",
    )
    p.add_argument(
        "--saturation-jitter",
        type=float,
        default=None,
        metavar="SHARE",
        help="share of crops with their chroma scaled 1-2x (default: the recipe's)",
    )
    p.add_argument(
        "--init",
        metavar="TOKENIZER",
        default=None,
        help="start the whole model from this tokenizer (its config) with a fresh optimizer and schedule",
    )
    p.add_argument(
        "--decoder-only",
        metavar="TOKENIZER",
        default=None,
        help="second stage: start from this tokenizer and train only its decoder (codes stay the same)",
    )
    _device_args(p)
    p.set_defaults(run=_train_tokenizer)


def _device_args(p) -> None:
    p.add_argument("--device", default="cpu", help="cpu (the embedded recipe), cuda or cuda:N (a GPU session)")
    p.add_argument("--bf16", action="store_true", help="forward passes under bf16 autocast (for a GPU; default fp32)")


def _device(args) -> str:
    """The training device, checked before any data is read: one line when it is not there."""
    import torch

    name = args.device
    try:
        dev = torch.device(name)
    except (RuntimeError, ValueError):
        raise UserError(f"--device {name}: give cpu, cuda or cuda:N") from None
    if dev.type not in ("cpu", "cuda"):
        raise UserError(f"--device {name}: give cpu, cuda or cuda:N")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"--device {name}: this torch sees no CUDA device (a CPU build, or no GPU)")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise UserError(f"--device {name}: there are {torch.cuda.device_count()} CUDA devices")
    return name


def _train_tokenizer(args) -> int:
    from arpg_core.training.train import VQTrainConfig, train_vq

    device = _device(args)
    _require_manifest(args.data)
    if args.init and args.decoder_only:
        raise UserError("--init and --decoder-only both name a starting tokenizer; give one")
    if not 0 <= args.texture_octaves <= 4:
        raise UserError(f"--texture-octaves {args.texture_octaves}: give 0 to 4")
    for flag in ("hue_jitter", "saturation_jitter"):
        share = getattr(args, flag)
        if share is not None and not 0.0 <= share <= 1.0:
            raise UserError(f"--{flag.replace('_', '-')} {share}: give a share between 0 and 1")
    cfg, weights = TOKENIZER_RECIPES[args.recipe]
    given = {"texture_weight": args.texture, "hue_jitter": args.hue_jitter, "saturation_jitter": args.saturation_jitter}
    init = None
    if args.decoder_only or args.init:
        from arpg_core.files.checkpoints import load_vq

        base, _ = load_vq(args.decoder_only or args.init)
        init, cfg = base.state_dict(), base.cfg
    tc = VQTrainConfig(
        steps=args.steps,
        batch=args.batch,
        crop=args.crop,
        seed=args.seed,
        lr=args.lr,
        warmup=min(200, args.steps // 10),
        decoder_only=bool(args.decoder_only),
        texture_octaves=args.texture_octaves,
        **{**weights, **{k: v for k, v in given.items() if v is not None}},  # a flag given overrides the recipe
    )
    Path(args.out).mkdir(parents=True, exist_ok=True)
    with open(Path(args.out) / "vq_log.jsonl", "a") as f:
        path = train_vq(
            args.data,
            args.out,
            cfg,
            tc,
            log=lambda r: f.write(json.dumps(r) + "\n"),
            init=init,
            device=device,
            bf16=args.bf16,
        )
    say(f"wrote {path}", sys.stdout)
    return 0


@command("train-arpg")
def _arpg_args(p) -> None:
    p.description = "Pre-tokenize crops with a trained tokenizer, then train ARPG on them (resumes from OUT)."
    p.add_argument("data", help="folder made by prepare-data")
    p.add_argument("tokenizer", help="tokenizer .safetensors from train-tokenizer")
    p.add_argument("out", help="run folder: checkpoints and arpg.safetensors")
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--crops", type=int, default=12000, help="training crops to pre-tokenize")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr", type=float, default=4e-4, help="peak learning rate (cosine down to a tenth of it)")
    p.add_argument(
        "--init",
        default=None,
        metavar="WEIGHTS",
        help="start from these ARPG weights (an earlier run's arpg.safetensors) with a fresh optimizer and schedule",
    )
    _device_args(p)
    p.set_defaults(run=_train_arpg)


def _train_arpg(args) -> int:
    import torch

    from arpg_core.files.checkpoints import load_vq
    from arpg_core.training.train import ARPGTrainConfig, pretokenize, train_arpg

    device = _device(args)
    manifest = _require_manifest(args.data)
    class_names = manifest["class_names"]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tc = ARPGTrainConfig(
        steps=args.steps, batch=args.batch, num_crops=args.crops, seed=args.seed, lr=args.lr, min_lr=args.lr / 10
    )
    cache = out / "train_codes.pt"
    if cache.is_file():
        saved = torch.load(cache, weights_only=True)
        codes, labels = saved["codes"], saved["labels"]
    else:
        vq, _ = load_vq(args.tokenizer)
        codes, labels = pretokenize(vq, args.data, "train", tc.num_crops, tc.crop, tc.seed, device=device)
        torch.save({"codes": codes, "labels": labels}, cache)
    vocab = load_vq(args.tokenizer)[0].cfg.codebook_size
    cfg = ARPGConfig(**EMBEDDED_ARPG, vocab_size=vocab, num_classes=len(class_names))
    init = init_from = None
    if args.init:
        from arpg_core.files.checkpoints import load_arpg

        base, meta = load_arpg(args.init)
        if base.cfg != cfg:
            raise UserError(f"{args.init}: its config {base.cfg} differs from this run's {cfg}")
        init, init_from = base.state_dict(), _provenance(args.init, meta.get("train") or {})
    with open(out / "arpg_log.jsonl", "a") as f:
        path = train_arpg(
            codes,
            labels,
            out,
            cfg,
            tc,
            class_names=class_names,
            log=lambda r: f.write(json.dumps(r) + "\n"),
            init=init,
            init_from=init_from,
            device=device,
            bf16=args.bf16,
        )
    say(f"wrote {path}", sys.stdout)
    return 0


def _provenance(weights: str, train: dict) -> str:
    """'<file name>: <its training settings>' for the metadata of a second stage."""
    keys = ("done_steps", "batch", "lr", "min_lr", "warmup", "num_crops", "seed")
    return f"{Path(weights).name}: " + ", ".join(f"{k} {train[k]}" for k in keys if k in train)


def _require_manifest(data: str) -> dict:
    path = Path(data) / "manifest.json"
    if not path.is_file():
        raise UserError(f"{data}: no manifest.json; build the folder with `arpg-studio prepare-data {data}`")
    return json.loads(path.read_text())
