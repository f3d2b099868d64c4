"""Core speed and memory on this machine, with random weights at the official sizes (no download).

    python benchmarks/bench_core.py [--model ARPG-L] [--repeats 3] [--threads auto] [--cases a,b]

Each case runs in its own subprocess, so its peak RSS is its own. Prints a Markdown table.
Cases, all at batch 1 with classifier-free guidance (2 rows):
  parallel-64   64-step randomized parallel generation (arccos), the official default
  raster-256    raster order, one token per step (the LlamaGen-style cost) on the same model
  vq-decode     VQ-16 decode of one 16x16 grid (256x256 px)
and the first two again with int8 dynamic quantization of the Linear layers (and parallel-64 in bf16),
with their max logit error and token agreement against fp32 on the same order and seed.

Every case makes one untimed warm-up call first. For each timed run it records the wall time, this
process's CPU time and the load of other programs on the allowed cores over the run (/proc/stat less this
process's own time); a run during which others kept more than --max-load cores busy is dropped, and the
table gives the median of the clean runs, with how many were clean.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
import warnings

from arpg_core.threads import prepare_process

prepare_process()  # before torch loads: passive OpenMP waiting, as in the app

CASES = ["parallel-64", "parallel-64-int8", "parallel-64-bf16", "raster-256", "raster-256-int8", "vq-decode"]


def build(model_name: str, quant: bool | str):
    """ARPG at a preset's size, every matrix N(0, 0.02); quant: True or "int8", "bf16", or False (fp32)."""
    import torch

    from arpg_core.nn.config import ARPG_PRESETS
    from arpg_core.nn.model import ARPG

    torch.manual_seed(0)
    model = ARPG(ARPG_PRESETS[model_name])
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p.normal_(0, 0.02)
    model.eval()
    if quant in (True, "int8"):
        from arpg_core.nn.quant import quantize_int8

        model = quantize_int8(model)
    elif quant == "bf16":
        model = model.to(torch.bfloat16)
    return model


def timed_runs(fn, repeats: int, warmup: int = 1) -> list[dict]:
    """Call fn warmup times untimed, then repeats times, each with wall s, CPU s and others' load (cores)."""
    from arpg_core.threads import _proc_sample, others_busy

    for _ in range(warmup):
        fn()
    runs = []
    for _ in range(repeats):
        a, t, c = _proc_sample(), time.perf_counter(), time.process_time()
        fn()
        wall, cpu, b = time.perf_counter() - t, time.process_time() - c, _proc_sample()
        runs.append({"wall": wall, "cpu": cpu, "others": others_busy(a, b) if a and b else None})
    return runs


def summarize(runs: list[dict], max_load: float) -> dict:
    """Median wall and CPU time of the runs others did not disturb (all runs, flagged, when none is clean)."""
    clean = [r for r in runs if r["others"] is not None and r["others"] <= max_load]
    used = clean or runs
    return {
        "wall": statistics.median(r["wall"] for r in used),
        "cpu": statistics.median(r["cpu"] for r in used),
        "others": max((r["others"] or 0.0) for r in used),
        "clean": len(clean),
        "runs": len(runs),
    }


def run_case(case: str, model_name: str, repeats: int, max_load: float, warmup: int = 1) -> dict:
    import torch

    from arpg_core.nn.sampler import SamplingParams, decode

    warnings.filterwarnings("ignore")
    precision = case.rsplit("-", 1)[1] if case.endswith(("-int8", "-bf16")) else "fp32"
    if case == "vq-decode":
        from arpg_core.nn.config import VQ_PRESETS
        from arpg_core.nn.tokenizer import VQModel

        vq = VQModel(VQ_PRESETS["VQ-16"]).eval()
        codes = torch.randint(0, 16384, (1, 16, 16))

        def once():
            with torch.inference_mode():
                vq.decode(codes)

        return {**summarize(timed_runs(once, repeats, warmup), max_load), "steps": 1}

    model = build(model_name, precision if precision != "fp32" else False)
    L = model.cfg.block_size
    order = torch.randperm(L, generator=torch.Generator().manual_seed(0))
    params = SamplingParams(num_steps=64, cfg_scale=4.0)
    last = {}

    def once():
        if case.startswith("parallel"):
            gens = [torch.Generator().manual_seed(0)]
            steps = list(decode(model, [207], gens, params, orders=order))
            last.update(grid=steps[-1].grid, logits=steps[0].logits, n=len(steps))
        else:
            last.update(n=raster(model, L))

    out = {**summarize(timed_runs(once, repeats, warmup), max_load), "steps": last["n"]}
    if case in ("parallel-64-int8", "parallel-64-bf16"):
        ref = build(model_name, False)
        ref_steps = list(decode(ref, [207], [torch.Generator().manual_seed(0)], params, orders=order))
        out["max_logit_error"] = float((last["logits"] - ref_steps[0].logits).abs().max())
        out["logit_scale"] = float(ref_steps[0].logits.abs().max())
        out["token_agreement"] = float((last["grid"] == ref_steps[-1].grid).float().mean())
        # teacher-forced on the fp32 model's own sample: does the other precision pick the same top-1 token?
        with torch.inference_mode():
            labels = torch.tensor([model.cfg.class_token_id(207)])
            a = model(ref_steps[-1].grid, labels, order[None])
            b = ref(ref_steps[-1].grid, labels, order[None])
        out["top1_agreement"] = float((a.argmax(-1) == b.argmax(-1)).float().mean())
    return out


