"""Train the next embedded pair on a GPU within a time budget: the plan for a session that is lent one.

Here, first (the device tool carries at most 64 MiB):

    .venv/bin/python scripts/pack_training_data.py data/photos gpu-data

Then one device call (``carry: ["gpu-data"]``; the machine's python3 has torch, numpy, pillow, opencv and
safetensors):

    PYTHONUNBUFFERED=1 PYTHONPATH=$PWD python3 -m pytest -q -x tests/test_train.py -k cuda &&
    PYTHONUNBUFFERED=1 PYTHONPATH=$PWD python3 scripts/gpu_train.py gpu-data $OUT --minutes 6

Back here, with the two files from $OUT (fp16, as ``scripts/ship_embedded.py`` stores them): evaluate them with
``benchmarks/eval_embedded.py``, ``tokenizer_colour.py``, ``eval_fill.py`` and ``tests/test_quality.py`` against the
shipped pair, and ship them only if they are better.

Three stages, each run by the library's training functions with ``device`` and bf16 autocast: the tokenizer
(the v3 recipe plus saturation jitter, so the encoder sees deep blues and purples), its decoder at 128 px with the
shipped texture terms (the codes stay the first stage's), and ARPG on the first stage's codes. Each stage is first
timed on a few steps; then it gets its share of the budget as a fixed step count, so every stage runs a whole
learning-rate schedule, and on a GPU a stage that would get fewer steps than the CPU recipe's is run with those
instead. Every step's inputs come from the same CPU generators as on the CPU (arpg_core.training.train).
``--device cpu --minutes 2 --crops 256 --probe 2`` runs the same script here, as a rehearsal (no floor on a CPU).
The budget counts training only: add about a minute for the probes, the pre-tokenizing and the machine's start.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from arpg_core.cli.train_cli import EMBEDDED_ARPG, TOKENIZER_RECIPES  # noqa: E402
from arpg_core.files.checkpoints import load_vq  # noqa: E402
from arpg_core.nn.config import ARPGConfig  # noqa: E402
from arpg_core.training.train import (  # noqa: E402
    ARPGTrainConfig,
    VQTrainConfig,
    pretokenize,
    train_arpg,
    train_vq,
)

# The stages' recipes: the CPU run's (assets/MODEL_CARD.md) with larger batches for a GPU, and the CPU run's step
# counts as the floor. Shares of the budget: what the tokenizer and the ARPG each got on the CPU, roughly.
TOKENIZER = dict(batch=64, crop=64, lr=4e-4, saturation_jitter=0.3)
DECODER = dict(batch=32, crop=128, lr=1e-4, texture_weight=2.0, texture_octaves=3, hue_jitter=0.5)
ARPG_RUN = dict(batch=128, lr=8e-4, crops=40000)
FLOOR = {"tokenizer": 3000, "decoder": 800, "arpg": 1200}
SHARES = {"tokenizer": 0.35, "decoder": 0.15, "arpg": 0.5}
PROBE_STEPS = 12


def seconds_per_step(run, probe: int) -> float:
    """Time ``run(steps, folder)`` over ``probe`` steps after two warm-up steps, in a scratch folder."""
    with tempfile.TemporaryDirectory() as tmp:
        run(2, Path(tmp) / "warm")
        t0 = time.perf_counter()
        run(probe, Path(tmp) / "probe")
        return (time.perf_counter() - t0) / probe


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", help="prepare-data folder (packed by scripts/pack_training_data.py)")
    ap.add_argument("out", help="where the two fp16 files, the run folders' logs and summary.json go")
    ap.add_argument("--minutes", type=float, default=6.0, help="training budget, the three stages together")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--recipe", choices=list(TOKENIZER_RECIPES), default="v3")
    ap.add_argument("--runs", default=None, help="run folders (default: a temporary folder)")
    ap.add_argument("--probe", type=int, default=PROBE_STEPS, help="steps timed per stage before it runs")
    ap.add_argument("--crops", type=int, default=ARPG_RUN["crops"], help="training crops tokenized for the ARPG")
    args = ap.parse_args()
    bf16 = args.device.startswith("cuda")
    if bf16:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    runs = Path(args.runs or tempfile.mkdtemp(prefix="gpu-train-"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    budget = args.minutes * 60
    summary: dict = {"device": args.device, "bf16": bf16, "minutes": args.minutes, "stages": {}}
    if bf16:
        summary["gpu"] = torch.cuda.get_device_name()

    def steps_for(stage: str, sec: float) -> int:
        steps = max(FLOOR[stage] if bf16 else args.probe, int(budget * SHARES[stage] / sec))
        summary["stages"][stage] = {"seconds_per_step": round(sec, 4), "steps": steps}
        print(f"{stage}: {sec * 1000:.1f} ms per step -> {steps} steps", flush=True)
        return steps

    def timed(stage: str, fn):
        """Run a stage's real run, its log to OUT/<stage>_log.jsonl."""
        t0 = time.perf_counter()
        with open(out / f"{stage}_log.jsonl", "w") as f:
            result = fn(lambda r: f.write(json.dumps(r) + "\n"))
        summary["stages"][stage]["wall_s"] = round(time.perf_counter() - t0, 1)
        return result

    # 1. the tokenizer
    cfg, weights = TOKENIZER_RECIPES[args.recipe]
    base = {**weights, **TOKENIZER}

    def vq_run(steps, folder, log=None):
        tc = VQTrainConfig(steps=steps, warmup=min(200, steps // 10), **base)
        return train_vq(args.data, folder, cfg, tc, log=log, device=args.device, bf16=bf16)

    n = steps_for("tokenizer", seconds_per_step(vq_run, args.probe))
    vq_path = timed("tokenizer", lambda log: vq_run(n, runs / "vq", log))

    # 2. the decoder at 128 px (the codes stay the first stage's)
    first, _ = load_vq(vq_path)
    dec = dict(DECODER, decoder_only=True)

    def dec_run(steps, folder, log=None):
        tc = VQTrainConfig(steps=steps, warmup=min(200, steps // 10), **dec)
        init = first.state_dict()
        return train_vq(args.data, folder, first.cfg, tc, log=log, init=init, device=args.device, bf16=bf16)

    n = steps_for("decoder", seconds_per_step(dec_run, args.probe))
    dec_path = timed("decoder", lambda log: dec_run(n, runs / "vq-dec", log))

    # 3. ARPG on the first stage's codes
    manifest = json.loads((Path(args.data) / "manifest.json").read_text())
    t0 = time.perf_counter()
    codes, labels = pretokenize(first, args.data, "train", args.crops, 128, 0, batch=256, device=args.device)
    summary["pretokenize_s"] = round(time.perf_counter() - t0, 1)
    arpg_cfg = ARPGConfig(**EMBEDDED_ARPG, vocab_size=cfg.codebook_size, num_classes=len(manifest["class_names"]))
    lr = ARPG_RUN["lr"]

    def arpg_run(steps, folder, log=None):
        tc = ARPGTrainConfig(
            steps=steps,
            batch=ARPG_RUN["batch"],
            lr=lr,
            min_lr=lr / 10,
            warmup=min(200, steps // 10),
            num_crops=args.crops,
            checkpoint_every=max(100, steps // 10),
        )
        names, dev = manifest["class_names"], args.device
        return train_arpg(codes, labels, folder, arpg_cfg, tc, class_names=names, log=log, device=dev, bf16=bf16)

    n = steps_for("arpg", seconds_per_step(arpg_run, args.probe))
    arpg_path = timed("arpg", lambda log: arpg_run(n, runs / "arpg", log))

    # The pair as the app ships it (fp16), next to the logs, and what ran.
    ship = ROOT / "scripts" / "ship_embedded.py"
    subprocess.run([sys.executable, str(ship), str(arpg_path), str(dec_path), "--out", str(out)], check=True)
    summary["tokenizer_first_stage"] = str(vq_path)
    summary["recipes"] = {
        "tokenizer": {"recipe": args.recipe, **base},
        "decoder": dec,
        "arpg": {**ARPG_RUN, "crops": args.crops, "config": asdict(arpg_cfg)},
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
