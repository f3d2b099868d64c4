"""Core speed and memory on this machine, with random weights at the official sizes (no download).

    python benchmarks/bench_core.py [--model ARPG-L] [--repeats 3] [--threads 2]

Each case runs in its own subprocess, so its peak RSS is its own. Prints a Markdown table.
Cases, all at batch 1 with classifier-free guidance (2 rows):
  parallel-64   64-step randomized parallel generation (arccos), the official default
  raster-256    raster order, one token per step (the LlamaGen-style cost) on the same model
  vq-decode     VQ-16 decode of one 16x16 grid (256x256 px)
and the first two again with int8 dynamic quantization of the Linear layers, with their max logit
error and token agreement against fp32 on the same order and seed.
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

CASES = ["parallel-64", "parallel-64-int8", "raster-256", "raster-256-int8", "vq-decode"]


def build(model_name: str, quant: bool):
    import torch

    from arpg_core.config import ARPG_PRESETS
    from arpg_core.model import ARPG

    torch.manual_seed(0)
    model = ARPG(ARPG_PRESETS[model_name])
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p.normal_(0, 0.02)
    model.eval()
    if quant:
        from arpg_core.quant import quantize_int8

        model = quantize_int8(model)
    return model


def run_case(case: str, model_name: str, repeats: int) -> dict:
    import torch

    from arpg_core.sampler import SamplingParams, decode

    warnings.filterwarnings("ignore")
    quant = case.endswith("-int8")
    if case == "vq-decode":
        from arpg_core.config import VQ_PRESETS
        from arpg_core.tokenizer import VQModel

        vq = VQModel(VQ_PRESETS["VQ-16"]).eval()
        codes = torch.randint(0, 16384, (1, 16, 16))
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            with torch.inference_mode():
                vq.decode(codes)
            times.append(time.perf_counter() - t)
        return {"wall": statistics.median(times), "steps": 1}

    model = build(model_name, quant)
    L = model.cfg.block_size
    order = torch.randperm(L, generator=torch.Generator().manual_seed(0))
    times, grid, first_logits = [], None, None
    for _ in range(repeats):
        t = time.perf_counter()
        if case.startswith("parallel"):
            params = SamplingParams(num_steps=64, cfg_scale=4.0)
            gens = [torch.Generator().manual_seed(0)]
            steps = list(decode(model, [207], gens, params, orders=order))
            grid, first_logits, n = steps[-1].grid, steps[0].logits, len(steps)
        else:
            n = raster(model, L)
        times.append(time.perf_counter() - t)
    out = {"wall": statistics.median(times), "steps": n}
    if case == "parallel-64-int8":
        ref = build(model_name, False)
        ref_steps = list(decode(ref, [207], [torch.Generator().manual_seed(0)], params, orders=order))
        out["max_logit_error"] = float((first_logits - ref_steps[0].logits).abs().max())
        out["logit_scale"] = float(ref_steps[0].logits.abs().max())
        out["token_agreement"] = float((grid == ref_steps[-1].grid).float().mean())
        # teacher-forced on the fp32 model's own sample: does int8 pick the same top-1 token?
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
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cases", default=None, help="comma-separated subset of: " + ", ".join(CASES))
    ap.add_argument("--case", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case:
        import torch

        torch.set_num_threads(args.threads)
        result = run_case(args.case, args.model, args.repeats)
        result["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
        print(json.dumps(result))
        return
    cases = args.cases.split(",") if args.cases else CASES
    title = f"case ({args.model}, {args.threads} threads, median of {args.repeats})"
    print(f"| {title} | wall s | s/step | peak RSS GB | notes |")
    print("| --- | --- | --- | --- | --- |")
    for case in cases:
        cmd = [sys.executable, __file__, "--case", case, "--model", args.model, "--repeats", str(args.repeats)]
        cmd += ["--threads", str(args.threads)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode:
            print(f"| {case} | failed: {proc.stderr.strip().splitlines()[-1]} | | | |")
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        notes = ""
        if "token_agreement" in r:
            notes = (
                f"max logit error {r['max_logit_error']:.3g} (logits up to {r['logit_scale']:.3g}), "
                f"teacher-forced top-1 agreement {100 * r['top1_agreement']:.1f}%, "
                f"sampled-token agreement {100 * r['token_agreement']:.1f}%"
            )
        print(
            f"| {case} | {r['wall']:.2f} | {r['wall'] / r['steps']:.3f} | {r['peak_rss_gb']:.2f} | {notes} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
