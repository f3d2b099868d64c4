"""The editing engine: one request in, variants out, with progress (and an optional live preview) per step.

``Engine.run(request)`` is a generator: it yields a ``Progress`` after every decoding step and returns an
``EditResult``. Stopping the iteration (``close()``) cancels the job; nothing outside the generator
changes, so a cancelled edit leaves the caller's document as it was.

Inpaint: one window per mask region (a downscaled one for large regions), known tokens prefilled, the
masked ones sampled, decoded, and feathered into the mask only. Outpaint: native windows sliding out
from the original, each prefilled with every token already known. Expand: the source tokens at the
even positions of a grid twice as large, with a rotary table for that grid. Generate: a class from
nothing.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import asdict, dataclass, field

import cv2
import numpy as np
import torch

from . import threads
from .edits import (
    DecodePlan,
    Window,
    composite,
    expand_plan,
    expand_windows,
    feather_alpha,
    fill_unknown,
    inpaint_regions,
    inpaint_windows,
    lanczos_2x,
    lock_low_band,
    outpaint_windows,
    plan_from_mask,
    seam_first_order,
    token_mask,
)
from .local_decode import PasteDecoder
from .model import ARPG, rope_table
from .progress import RecentRate
from .quant import quantize_int8
from .sampler import SamplingParams, StepResult, decode, draw_orders, step_counts
from .tokenizer import VQModel
from .validate import check_inputs, check_options, check_request


@dataclass(frozen=True, eq=False)
class EditRequest:
    """Everything that determines an edit: replaying the same request gives the same pixels."""

    mode: str
    image: np.ndarray | None = None  # (H, W, 3) uint8 RGB
    mask: np.ndarray | None = None  # (H, W) bool, True = regenerate (inpaint)
    extend: tuple[int, int, int, int] = (0, 0, 0, 0)  # outpaint: left, top, right, bottom in px
    label: int | None = None  # class id; None = no class (the null class)
    steps: int = 32
    cfg_scale: float = 3.0
    cfg_schedule: str = "constant"
    schedule: str = "arccos"
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    seed: int = 0
    variants: int = 1
    feather: int = 8  # px of blending outside the mask (inpaint)
    dilate: int = 0  # grow the token mask by this many tokens (inpaint)
    seam_first: bool = False  # decode tokens next to known content first
    expand_rope: str = "pi"  # "pi": interpolate every frequency; "ntk": extrapolate the highest ones
    expand_lock: float = 1.0  # expand: below a Gaussian of this many px keep the Lanczos 2x (0 = off)
    model: str = "embedded"
    preview: bool = False  # yield decoded partial images (costs one tokenizer decode per preview)
    preview_interval: float = 0.5  # s between previews

    def sampling(self) -> SamplingParams:
        return SamplingParams(
            num_steps=self.steps,
            schedule=self.schedule,
            cfg_scale=self.cfg_scale,
            cfg_schedule=self.cfg_schedule,
            temperature=self.temperature,
            top_k=self.top_k,
            top_p=self.top_p,
        )

    def validate(self) -> None:
        """Check the request's numbers, image and mask before a model is at hand; ``Engine.check`` adds the
        model's own bounds. Raises ValueError (``OptionError`` for a number out of range)."""
        check_options(self)
        check_inputs(self)

    def seeds(self) -> list[int]:
        return [(self.seed + i) % 2**63 for i in range(self.variants)]

    def record(self) -> dict:
        """The request without its pixels, for JSON."""
        d = {k: v for k, v in asdict(self).items() if k not in ("image", "mask")}
        d["extend"] = list(self.extend)
        if self.image is not None:
            d["image_size"] = [int(self.image.shape[1]), int(self.image.shape[0])]
        return d


@dataclass
class Progress:
    step: int  # steps done, over all windows
    total: int  # steps of the whole job, known before it starts
    window: int  # 0-based window being decoded
    windows: int
    elapsed: float
    eta: float
    preview: np.ndarray | None = None  # variant 0's canvas with the partial decode (H, W, 3) uint8


@dataclass
class EditResult:
    images: list[np.ndarray]
    seeds: list[int]
    orders: list[list[list[int]]]  # per variant, per window: grid positions in decoding order
    windows: list[Window]
    timings: dict[str, float]
    request: EditRequest
    extra: dict = field(default_factory=dict)

    def record(self) -> dict:
        h, w = self.images[0].shape[:2]
        return {
            "request": self.request.record(),
            "size": [w, h],
            "seeds": self.seeds,
            "windows": [asdict(x) for x in self.windows],
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            **self.extra,
        }


