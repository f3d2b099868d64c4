"""ARPG-L to int8, in one process: the library's quantization, ours (single packing), and the int8 cache.

    python benchmarks/bench_int8_load.py [--dir /tmp/arpg-bench] [--repeats 2]

Uses the random ARPG-L weights that bench_memory.py writes into --dir (arpg-l.safetensors). For each way
it reads the file, builds the model (as load_engine does), then times only the quantization: CPU time of
this process, wall time and the other programs' load over it (a figure beside other load is not an idle
one). One thread, so CPU time is comparable across loads. "cache hit" reads the cache that "cache build"
wrote (in --dir/int8-cache). Every way's logits on one input are compared with the library's.
"""

from __future__ import annotations

import argparse
import copy
import shutil
import time
import warnings
from pathlib import Path

from arpg_core.threads import prepare_process

prepare_process()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default="/tmp/arpg-bench")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()

    import torch

    from arpg_core.files.checkpoints import build_arpg, read_checkpoint
    from arpg_core.nn.loading import quantize_int8_
    from arpg_core.threads import _proc_sample, others_busy
    from arpg_core.weights import int8_cache

    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    source = Path(args.dir) / "arpg-l.safetensors"
    if not source.exists():
        raise SystemExit(f"{source}: run benchmarks/bench_memory.py --dir {args.dir} first to write it")
    folder = Path(args.dir) / "int8-cache"
    shutil.rmtree(folder, ignore_errors=True)

    def library(model):
        from torch.ao.quantization import quantize_dynamic

        return quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)

    ways = {
        "library (quantize_dynamic)": library,
        "single packing (quantize_int8_)": quantize_int8_,
        "cache build": lambda m: int8_cache.quantize_cached(m, source, folder),
        "cache hit": lambda m: int8_cache.quantize_cached(m, source, folder),
    }
    tokens = torch.randint(0, 16384, (1, 256), generator=torch.Generator().manual_seed(0))
    labels, orders = torch.tensor([1]), torch.randperm(256, generator=torch.Generator().manual_seed(1))[None]
    reference = None
    print("| way | CPU s | wall s | others' load (cores) | logits as the library's |")
    print("| --- | --- | --- | --- | --- |")
    for name, fn in ways.items():
        for _ in range(1 if name == "cache build" else args.repeats):
            model = build_arpg(read_checkpoint(source))
            a, t, c = _proc_sample(), time.perf_counter(), time.process_time()
            fn(model)  # in place
            cpu, wall, b = time.process_time() - c, time.perf_counter() - t, _proc_sample()
            with torch.no_grad():
                logits = model(tokens, labels, orders)
            if reference is None:
                reference = copy.deepcopy(logits)
            same = "identical" if torch.equal(logits, reference) else "DIFFERENT"
            load = others_busy(a, b) if a and b else float("nan")
            print(f"| {name} | {cpu:.2f} | {wall:.2f} | {load:.2f} | {same} |", flush=True)
            del model


if __name__ == "__main__":
    main()
