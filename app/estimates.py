"""Figures for the first-start welcome: what ARPG-L needs (download, disk, memory, from the registry) and how
long one edit with it would take on this computer.

How the time is derived (the welcome says so too). The registry holds ARPG-L's speed on the project's 2-core
reference machine (about 8.5 s for 64 steps, ``arpg_core.weights.estimates``; docs/performance.md, where decoding the
result with VQ-16 adds 1.6 s), scaled linearly to the app's step count. This machine is compared with that one
by the speed of a matrix multiply of ARPG-L's layer sizes (most of its time), measured here in a fraction of a
second: the estimate is the reference time times the reference's GFLOP/s over this machine's. The embedded model
is timed too, for comparison; its time is not scaled up to ARPG-L's size, because a model that small spends most
of it on per-step overhead rather than arithmetic: scaled by the 49x parameter ratio (and VQ-16's 92x tokenizer
work) its 0.56 s for 64 steps on the idle reference machine gives 29.6 s, three times ARPG-L's measured 10.1 s.
Both run in worker threads: they import the core only when they run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

OFFERED = "ARPG-L"


@dataclass(frozen=True)
class Offer:
    name: str
    tokenizer: str
    parameters: int
    classes: str
    download_bytes: int  # the model and its tokenizer, as downloaded
    disk_bytes: int  # installed: fp32 safetensors of both
    memory_bytes: int  # fp32 weights of both in memory
    installed: bool  # the model and its tokenizer are both installed
    native_px: int


# the reference machine (docs/performance.md): VQ-16 decoding one 256 px image, and the matmul speed that
# `python -m app.estimates` prints there when idle (best of 20, 2 threads: 173-182; 50-80 while other jobs ran)
REFERENCE_DECODE_SECONDS = 1.58
REFERENCE_GFLOPS = 178.0
MATMUL = (512, 1024, 4096)  # rows x ARPG-L's width x its FFN width


@dataclass(frozen=True)
class Timing:
    steps: int
    embedded_seconds: float  # measured here: one edit of the embedded model (a whole window), best of three
    gflops: float  # measured here: a matrix multiply of ARPG-L's layer sizes
    reference_seconds: float  # ARPG-L, ``steps`` steps and decoding, on the reference machine
    estimate_seconds: float  # ARPG-L, the same edit, on this machine

    def explain(self, name: str = OFFERED) -> str:
        return (
            f"Estimated, not measured: {name} takes about {self.reference_seconds:.1f} s for a {self.steps}-step "
            f"edit on the 2-core reference machine (docs/performance.md). Matrix multiplies of its layer sizes "
            f"run at {self.gflops:.0f} GFLOP/s here against {REFERENCE_GFLOPS:.0f} there, so about "
            f"{self.estimate_seconds:.1f} s here. The embedded model took {self.embedded_seconds:.2f} s here "
            "(measured)."
        )


def matmul_gflops(repeats: int = 20) -> float:
    """The best of ``repeats`` fp32 matrix multiplies of ARPG-L's layer sizes, in GFLOP/s."""
    import torch

    m, k, n = MATMUL
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(m, k, generator=g), torch.randn(k, n, generator=g)
    for _ in range(2):
        a @ b
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * m * k * n / best / 1e9


def offer(name: str = OFFERED) -> Offer:
    """Worker thread: the offered model's needs, from the registry, and whether it is installed."""
    from arpg_core.weights import cache as weights
    from arpg_core.weights.catalog import REGISTRY
    from arpg_core.weights.estimates import estimate

    e = estimate(name)
    tok = REGISTRY[e["tokenizer"]]
    have = {m.name for m in weights.installed() if not m.summary.startswith("unreadable")}
    size = e["download_bytes"] + tok.approx_download_bytes
    return Offer(
        name=name,
        tokenizer=tok.name,
        parameters=e["parameters"],
        classes=e["classes"],
        download_bytes=size,
        disk_bytes=e["memory_bytes"] + e["tokenizer_memory_bytes"],
        memory_bytes=e["memory_bytes"] + e["tokenizer_memory_bytes"],
        installed=name in have and tok.name in have,
        native_px=e["native_px"],
    )


class Cancelled(Exception):
    pass


def _edit(engine, request, cancel):
    gen = engine.run(request)
    try:
        while True:
            if cancel is not None and cancel.is_set():
                raise Cancelled("cancelled")
            try:
                next(gen)
            except StopIteration as stop:
                return stop.value
    finally:
        gen.close()


def measure(steps: int, device: str = "cpu", name: str = OFFERED, cancel=None) -> Timing:
    """Worker thread: time the embedded model and this machine's matmul speed, and estimate ``name``'s time per
    edit from the reference machine's (see the module's docstring). ``cancel`` (a threading.Event) stops it
    between two decoding steps."""
    from arpg_core.edit.requests import build_request
    from arpg_core.weights.estimates import estimate
    from arpg_core.weights.registry import load_engine

    engine = load_engine("embedded", device=device)
    if cancel is not None and cancel.is_set():
        raise Cancelled("cancelled")
    _edit(engine, build_request("generate", label=0, num_steps=2, seed=0), cancel)  # warm-up: first calls allocate
    embedded = float("inf")
    for _ in range(3):  # the best of three, as for the matmul: what the machine does when nothing else runs
        t0 = time.perf_counter()
        _edit(engine, build_request("generate", label=0, num_steps=steps, seed=0), cancel)
        embedded = min(embedded, time.perf_counter() - t0)
        if embedded > 5:
            break
    if cancel is not None and cancel.is_set():
        raise Cancelled("cancelled")
    gflops = matmul_gflops()
    ref = estimate(name)
    reference = ref["seconds_per_image"] * steps / ref["steps"] + REFERENCE_DECODE_SECONDS
    return Timing(
        steps=steps,
        embedded_seconds=embedded,
        gflops=gflops,
        reference_seconds=reference,
        estimate_seconds=reference * REFERENCE_GFLOPS / gflops,
    )


if __name__ == "__main__":
    print(f"{matmul_gflops():.1f} GFLOP/s (fp32 {MATMUL[0]}x{MATMUL[1]} @ {MATMUL[1]}x{MATMUL[2]}, best of 20)")
