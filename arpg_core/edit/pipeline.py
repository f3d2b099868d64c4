"""The editing engine: one request in, variants out, with progress (and an optional live preview) per step.

``Engine.run(request)`` is a generator: it yields a ``Progress`` after every decoding step and returns an
``EditResult`` (arpg_core.edit.placement) that knows where its variants land. Stopping the iteration (``close()``)
cancels the job; nothing outside the generator changes, so a cancelled edit leaves the caller's document as it
was. The engine holds the model and runs the one decoding loop every mode shares; what each mode decodes, and
how the tokens become pixels, is the mode's plan (arpg_core.edit.plans). A run's timings are the run's own.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import dataclass

import numpy as np
import torch

from arpg_core import threads
from arpg_core.choices import PRECISIONS
from arpg_core.edit.codec import Codec
from arpg_core.edit.edits import DecodePlan, seam_first_order
from arpg_core.edit.placement import EditResult
from arpg_core.edit.plans import ModePlan, Stats, plan_for
from arpg_core.edit.ranking import best_first
from arpg_core.edit.requests import EditRequest
from arpg_core.nn.model import ARPG
from arpg_core.nn.quant import quantize_int8
from arpg_core.nn.sampler import decode, draw_orders
from arpg_core.nn.tokenizer import VQModel
from arpg_core.progress import RecentRate
from arpg_core.validate import check_request

__all__ = ["PRECISIONS", "EditRequest", "EditResult", "Engine", "Progress", "resolve_precision"]


@dataclass
class Progress:
    step: int  # steps done, over all windows
    total: int  # steps of the whole job, known before it starts
    window: int  # 0-based window being decoded
    windows: int
    elapsed: float
    eta: float
    preview: np.ndarray | None = None  # variant 0's canvas with the partial decode (H, W, 3) uint8


class _Run:
    """The bookkeeping of one run: steps done of the total, each variant's decoding order, the ETA, timings."""

    def __init__(self, plan: ModePlan, variants: int):
        self.t_start = time.perf_counter()
        self.rate = RecentRate(self.t_start)  # the ETA follows the recent steps (a slowdown shows at once)
        self.stats = Stats()
        self.total, self.done = sum(plan.counts), 0
        self.windows = len(plan.jobs)
        self.orders: list[list[list[int]]] = [[] for _ in range(variants)]
        self.last_preview = 0.0

    def begin_window(self) -> None:
        for o in self.orders:
            o.append([])

    def step(self, positions: torch.Tensor) -> None:
        self.done += 1
        for o, pos in zip(self.orders, positions):
            o[-1].extend(pos.tolist())

    def preview_due(self, r: EditRequest) -> bool:
        now = time.perf_counter()
        return r.preview and (now - self.last_preview >= r.preview_interval or self.done == self.total)

    def progress(self, window: int, preview: np.ndarray | None) -> Progress:
        if preview is not None:
            self.last_preview = time.perf_counter()
        now = time.perf_counter()
        self.rate.step(now)
        eta = self.rate.eta(self.total - self.done)
        return Progress(self.done, self.total, window, self.windows, now - self.t_start, eta, preview)


