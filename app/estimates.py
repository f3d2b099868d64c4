"""Figures for the first-start welcome: what ARPG-L needs (download, disk, memory, from the registry) and how
long one edit with it would take on this computer, estimated from a timing of the embedded model.

How the time is derived (the welcome says so too): one Generate of the embedded model (a whole native window,
every token unknown, a class with classifier-free guidance, the app's step count) is timed on this machine. ARPG-L
decodes the same 16x16 token grid, so its sampling time is the embedded model's scaled by the ratio of their
parameter counts (the FLOPs per token of a transformer are about twice its parameters); its tokenizer VQ-16 is
scaled by its parameter ratio times the 4x larger pixel count (256 px against 128 px windows). Both run here
in worker threads: they import the core only when they run.
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


@dataclass(frozen=True)
class Timing:
    steps: int
    embedded_seconds: float  # the measured edit of the embedded model, end to end
    sample_seconds: float  # of which: the transformer's sampling
    tokenizer_seconds: float  # of which: the tokenizer (encode + decode)
    model_ratio: float  # ARPG-L's parameters over the embedded model's
    tokenizer_ratio: float  # VQ-16's parameters over the embedded tokenizer's, times the pixel ratio
    estimate_seconds: float  # ARPG-L, one edit of the same kind, on this machine

    def explain(self, name: str = OFFERED) -> str:
        return (
            f"Estimated, not measured: a {self.steps}-step edit of the embedded model took "
            f"{self.embedded_seconds:.2f} s here ({self.sample_seconds:.2f} s sampling, "
            f"{self.tokenizer_seconds:.2f} s tokenizer). {name} decodes the same 16×16 token grid with "
            f"{self.model_ratio:.0f}× the parameters, and its tokenizer has {self.tokenizer_ratio:.0f}× the work "
            f"(parameters × pixels), so {self.sample_seconds:.2f} × {self.model_ratio:.0f} + "
            f"{self.tokenizer_seconds:.2f} × {self.tokenizer_ratio:.0f} ≈ {self.estimate_seconds:.0f} s."
        )


def offer(name: str = OFFERED) -> Offer:
    """Worker thread: the offered model's needs, from the registry, and whether it is installed."""
    from arpg_core import weights
    from arpg_core.registry import REGISTRY, estimate

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
    """Worker thread: time the embedded model and scale the time to ``name`` (see the module's docstring).
    ``cancel`` (a threading.Event) stops it between two decoding steps."""
    from arpg_core.pipeline import EditRequest
    from arpg_core.registry import REGISTRY, load_engine

    engine = load_engine("embedded", device=device)
    _edit(engine, EditRequest(mode="generate", label=0, steps=2, seed=0), cancel)  # warm-up: first calls allocate
    t0 = time.perf_counter()
    result = _edit(engine, EditRequest(mode="generate", label=0, steps=steps, seed=0), cancel)
    total = time.perf_counter() - t0
    sample = result.timings.get("sample", 0.0)
    tokenizer = result.timings.get("encode", 0.0) + result.timings.get("decode", 0.0)
    other = max(0.0, total - sample - tokenizer)
    big, small = REGISTRY[name], REGISTRY["embedded"]
    big_tok, small_tok = REGISTRY[big.tokenizer], REGISTRY[small.tokenizer]
    model_ratio = big.parameters / small.parameters
    tokenizer_ratio = big_tok.parameters / small_tok.parameters * (big.native_px / small.native_px) ** 2
    return Timing(
        steps=steps,
        embedded_seconds=total,
        sample_seconds=sample,
        tokenizer_seconds=tokenizer,
        model_ratio=model_ratio,
        tokenizer_ratio=tokenizer_ratio,
        estimate_seconds=sample * model_ratio + tokenizer * tokenizer_ratio + other,
    )
