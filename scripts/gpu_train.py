"""Train the next embedded pair on a GPU within a time budget: the plan for a session that is lent one.

Here, first (the device tool carries at most 64 MiB):

    .venv/bin/python scripts/pack_training_data.py data/photos-r2 gpu-data

Then one device call (``carry: ["gpu-data"]``; the machine's python3 has torch, numpy, pillow, opencv and
safetensors): ``bash scripts/gpu_session.sh $OUT 7.5 [SIZE ...]``, which runs the CUDA test, this script once per
tokenizer size (ch48 by default; side by side when more), and the quality tests' tokenizer checks on each pair.

Back here, with the files from $OUT (fp16, as ``scripts/ship_embedded.py`` stores them): evaluate them with
``benchmarks/eval_embedded.py``, ``tokenizer_colour.py``, ``eval_fill.py`` and ``tests/test_quality.py`` against the
shipped pair, and ship them only if they are better.

Three stages, each run by the library's training functions with ``device`` and bf16 autocast: the tokenizer
(the v3 recipe plus saturation jitter, so the encoder sees deep blues and purples), its decoder at 128 px in two
stages with texture weights 2 then 6, as v3 had (the codes stay the first stage's), and ARPG on the first
stage's codes. Each stage is first timed on a few steps; then it gets its share of the time left as a fixed
step count, so every stage runs a whole learning-rate schedule and the run ends within ``--minutes``. Every
step's inputs come from the same CPU generators as on the CPU (arpg_core.training.train).
``--device cpu --minutes 2 --crops 256 --probe 2 --batch-div 16``
runs the same script here, as a rehearsal.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from arpg_core.cli.train_cli import EMBEDDED_ARPG, TOKENIZER_RECIPES  # noqa: E402
from arpg_core.files.checkpoints import load_arpg, load_vq  # noqa: E402
from arpg_core.nn.config import ARPGConfig  # noqa: E402
from arpg_core.training.train import (  # noqa: E402
    ARPGTrainConfig,
    VQTrainConfig,
    pretokenize,
    train_arpg,
    train_vq,
)
from arpg_core.weights.catalog import EMBEDDED_ARPG_FILE, EMBEDDED_VQ_FILE  # noqa: E402

# The stages' recipes: the CPU run's (assets/MODEL_CARD.md) with larger batches for a GPU. Shares of the time left when
# a stage starts (after its probe): the tokenizer 45 %, then the decoder 25 % of what is left, then the ARPG 90 %.
TOKENIZER = dict(batch=128, crop=64, lr=4e-4, saturation_jitter=0.3)
DECODER = dict(batch=64, crop=128, lr=1e-4, texture_octaves=3, hue_jitter=0.5)
# The decoder stages' texture weights, in turn (v3's two stages). The first GPU run had one stage at 2: its
# round trip's texture ratio fell from 0.283 to 0.246 and its fills' from 0.48 to 0.33 (docs/gpu-run-1.md).
DECODER_TEXTURE = [2.0, 6.0]
ARPG_RUN = dict(batch=256, lr=8e-4, crops=100_000)
SHARES = {"tokenizer": 0.45, "decoder": 0.25, "arpg": 0.9}
# Tokenizer sizes, on the recipe's config: the shipped one, and 1.5x its channels (13.8 MB in fp16 instead of
# 6.3; one 128 px decode 78 ms instead of 38 on the 2-core CPU), to test whether capacity buys full PSNR.
# "ch48-16k": and four times the codes (14 bits per 8x8 cell instead of 12), to test whether bits buy it.
VARIANTS = {"v3": {}, "ch48": {"ch": 48}, "ch48-16k": {"ch": 48, "codebook_size": 16384}}
PROBE_STEPS = 12
RESERVE_S = 20.0  # after the last stage: storing the pair and the log


def seconds_per_step(run, probe: int) -> float:
    """Time ``run(steps, folder, log)`` over ``probe`` steps after two warm-up steps, in a scratch folder: from
    its first step's record to its last, so the setup (loading the photos, building the model) is not counted.
    The first GPU run timed the whole probe run and so planned half the tokenizer steps its time allowed."""
    with tempfile.TemporaryDirectory() as tmp:
        run(2, Path(tmp) / "warm")
        stamps = []
        run(max(2, probe), Path(tmp) / "probe", lambda record: stamps.append(time.perf_counter()))
        return (stamps[-1] - stamps[0]) / (len(stamps) - 1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", help="prepare-data folder (packed by scripts/pack_training_data.py)")
    ap.add_argument("out", help="where the two fp16 files and log.jsonl (every step, then the summary) go")
    ap.add_argument("--minutes", type=float, default=6.0, help="the whole run's wall time, probes included")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--recipe", choices=list(TOKENIZER_RECIPES), default="v3")
    ap.add_argument("--variant", choices=list(VARIANTS), default="v3", help="tokenizer size")
    ap.add_argument("--runs", default=None, help="run folders (default: a temporary folder)")
    ap.add_argument("--probe", type=int, default=PROBE_STEPS, help="steps timed per stage before it runs")
    ap.add_argument("--crops", type=int, default=ARPG_RUN["crops"], help="training crops tokenized for the ARPG")
    ap.add_argument("--threads", type=int, default=4, help="torch's CPU threads")
    ap.add_argument("--batch-div", type=int, default=1, help="divide every stage's batch (a rehearsal on the CPU)")
    ap.add_argument(
        "--continue-from",
        metavar="DIR",
        help="a pair this script wrote: skip the first stage, continue its decoder and its ARPG (the codes stay)",
    )
    ap.add_argument(
        "--texture",
        type=float,
        nargs="*",
        default=DECODER_TEXTURE,
        help="the decoder stages' texture weights, one stage each, in turn (default: 2 then 6, as v3's; none given: "
        "no decoder stage, so with --continue-from only the ARPG trains on)",
    )
    ap.add_argument("--arpg-lr", type=float, default=ARPG_RUN["lr"], help="the ARPG's peak learning rate")
    ap.add_argument("--seed", type=int, default=0, help="seed of the ARPG's pre-tokenized crops")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "log.jsonl", "w") as logfile:
        summary = train(args, out, logfile)
        logfile.write(json.dumps({"summary": summary}) + "\n")
    print(json.dumps(summary, indent=1))
    return 0


def train(args, out: Path, logfile) -> dict:
    """The three stages and the shipped pair, within ``args.minutes``; returns the summary."""
    deadline = time.monotonic() + args.minutes * 60
    torch.set_num_threads(args.threads)
    bf16 = args.device.startswith("cuda")
    if bf16:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    runs = Path(args.runs or tempfile.mkdtemp(prefix="gpu-train-"))
    summary: dict = {
        "device": args.device,
        "bf16": bf16,
        "minutes": args.minutes,
        "variant": args.variant,
        "stages": {},
    }
    if bf16:
        summary["gpu"] = torch.cuda.get_device_name()

    def left() -> float:
        return deadline - time.monotonic() - RESERVE_S

    def steps_for(stage: str, sec: float, seconds: float) -> int:
        """Steps of ``sec`` each that fit in ``seconds``."""
        steps = max(args.probe, int(seconds / sec))
        summary["stages"][stage] = {"seconds_per_step": round(sec, 4), "steps": steps, "left_s": round(left(), 1)}
        print(f"{stage}: {sec * 1000:.1f} ms per step, {seconds:.0f} s of {left():.0f} left -> {steps} steps")
        return steps

    def timed(stage: str, fn):
        """Run a stage's real run, each step's record to OUT/log.jsonl."""
        t0 = time.perf_counter()
        result = fn(lambda r: logfile.write(json.dumps({"stage": stage, **r}) + "\n"))
        summary["stages"][stage]["wall_s"] = round(time.perf_counter() - t0, 1)
        logfile.flush()
        return result

    # 1. the tokenizer
    cfg, weights = TOKENIZER_RECIPES[args.recipe]
    cfg = replace(cfg, **VARIANTS[args.variant])
    base = {**weights, **TOKENIZER, "batch": TOKENIZER["batch"] // args.batch_div}
    # the crops are cut where the model runs (DeviceCropStream): on the CPU they bound the first GPU run
    on = dict(device=args.device, bf16=bf16, crops_on_device=True)

    def vq_run(steps, folder, log=None):
        tc = VQTrainConfig(steps=steps, warmup=min(200, steps // 10), **base)
        return train_vq(args.data, folder, cfg, tc, log=log, **on)

    if args.continue_from:
        dec_path = Path(args.continue_from) / EMBEDDED_VQ_FILE
        first, _ = load_vq(dec_path)  # its decoder continues; its codes stay
    else:
        sec = seconds_per_step(vq_run, args.probe)
        n = steps_for("tokenizer", sec, left() * SHARES["tokenizer"])
        dec_path = timed("tokenizer", lambda log: vq_run(n, runs / "vq", log))
        first, _ = load_vq(dec_path)

    # 2. the decoder at 128 px, one stage per texture weight, each from the last (the codes stay the first stage's)
    dec = dict(DECODER, decoder_only=True, batch=DECODER["batch"] // args.batch_div)
    last, decoder_end = first, time.monotonic() + left() * SHARES["decoder"]
    for i, weight in enumerate(args.texture):

        def dec_run(steps, folder, log=None, weight=weight, start=last):
            tc = VQTrainConfig(steps=steps, warmup=min(200, steps // 10), texture_weight=weight, **dec)
            return train_vq(args.data, folder, first.cfg, tc, log=log, init=start.state_dict(), **on)

        stage = f"decoder-{i + 1}"
        sec = seconds_per_step(dec_run, args.probe)
        n = steps_for(stage, sec, (decoder_end - time.monotonic()) / (len(args.texture) - i))  # an equal part each
        dec_path = timed(stage, lambda log, run=dec_run, n=n, stage=stage: run(n, runs / stage, log))
        last, _ = load_vq(dec_path)

    # 3. ARPG on the first stage's codes
    manifest = json.loads((Path(args.data) / "manifest.json").read_text())
    t0 = time.perf_counter()
    codes, labels = pretokenize(
        first, args.data, "train", args.crops, 128, args.seed, batch=256, device=args.device, crops_on_device=True
    )
    summary["pretokenize_s"] = round(time.perf_counter() - t0, 1)
    arpg_cfg = ARPGConfig(**EMBEDDED_ARPG, vocab_size=first.cfg.codebook_size, num_classes=len(manifest["class_names"]))
    lr = args.arpg_lr
    init = load_arpg(Path(args.continue_from) / EMBEDDED_ARPG_FILE)[0].state_dict() if args.continue_from else None

    def arpg_run(steps, folder, log=None):
        tc = ARPGTrainConfig(
            steps=steps,
            batch=ARPG_RUN["batch"] // args.batch_div,
            lr=lr,
            min_lr=lr / 10,
            warmup=min(200, steps // 10),
            num_crops=args.crops,
            checkpoint_every=max(100, steps // 5),
        )
        names, dev = manifest["class_names"], args.device
        return train_arpg(
            codes, labels, folder, arpg_cfg, tc, class_names=names, log=log, init=init, device=dev, bf16=bf16
        )

    sec = seconds_per_step(arpg_run, args.probe)
    n = steps_for("arpg", sec, left() * SHARES["arpg"])
    arpg_path = timed("arpg", lambda log: arpg_run(n, runs / "arpg", log))

    # The pair as the app ships it (fp16), next to the log, and what ran.
    ship = ROOT / "scripts" / "ship_embedded.py"
    subprocess.run([sys.executable, str(ship), str(arpg_path), str(dec_path), "--out", str(out)], check=True)
    summary["recipes"] = {
        "tokenizer": {"recipe": args.recipe, "variant": args.variant, **base, "continued_from": args.continue_from},
        "decoder": {**dec, "texture_weights": args.texture},
        "arpg": {
            **ARPG_RUN,
            "lr": lr,
            "seed": args.seed,
            "continued_from": args.continue_from,
            "batch": ARPG_RUN["batch"] // args.batch_div,
            "crops": args.crops,
            "config": asdict(arpg_cfg),
        },
    }
    summary["wall_s"] = round(args.minutes * 60 - (deadline - time.monotonic()), 1)
    return summary


if __name__ == "__main__":
    sys.exit(main())