def raster(model, L: int) -> int:
    """One token per step in raster order with CFG, greedy: the cost of a classic AR decoder."""
    import torch

    cfg = model.cfg
    cache = model.new_cache(2, L + 1)
    tokens = torch.tensor([[cfg.class_token_id(207)], [cfg.null_class_id]])
    rows = torch.zeros(2, 1, dtype=torch.long)
    with torch.inference_mode():
        for p in range(L):
            q = torch.full((2, 1), p + 1)
            logits = model.step(cache, tokens, rows, q)
            guided = logits[1] + 4.0 * (logits[0] - logits[1])
            tokens, rows = guided.argmax(-1).expand(2, 1), q
    return L


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="ARPG-L")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1, help="untimed calls before the timed ones")
    ap.add_argument("--threads", default="auto", help="a count, or auto (the app's thread policy)")
    ap.add_argument(
        "--max-load", type=float, default=0.1, help="drop runs while other programs kept more cores busy than this"
    )
    ap.add_argument("--cases", default=None, help="comma-separated subset of: " + ", ".join(CASES))
    ap.add_argument("--case", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case:
        from arpg_core.nn.config import ARPG_PRESETS
        from arpg_core.threads import apply, resolve

        size = sum(p.numel() for p in build_meta(args.model).parameters()) if args.case != "vq-decode" else 72e6
        choice = resolve(int(size), cli=args.threads, env={})
        apply(choice)
        assert args.model in ARPG_PRESETS
        result = run_case(args.case, args.model, args.repeats, args.max_load, args.warmup)
        result["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
        result["threads"] = choice.threads
        print(json.dumps(result))
        return
    cases = args.cases.split(",") if args.cases else CASES
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    title = f"case ({args.model}, threads {args.threads}, median of clean runs of {args.repeats})"
    print(f"loadavg before: {' '.join(load)}")
    print(f"| {title} | wall s | s/step | CPU s | others' load (cores) | clean runs | threads | peak RSS GB | notes |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for case in cases:
        cmd = [sys.executable, __file__, "--case", case, "--model", args.model, "--repeats", str(args.repeats)]
        cmd += ["--threads", str(args.threads), "--max-load", str(args.max_load), "--warmup", str(args.warmup)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode:
            print(f"| {case} | failed: {proc.stderr.strip().splitlines()[-1]} | | | | | | | |")
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        notes = "" if r["clean"] else "**no clean run: contaminated by other load**; "
        if "token_agreement" in r:
            notes += (
                f"max logit error {r['max_logit_error']:.3g} (logits up to {r['logit_scale']:.3g}), "
                f"teacher-forced top-1 agreement {100 * r['top1_agreement']:.1f}%, "
                f"sampled-token agreement {100 * r['token_agreement']:.1f}%"
            )
        print(
            f"| {case} | {r['wall']:.2f} | {r['wall'] / r['steps']:.3f} | {r['cpu']:.2f} | {r['others']:.2f} | "
            f"{r['clean']}/{r['runs']} | {r['threads']} | {r['peak_rss_gb']:.2f} | {notes} |",
            flush=True,
        )


def build_meta(model_name: str):
    import torch

    from arpg_core.nn.config import ARPG_PRESETS
    from arpg_core.nn.model import ARPG

    with torch.device("meta"):
        return ARPG(ARPG_PRESETS[model_name])


if __name__ == "__main__":
    main()