@dataclass
class _Job:
    """One window of an inpaint or outpaint, planned before anything runs."""

    window: Window
    write: np.ndarray  # (h, w) float: weight of generated pixels written back into the canvas
    unknown_px: np.ndarray  # (h, w) bool: pixels the encoder must not see
    unknown_tokens: np.ndarray  # (th, tw) bool at the model's scale


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
        int8_source=None,  # the ARPG weights file, for the int8 cache (arpg_core.int8_cache)
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

    # --- checks ----------------------------------------------------------------------------------------

    def check(self, r: EditRequest) -> None:
        """Raise ValueError naming the first problem with the request (see arpg_core.validate)."""
        cfg = self.arpg.cfg
        check_request(r, grid_side=self.side, vocab_size=cfg.vocab_size, num_classes=cfg.num_classes)

    # --- planning --------------------------------------------------------------------------------------

    def windows(self, r: EditRequest) -> list[Window]:
        """The windows a request will run, in order (for display before running)."""
        if r.mode == "inpaint":
            return inpaint_windows(r.mask.astype(bool), self.native)
        if r.mode == "outpaint":
            H, W = r.image.shape[:2]
            l, t, rr, b = r.extend
            return outpaint_windows((H + t + b, W + l + rr), (l, t, l + W, t + H), self.native)
        if r.mode == "expand":
            return expand_windows(r.image.shape[:2], self.native, self.patch)
        return [Window(0, 0, self.native, self.native)]

    def _inpaint_jobs(self, r: EditRequest) -> list[_Job]:
        labels, regions = inpaint_regions(r.mask.astype(bool), self.native)
        jobs = []
        for win, label in regions:
            ys, xs = win.slices()
            region = labels == label
            alpha = feather_alpha(region, r.feather)[ys, xs]
            jobs.append(_Job(win, alpha, region[ys, xs], self._work_tokens(region[ys, xs], win, r.dilate)))
        return jobs

    def _outpaint_jobs(self, r: EditRequest) -> tuple[list[_Job], tuple[int, int]]:
        H, W = r.image.shape[:2]
        l, t, rr, b = r.extend
        unknown = np.ones((H + t + b, W + l + rr), bool)
        unknown[t : t + H, l : l + W] = False
        jobs = []
        for win in self.windows(r):
            ys, xs = win.slices()
            here = unknown[ys, xs].copy()
            if not here.any():
                continue
            jobs.append(_Job(win, here.astype(np.float32), here, self._work_tokens(here, win, 0)))
            unknown[ys, xs] = False
        return jobs, unknown.shape

    def _work_tokens(self, unknown_px: np.ndarray, win: Window, dilate: int) -> np.ndarray:
        return token_mask(_resize_mask(unknown_px, win.work_size), self.patch, dilate)

    # --- running ---------------------------------------------------------------------------------------

    def edit(self, r: EditRequest) -> EditResult:
        """Run a request to the end without watching its progress (scripts, benchmarks)."""
        gen = self.run(r)
        while True:
            try:
                next(gen)
            except StopIteration as stop:
                return stop.value

    def run(self, r: EditRequest) -> Generator[Progress, None, EditResult]:
        self.check(r)
        t_start = time.perf_counter()
        choice = self.use_threads()
        self._rate = RecentRate(t_start)  # the ETA follows the recent steps (a slowdown shows at once)
        self._timings = {"encode": 0.0, "sample": 0.0, "decode": 0.0, "composite": 0.0, "preview": 0.0}
        generators = [torch.Generator().manual_seed(s) for s in r.seeds()]
        if r.mode in ("inpaint", "outpaint", "generate"):
            result = yield from self._run_windows(r, generators, t_start)
        else:
            result = yield from self._run_expand(r, generators, t_start)
        self._timings["total"] = time.perf_counter() - t_start
        result.timings = dict(self._timings)
        result.extra.update(choice.record())
        return result

    def use_threads(self) -> threads.ThreadChoice:
        """Decide the CPU threads for the next edit and set them in the calling thread (the worker's)."""
        choice = threads.resolve(self.parameters, **self.thread_overrides)
        if self.device.type == "cpu":
            threads.apply(choice)
        return choice

    def _run_windows(self, r: EditRequest, generators, t_start) -> Generator[Progress, None, EditResult]:
        B = r.variants
        if r.mode == "inpaint":
            jobs = self._inpaint_jobs(r)
            canvas = r.image
        elif r.mode == "outpaint":
            jobs, (H, W) = self._outpaint_jobs(r)
            l, t, _, _ = r.extend
            canvas = np.zeros((H, W, 3), np.uint8)
            canvas[t : t + r.image.shape[0], l : l + r.image.shape[1]] = r.image
        else:
            n = self.native
            canvas = np.full((n, n, 3), 127, np.uint8)
            full = np.ones((n, n), bool)
            jobs = [_Job(Window(0, 0, n, n), full.astype(np.float32), full, token_mask(full, self.patch))]
        canvases = [canvas.copy() for _ in range(B)]
        params = r.sampling()
        counts = [_num_steps(int(j.unknown_tokens.sum()), params) for j in jobs]
        total, done = sum(counts), 0
        orders: list[list[list[int]]] = [[] for _ in range(B)]
        last_preview = 0.0
        for wi, job in enumerate(jobs):
            win = job.window
            ys, xs = win.slices()
            crops = [c[ys, xs] for c in canvases]
            tokens, pad_hw = self._encode_window(crops, job.unknown_px, win)
            plan = plan_from_mask(tokens, job.unknown_tokens, self.side)
            self._paste = PasteDecoder.for_window(self.vq, plan.grid_hw, job.write, pad_hw, r.preview)
            steps = self._decode(plan, r, generators)
            for b in range(B):
                orders[b].append([])
            for step in steps:
                done += 1
                for b in range(B):
                    orders[b][-1].extend(step.positions[b].tolist())
                preview = None
                now = time.perf_counter()
                if r.preview and (now - last_preview >= r.preview_interval or done == total):
                    preview = self._preview(canvases[0], job, step, plan, pad_hw, jobs[wi + 1 :])
                    last_preview = time.perf_counter()
                yield self._progress(done, total, wi, len(jobs), t_start, preview)
            images = self._decode_window(step.grid, plan, pad_hw, win)
            t0 = time.perf_counter()
            for b in range(B):
                canvases[b][ys, xs] = composite(canvases[b][ys, xs], images[b], job.write)
            self._timings["composite"] += time.perf_counter() - t0
        return EditResult(canvases, r.seeds(), orders, [j.window for j in jobs], {}, r)

    def _run_expand(self, r: EditRequest, generators, t_start) -> Generator[Progress, None, EditResult]:
        B, p, side = r.variants, self.patch, self.side
        H, W = r.image.shape[:2]
        Hp, Wp = -(-H // p) * p, -(-W // p) * p
        source = np.pad(r.image, ((0, Hp - H), (0, Wp - W), (0, 0)), mode="edge")
        big = torch.full((B, 2 * Hp // p, 2 * Wp // p), -1, dtype=torch.long)  # the 2x token grid
        windows = self.windows(r)
        cfg = self.arpg.cfg
        extrapolate = 0 if r.expand_rope == "pi" else max(1, cfg.head_dim // 32)
        rope = rope_table(cfg.head_dim, cfg.rope_base, 2 * side, 2 * side, scale=0.5, extrapolate=extrapolate)
        params = r.sampling()
        # plan: how many positions each window leaves unknown, before running anything
        known = torch.zeros(big.shape[1:], dtype=torch.bool)
        known[::2, ::2] = True
        counts = []
        for win in windows:
            ys, xs = _token_slices(win, p, 2)
            counts.append(_num_steps(int((~known[ys, xs]).sum()), params))
            known[ys, xs] = True
        total, done = sum(counts), 0
        orders: list[list[list[int]]] = [[] for _ in range(B)]
        for wi, win in enumerate(windows):
            ys, xs = _token_slices(win, p, 2)
            t0 = time.perf_counter()
            with torch.inference_mode():
                src = _to_tensor(source[win.slices()][None], self.device)
                tokens = self.vq.encode(src).cpu().expand(B, -1, -1)  # (B, h, w)
            self._timings["encode"] += time.perf_counter() - t0
            plan = expand_plan(tokens, big[:, ys, xs], 2 * side)
            for b in range(B):
                orders[b].append([])
            if plan.unknown_pos.numel() == 0:
                continue
            for step in self._decode(plan, r, generators, rope=rope):
                done += 1
                for b in range(B):
                    orders[b][-1].extend(step.positions[b].tolist())
                yield self._progress(done, total, wi, len(windows), t_start, None)
            h2, w2 = plan.grid_hw
            big[:, ys, xs] = step.grid.view(B, 2 * side, 2 * side)[:, :h2, :w2].cpu()
        t0 = time.perf_counter()
        out = self._decode_tiled(big, windows)
        self._timings["decode"] += time.perf_counter() - t0
        images = [o[: 2 * H, : 2 * W] for o in out]
        if r.expand_lock > 0:
            baseline = lanczos_2x(r.image)
            images = [lock_low_band(o, baseline, r.expand_lock) for o in images]
        return EditResult(images, r.seeds(), orders, windows, {}, r, {"rope": r.expand_rope})

    # --- pieces ----------------------------------------------------------------------------------------

    def _decode(self, plan: DecodePlan, r: EditRequest, generators, rope=None):
        t0 = time.perf_counter()
        params = r.sampling()
        if r.seam_first:
            orders = torch.stack([seam_first_order(plan, g) for g in generators])
        else:
            orders = draw_orders(plan.unknown_pos, generators)
        labels = [r.label] * r.variants
        steps = decode(
            self.arpg,
            labels,
            generators,
            params,
            num_positions=plan.num_positions,
            known_pos=plan.known_pos,
            known_tokens=plan.known_tokens,
            orders=orders,
            rope=rope,
        )
        for step in steps:
            self._timings["sample"] += time.perf_counter() - t0
            yield step
            t0 = time.perf_counter()

    def _encode_window(self, crops: list[np.ndarray], unknown: np.ndarray, win: Window):
        """Crops of one window -> tokens (B, h, w) at the model's scale, and the padded pixel size."""
        t0 = time.perf_counter()
        ww, wh = win.work_size
        p = self.patch
        unknown_work = _resize_mask(unknown, (ww, wh))
        batch = []
        for c in crops:
            work = c if (ww, wh) == (c.shape[1], c.shape[0]) else cv2.resize(c, (ww, wh), interpolation=cv2.INTER_AREA)
            work = fill_unknown(work, unknown_work)
            hp, wp = -(-wh // p) * p, -(-ww // p) * p
            batch.append(np.pad(work, ((0, hp - wh), (0, wp - ww), (0, 0)), mode="edge"))
        with torch.inference_mode():
            tokens = self.vq.encode(_to_tensor(np.stack(batch), self.device)).cpu()
        self._timings["encode"] += time.perf_counter() - t0
        return tokens, (wh, ww)

    def _grid_images(self, grid: torch.Tensor, plan: DecodePlan, exact: bool = True) -> torch.Tensor:
        """Decode (B, side*side) token grids of a plan to float images (B, 3, h*p, w*p) in [-1, 1]."""
        h, w = plan.grid_hw
        B = grid.shape[0]
        codes = grid.view(B, plan.side, plan.side)[:, :h, :w].clamp(min=0)  # (B, h, w)
        with torch.inference_mode():
            return self._paste.decode(codes.to(self.device), exact=exact).float().cpu()

    def _decode_window(self, grid, plan, pad_hw, win: Window) -> list[np.ndarray]:
        t0 = time.perf_counter()
        imgs = _to_uint8(self._grid_images(grid, plan))
        wh, ww = pad_hw
        out = []
        for img in imgs:
            img = img[:wh, :ww]
            if (ww, wh) != (win.width, win.height):
                img = cv2.resize(img, (win.width, win.height), interpolation=cv2.INTER_LANCZOS4)
            out.append(img)
        self._timings["decode"] += time.perf_counter() - t0
        return out

    def _preview(self, canvas, job: _Job, step: StepResult, plan: DecodePlan, pad_hw, later: list[_Job]) -> np.ndarray:
        """Variant 0's canvas with the tokens decoded so far; positions still unknown, in this window and
        in the windows still to come, are shown neutral grey."""
        t0 = time.perf_counter()
        grid = step.grid[:1]
        img = _to_uint8(self._grid_images(grid, plan, exact=step.step == step.num_steps - 1))[0]
        h, w = plan.grid_hw
        p = self.patch
        pending = (grid.view(plan.side, plan.side)[:h, :w] < 0).numpy()
        pending_px = np.kron(pending, np.ones((p, p), bool))
        img[pending_px] = _neutral(img[pending_px])
        wh, ww = pad_hw
        img = img[:wh, :ww]
        win = job.window
        if (ww, wh) != (win.width, win.height):
            img = cv2.resize(img, (win.width, win.height), interpolation=cv2.INTER_LINEAR)
        out = canvas.copy()
        for other in later:
            oys, oxs = other.window.slices()
            out[oys, oxs] = composite(out[oys, oxs], _neutral(out[oys, oxs]), other.write)
        ys, xs = win.slices()
        out[ys, xs] = composite(out[ys, xs], img, job.write)
        self._timings["preview"] += time.perf_counter() - t0
        return out

    def _decode_tiled(self, big: torch.Tensor, windows: list[Window]) -> list[np.ndarray]:
        """Decode the 2x token grid window by window, blending overlaps with linear ramps."""
        B = big.shape[0]
        p = self.patch
        H2, W2 = big.shape[1] * p, big.shape[2] * p
        acc = np.zeros((B, H2, W2, 3), np.float64)
        weight = np.zeros((H2, W2), np.float64)
        for win in windows:
            ys, xs = _token_slices(win, p, 2)
            with torch.inference_mode():
                imgs = self.vq.decode(big[:, ys, xs].to(self.device)).float().cpu()  # (B, 3, h, w)
            arr = _to_uint8(imgs).astype(np.float64)
            h, w = arr.shape[1:3]
            ramp = _ramp(h, p)[:, None] * _ramp(w, p)[None, :]
            y0, x0 = ys.start * p, xs.start * p
            acc[:, y0 : y0 + h, x0 : x0 + w] += arr * ramp[None, :, :, None]
            weight[y0 : y0 + h, x0 : x0 + w] += ramp
        return [np.rint(a / weight[..., None]).clip(0, 255).astype(np.uint8) for a in acc]

    def _progress(self, done, total, wi, n_windows, t_start, preview) -> Progress:
        now = time.perf_counter()
        self._rate.step(now)
        return Progress(done, total, wi, n_windows, now - t_start, self._rate.eta(total - done), preview)


# --- helpers ---------------------------------------------------------------------------------------------


PRECISIONS = ("auto", "fp32", "bf16", "int8")


def resolve_precision(device: torch.device, precision: str = "auto", parameters: int = 0) -> str:
    """auto: bf16 on CUDA where supported. On the CPU, bf16 where this machine measured it clearly faster than
    fp32 for a model of ``parameters`` (arpg_core.calibrate: only CPUs with bf16 units, only models large
    enough for the weights' bandwidth to dominate), else fp32.

    int8 (dynamic quantization of the Linear layers) is the opt-in CPU "fast" mode.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        if device.type == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
        if device.type == "cpu" and parameters >= threads.SMALL_MODEL_PARAMETERS:
            from . import calibrate

            if calibrate.cpu_has_bf16():
                speed = calibrate.speed()
                return speed.faster_precision(parameters) if speed is not None else "fp32"
        return "fp32"
    if precision == "int8" and device.type != "cpu":
        raise ValueError("int8 (fast mode) runs on the CPU only")
    return precision


def _neutral(pixels: np.ndarray) -> np.ndarray:
    """Not decoded yet: a neutral grey that faintly shows what is underneath."""
    return (pixels // 4 + 96).astype(np.uint8)


def _num_steps(n_unknown: int, params: SamplingParams) -> int:
    return len(step_counts(n_unknown, params.num_steps, params.schedule)) if n_unknown else 0


def _resize_mask(mask: np.ndarray, size_wh: tuple[int, int]) -> np.ndarray:
    if (mask.shape[1], mask.shape[0]) == size_wh:
        return mask
    # area-resize then keep any touched pixel, so a thin stroke never vanishes when downscaled
    return cv2.resize(mask.astype(np.float32), size_wh, interpolation=cv2.INTER_AREA) > 0


def _token_slices(win: Window, patch: int, factor: int) -> tuple[slice, slice]:
    return (
        slice(factor * win.y0 // patch, factor * win.y1 // patch),
        slice(factor * win.x0 // patch, factor * win.x1 // patch),
    )


def _ramp(n: int, patch: int) -> np.ndarray:
    """Blend weights along one axis of a tile: rising over the outer quarter, never zero."""
    edge = max(1, n // 4)
    i = np.arange(n, dtype=np.float64)
    return np.minimum(1.0, (np.minimum(i, n - 1 - i) + 1) / edge)


def _to_tensor(images: np.ndarray, device) -> torch.Tensor:
    """(B, H, W, 3) uint8 -> (B, 3, H, W) float in [-1, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()
    return (x / 127.5 - 1.0).to(device)


def _to_uint8(images: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) float in [-1, 1] -> (B, H, W, 3) uint8, as the official sampler maps it."""
    x = (images * 127.5 + 128).clamp(0, 255).to(torch.uint8)
    return x.permute(0, 2, 3, 1).numpy()
