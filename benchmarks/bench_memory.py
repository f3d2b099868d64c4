"""Peak memory and time to the first step of an ARPG-L inpaint through the CLI, fp32 and int8.

    python benchmarks/bench_memory.py [--dir /tmp/arpg-bench] [--precisions fp32,int8] [--steps 64]
    python benchmarks/bench_memory.py --precisions int8,int8-cache-cold,int8-cache-warm   # the int8 cache

Writes ARPG-L-size and VQ-16-size random weights (official layout, every ARPG matrix N(0, 0.02)) as our
safetensors into --dir the first time, then runs ``arpg-studio inpaint`` (a 256 px image, a 64x64 px mask)
in a fresh process per precision and reports its peak RSS (getrusage), the seconds from process start to
the first progress report, the process's CPU time, and the load average around the run.

``int8-cache-cold`` and ``int8-cache-warm`` run int8 with the int8 weight cache switched on
(``ARPG_STUDIO_INT8_CACHE=1``, the cache in --dir): cold starts without one (the run quantizes and writes
it), warm finds the one the cold run wrote.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path


def make_inputs(folder: Path) -> None:
    import numpy as np
    import torch
    from PIL import Image

    from arpg_core.files.checkpoints import save_safetensors
    from arpg_core.nn.config import ARPG_PRESETS, VQ_PRESETS
    from arpg_core.nn.model import ARPG
    from arpg_core.nn.tokenizer import VQModel

    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "arpg-l.safetensors").exists():
        torch.manual_seed(0)
        m = ARPG(ARPG_PRESETS["ARPG-L"])
        with torch.no_grad():
            for p in m.parameters():
                p.normal_(0, 0.02)
        save_safetensors(folder / "arpg-l.safetensors", m.state_dict(), {"kind": "arpg", "config": m.cfg.to_dict()})
        del m
    if not (folder / "vq16.safetensors").exists():
        v = VQModel(VQ_PRESETS["VQ-16"])
        save_safetensors(folder / "vq16.safetensors", v.state_dict(), {"kind": "vq", "config": v.cfg.to_dict()})
    y, x = np.mgrid[0:256, 0:256]
    Image.fromarray(np.stack([x, y, (x + y) // 2], -1).astype(np.uint8)).save(folder / "img256.png")
    mask = np.zeros((256, 256), np.uint8)
    mask[96:160, 96:160] = 255
    Image.fromarray(mask).save(folder / "mask64.png")


def child(argv: list[str]) -> None:
    """The CLI, with the time of its first progress report noted (run as a fresh process)."""
    t0 = time.perf_counter()
    import resource

    import arpg_core.progress as progress

    first: list[float] = []
    update = progress.ProgressBar.update

    def noted(self, done, **fields):
        if not first:
            first.append(time.perf_counter() - t0)
        return update(self, done, **fields)

    progress.ProgressBar.update = noted
    from arpg_core.cli.main import main

    cpu = time.process_time()
    rc = main(argv)
    out = {
        "rc": rc,
        "first_step_s": first[0] if first else None,
        "total_s": time.perf_counter() - t0,
        "cpu_s": time.process_time() - cpu,
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
    }
    print("RESULT " + json.dumps(out), file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default="/tmp/arpg-bench")
    ap.add_argument("--precisions", default="fp32,int8")
    ap.add_argument("--steps", type=int, default=64)
    ap.add_argument("--threads", default="auto")
    ap.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        child(args.child)
        return
    folder = Path(args.dir)
    make_inputs(folder)
    weights = sum((folder / f).stat().st_size for f in ("arpg-l.safetensors", "vq16.safetensors")) / 1e9
    print(f"weights on disk: {weights:.2f} GB")
    print("| precision | peak RSS GB | / weights | first step s | total s | CPU s | loadavg before / after |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for row in args.precisions.split(","):
        precision, env = row, dict(os.environ, ARPG_STUDIO_INT8_CACHE="0")
        if row.startswith("int8-cache"):
            precision = "int8"
            env.update(ARPG_STUDIO_INT8_CACHE="1", ARPG_STUDIO_CACHE=str(folder / "cache"))
            if row.endswith("cold"):
                shutil.rmtree(folder / "cache" / "int8", ignore_errors=True)
        cli = ["inpaint", str(folder / "img256.png"), "--mask", str(folder / "mask64.png")]
        cli += ["-o", str(folder / f"out-{precision}.png"), "--force", "--steps", str(args.steps), "--seed", "1"]
        cli += ["--model", str(folder / "arpg-l.safetensors"), "--tokenizer", str(folder / "vq16.safetensors")]
        cli += ["--precision", precision, "--threads", args.threads]
        before = os.getloadavg()[0]
        proc = subprocess.run([sys.executable, __file__, "--child", *cli], capture_output=True, text=True, env=env)
        after = os.getloadavg()[0]
        lines = [line for line in proc.stderr.splitlines() if line.startswith("RESULT ")]
        if proc.returncode or not lines:
            print(f"| {row} | failed: {proc.stderr.strip().splitlines()[-1:]} | | | | | |")
            continue
        r = json.loads(lines[-1][len("RESULT ") :])
        print(
            f"| {row} | {r['peak_rss_gb']:.2f} | {r['peak_rss_gb'] / weights:.2f}x | {r['first_step_s']:.2f} | "
            f"{r['total_s']:.1f} | {r['cpu_s']:.1f} | {before:.2f} / {after:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    if "--child" not in sys.argv:
        from arpg_core.threads import prepare_process

        prepare_process()
    main()