class Engine:
    """An ARPG model and its tokenizer, ready to edit."""

    def __init__(
        self,
        arpg: ARPG,
        vq: VQModel,
        *,
        class_names: list[str] | None = None,
        name: str = "model",
        device: str | torch.device = "cpu",
        precision: str = "auto",
        threads: dict | None = None,
        int8_source=None,  # the ARPG weights file, for the int8 cache (arpg_core.weights.int8_cache)
    ):
        self.device = torch.device(device)
        self.parameters = sum(p.numel() for p in arpg.parameters())  # before int8 hides them in packed weights
        self.precision = resolve_precision(self.device, precision, self.parameters)
        # overrides of the thread policy, {"cli": N} or {"setting": N} (arpg_core.threads.resolve); read per edit
        self.thread_overrides = dict(threads or {})
        arpg = arpg.to(self.device).eval()
        if self.precision == "bf16":
            arpg = arpg.to(torch.bfloat16)
        elif self.precision == "int8":
            arpg = quantize_int8(arpg, int8_source)
        self.arpg = arpg
        self.vq = vq.to(self.device).eval()
        self.bf16_decode = self.precision in ("int8", "bf16") and _has_bf16(self.device)
        self.name = name
        self.class_names = list(class_names or [])
        if self.class_names and len(self.class_names) != arpg.cfg.num_classes:
            raise ValueError(f"{len(self.class_names)} class names for a model of {arpg.cfg.num_classes} classes")
        if arpg.cfg.vocab_size != vq.cfg.codebook_size:
            raise ValueError(
                f"the tokenizer has {vq.cfg.codebook_size} codes but the model expects {arpg.cfg.vocab_size}"
            )

    @property
    def patch(self) -> int:
        return self.vq.cfg.downsample

    @property
    def side(self) -> int:
        return self.arpg.cfg.grid_size

    @property
    def native(self) -> int:
        """Native window in pixels (256 for the official models, 128 for the embedded one)."""
        return self.side * self.patch

    @property
    def codec(self) -> Codec:
        return Codec(self.vq, self.device, self.side, bf16_decode=self.bf16_decode)

    # --- checks and planning ---------------------------------------------------------------------------

    def check(self, r: EditRequest) -> None:
        """Raise ValueError naming the first problem with the request (see arpg_core.validate)."""
        cfg = self.arpg.cfg
        check_request(r, grid_side=self.side, vocab_size=cfg.vocab_size, num_classes=cfg.num_classes)

    def plan(self, r: EditRequest) -> ModePlan:
        """Check a request and plan it: its windows, steps and placement, before anything runs."""
        self.check(r)
        return plan_for(r, self.codec)

    def windows(self, r: EditRequest):
        """The windows a request will run, in order (for display before running)."""
        return self.plan(r).windows

    # --- running ---------------------------------------------------------------------------------------

    def edit(self, r: EditRequest) -> EditResult:
        """Run a request to the end without watching its progress (scripts, benchmarks)."""
        gen = self.run(r)
        while True:
            try:
                next(gen)
            except StopIteration as stop:
                return stop.value

    def run(self, job: EditRequest | ModePlan) -> Generator[Progress, None, EditResult]:
        """Run a request (checked and planned here) or a plan from ``plan`` (checked already)."""
        plan = job if isinstance(job, ModePlan) else self.plan(job)
        r = plan.request
        choice = self.use_threads()
        n = plan.samples  # the candidates of a one-window fill, else the variants
        run = _Run(plan, n)
        generators = [torch.Generator().manual_seed(s) for s in r.seeds()[:n]]
        rope = plan.rope(self.arpg.cfg)
        plan.begin(n)
        for i in range(len(plan.jobs)):
            decode_plan = plan.encode(i, run.stats)
            run.begin_window()
            if decode_plan is None:
                continue
            for step in self._decode(decode_plan, r, plan.sampling(i), generators, run.stats, rope):
                run.step(step.positions)
                preview = plan.preview(i, step, decode_plan, run.stats) if run.preview_due(r) else None
                yield run.progress(i, preview)
            plan.end_window(i, step, decode_plan, run.stats)
        images = plan.finish(run.stats)
        seeds, orders, extra = r.seeds()[:n], run.orders, {**plan.extra, **choice.record()}
        with run.stats.timed("rank"):
            scores = plan.fit(images)
        if scores is not None:  # best first; only the variants asked for are kept
            keep = best_first(scores)[: r.variants]
            images, seeds, orders = [images[i] for i in keep], [seeds[i] for i in keep], [orders[i] for i in keep]
            extra["fit"] = [round(scores[i], 3) for i in keep]
        timings = dict(run.stats.timings, total=time.perf_counter() - run.t_start)
        return EditResult(images, plan.placement, seeds, orders, list(plan.jobs), timings, r, extra)

    def use_threads(self) -> threads.ThreadChoice:
        """Decide the CPU threads for the next edit and set them in the calling thread (the worker's)."""
        choice = threads.resolve(self.parameters, **self.thread_overrides)
        if self.device.type == "cpu":
            threads.apply(choice)
        return choice

    def _decode(self, plan: DecodePlan, r: EditRequest, sampling, generators, stats: Stats, rope=None):
        t0 = time.perf_counter()
        if r.seam_first:
            orders = torch.stack([seam_first_order(plan, g) for g in generators])
        else:
            orders = draw_orders(plan.unknown_pos, generators)
        steps = decode(
            self.arpg,
            [r.label] * len(generators),
            generators,
            sampling,
            num_positions=plan.num_positions,
            known_pos=plan.known_pos,
            known_tokens=plan.known_tokens,
            orders=orders,
            rope=rope,
        )
        for step in steps:
            stats.timings["sample"] += time.perf_counter() - t0
            yield step
            t0 = time.perf_counter()


# --- helpers ---------------------------------------------------------------------------------------------


def _has_bf16(device: torch.device) -> bool:
    """bf16 arithmetic in hardware: CUDA that supports it, or a CPU with AVX-512 BF16 or AMX."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    from arpg_core.weights import calibrate

    return device.type == "cpu" and calibrate.cpu_has_bf16()


def resolve_precision(device: torch.device, precision: str = "auto", parameters: int = 0) -> str:
    """auto: bf16 on CUDA where supported. On the CPU, bf16 where this machine measured it clearly faster than
    fp32 for a model of ``parameters`` (arpg_core.weights.calibrate: only CPUs with bf16 units, only models large
    enough for the weights' bandwidth to dominate), else fp32.

    int8 (dynamic quantization of the Linear layers) is the opt-in CPU "fast" mode.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        if device.type == "cuda":
            return "bf16" if _has_bf16(device) else "fp32"
        if device.type == "cpu" and parameters >= threads.SMALL_MODEL_PARAMETERS and _has_bf16(device):
            from arpg_core.weights import calibrate

            speed = calibrate.speed()
            return speed.faster_precision(parameters) if speed is not None else "fp32"
        return "fp32"
    if precision == "int8" and device.type != "cpu":
        raise ValueError("int8 (fast mode) runs on the CPU only")
    return precision
