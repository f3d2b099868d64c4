"""Edits beside other programs: the embedded inpaint and ARPG-L parallel-64 (fp32, int8), idle and under load.

    python benchmarks/bench_load.py [--cases embedded,L-fp32,L-int8] [--conditions idle,busy-loop,torch-2]
                                    [--threads auto,1,2] [--waits passive,default] [--repeats 3] [--steps 64]

For each case and condition the benchmark starts the load itself, bounded in time (--load-seconds), and
stops it afterwards:
  idle       nothing
  busy-loop  one process spinning in pure Python (a browser tab, a compiler: one core taken)
  torch-2    a second torch process, 2 threads, OpenMP defaults, multiplying 256x256 matrices in a loop
             (a second editor, a training job)
Every case runs in a subprocess of its own with each thread setting (a count, or auto: the app's policy)
and each OpenMP wait policy (passive: what the app sets; default: the runtime's spin-then-sleep, as before
the thread policy existed). Each timed call follows one untimed warm-up call; the table gives the median
wall time of --repeats calls, their CPU time, and the other programs' load: measured over the runs (it
includes the deliberate load), and measured for a second before the deliberate load started ("background").
A background above --max-background cores means something else was running: those rows are marked.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

CASES = ("embedded", "L-fp32", "L-int8")
LOADS = {
    "idle": None,
    "busy-loop": "import time\nend = time.time() + {s}\nwhile time.time() < end:\n    pass\n",
    "torch-2": (
        "import time, torch\ntorch.set_num_threads(2)\na = torch.randn(256, 256)\nend = time.time() + {s}\n"
        "while time.time() < end:\n    for _ in range(50):\n        b = a @ a\n"
    ),
}


def worker(args) -> None:
    """One case, one wait policy: every thread setting, printed as one JSON line."""
    if args.wait == "passive":
        from arpg_core.threads import prepare_process

        prepare_process()
    import warnings

    import torch

    from arpg_core import threads

    warnings.filterwarnings("ignore")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from bench_core import summarize, timed_runs

    fn, parameters = _case(args.case, args.steps, args.candidates)
    out = []
    for setting in args.threads.split(","):
        choice = threads.resolve(parameters, cli=setting, env={})
        threads.apply(choice)
        runs = timed_runs(fn, args.repeats, warmup=1)
        out.append(
            {
                "setting": setting,
                "threads": choice.threads,
                "reason": choice.reason,
                "torch": torch.__version__,
                **summarize(runs, max_load=99.0),
                "all": [round(r["wall"], 3) for r in runs],
            }
        )
    print(json.dumps(out))


def _case(case: str, steps: int, candidates: int = 1):
    import numpy as np
    import torch

    if case == "embedded":
        from arpg_core.edit.requests import build_request
        from arpg_core.weights.registry import load_engine

        engine = load_engine("embedded", device="cpu", precision="fp32")
        y, x = np.mgrid[0:192, 0:256]
        img = np.stack([x, y, (x + y) // 2], -1).astype(np.uint8)
        mask = np.zeros((192, 256), bool)
        mask[64:112, 96:160] = True  # one small box: one 128 px window, the CLI's defaults (32 steps, cfg 3)
        request = build_request("inpaint", image=img, mask=mask, seed=1, candidates=candidates)

        def run():
            engine.thread_overrides = {"cli": str(torch.get_num_threads())}  # the worker's setting
            engine.edit(request)

        return run, engine.parameters

    from bench_core import build

    from arpg_core.nn.sampler import SamplingParams, decode

    model = build("ARPG-L", "int8" if case == "L-int8" else False)
    order = torch.randperm(256, generator=torch.Generator().manual_seed(0))
    params = SamplingParams(num_steps=steps, cfg_scale=4.0)

    def run():
        for _ in decode(model, [207], [torch.Generator().manual_seed(0)], params, orders=order):
            pass

    return run, 319_845_376


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--conditions", default=",".join(LOADS))
    ap.add_argument("--threads", default="auto,1,2", help="thread settings to time: counts and/or auto")
    ap.add_argument("--waits", default="passive,default", help="OpenMP wait policies: passive, default")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--steps", type=int, default=64, help="ARPG-L decoding steps (64: the official setting)")
    ap.add_argument("--candidates", type=int, default=1, help="the embedded inpaint keeps the best of N (its own: 6)")
    ap.add_argument("--load-seconds", type=float, default=900, help="upper bound on each load process's life")
    ap.add_argument("--max-background", type=float, default=0.15)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--case", help=argparse.SUPPRESS)
    ap.add_argument("--wait", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args)
        return
    from arpg_core.threads import measure_load

    print(f"loadavg at start: {_loadavg()}; {os.cpu_count()} CPUs")
    print(
        "| case | condition | OpenMP wait | threads setting | threads | wall s (median) | CPU s | "
        "others' load during runs (cores) | background (cores) | runs (s) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for case in args.cases.split(","):
        for condition in args.conditions.split(","):
            _, background = measure_load(1.0)
            load = _start_load(condition, args.load_seconds)
            try:
                time.sleep(1.0 if load else 0.0)  # let the load reach its pace
                for wait in args.waits.split(","):
                    rows = _run_worker(args, case, wait)
                    for r in rows:
                        flag = " **background load**" if background > args.max_background else ""
                        print(
                            f"| {case} | {condition} | {wait} | {r['setting']} | {r['threads']} | {r['wall']:.2f} | "
                            f"{r['cpu']:.2f} | {r['others']:.2f} | {background:.2f}{flag} | "
                            f"{' '.join(f'{w:.2f}' for w in r['all'])} |",
                            flush=True,
                        )
            finally:
                _stop(load)
    print(f"loadavg at end: {_loadavg()}")


def _run_worker(args, case: str, wait: str) -> list[dict]:
    env = dict(os.environ)
    env.pop("OMP_WAIT_POLICY", None)
    env.pop("KMP_BLOCKTIME", None)
    env.pop("ARPG_STUDIO_THREADS", None)
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--case", case, "--wait", wait]
    cmd += ["--threads", args.threads, "--repeats", str(args.repeats), "--steps", str(args.steps)]
    cmd += ["--candidates", str(args.candidates)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=args.load_seconds)
    if proc.returncode:
        raise SystemExit(f"{case} ({wait}) failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _start_load(condition: str, seconds: float):
    code = LOADS[condition]
    if code is None:
        return None
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "KMP_BLOCKTIME")}
    return subprocess.Popen([sys.executable, "-c", code.format(s=seconds)], env=env)


def _stop(proc) -> None:
    if proc is not None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _loadavg() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "n/a"


if __name__ == "__main__":
    main()
