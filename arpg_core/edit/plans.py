"""Each mode's plan: its windows, the decode plan of each window, and how the decoded tokens become pixels.

``plan_for(request, codec)`` gives the plan of a request, planned before anything runs (its windows, steps and
placement are known at once, for display). The engine's one decoding loop (``arpg_core.edit.pipeline``) then asks
the plan, window by window: ``encode`` (the window's known tokens and the positions to decode, or None when
nothing is left to decode there), ``preview`` (variant 0's canvas so far) and ``end_window`` (the decoded
tokens back into pixels or into the larger grid); ``finish`` gives the variants' images.

Inpaint: one window per mask region (a downscaled one for a large blob, native tiles for a large thin region),
known tokens prefilled, the masked ones sampled, decoded, and feathered into the mask only. Outpaint: native
windows sliding out from the original, each prefilled with every token already known; each leaves the pixels
along its inner sides to a neighbour and blends into what earlier ones generated (``edits.outpaint_jobs``).
Generate: one native window from nothing. Expand: the source tokens at the even positions of a grid twice as
large, with a rotary table for that grid.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace

import cv2
import numpy as np
import torch

from arpg_core.edit.codec import Codec
from arpg_core.edit.detail import add_grain, lost_grain, transfer_detail
from arpg_core.edit.edits import (
    DecodePlan,
    Window,
    composite,
    expand_plan,
    expand_windows,
    feather_alpha,
    fill_unknown,
    inpaint_regions,
    lanczos_2x,
    lock_low_band,
    match_known_colour,
    outpaint_jobs,
    outpaint_windows,
    plan_from_mask,
    region_tiles,
    resize_mask,
    tile_scale,
    token_mask,
    work_tokens,
)
from arpg_core.edit.placement import EditResult, Placement
from arpg_core.edit.ranking import context_scores
from arpg_core.edit.requests import (
    EditRequest,
    ExpandRequest,
    GenerateRequest,
    InpaintRequest,
    OutpaintRequest,
    SamplingParams,
)
from arpg_core.nn.local_decode import PasteDecoder
from arpg_core.nn.model import rope_table
from arpg_core.nn.sampler import StepResult, step_counts

TIMINGS = ("encode", "sample", "decode", "composite", "preview", "rank")
# Outpaint: tokens along a window's inner sides that it leaves to its neighbours, and over which it blends
# into what they generated (edits.outpaint_jobs).
OUTPAINT_EDGE_TOKENS = 2
# Inpaint: a region too large for one native window is tiled at full resolution when it is thin (no pixel more
# than this many tokens from a known one) or when downscaling it would regenerate more than this many times the
# canvas area that the tiles would; a thicker one by tiles at the scale where it is that thin, when that is this
# many times the one window's (edits.tile_scale).
TILE_RADIUS_TOKENS = 2
TILE_FACTOR = 2.0


class Stats:
    """One run's timings, in seconds per stage (each run has its own)."""

    def __init__(self) -> None:
        self.timings = dict.fromkeys(TIMINGS, 0.0)

    @contextmanager
    def timed(self, stage: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.timings[stage] += time.perf_counter() - t0


class ModePlan:
    """What every mode's plan gives the engine (see the module's docstring)."""

    windows: list[Window]  # every window, in order (for display)
    jobs: list[Window]  # the windows that run
    counts: list[int]  # decoding steps of each job
    placement: Placement
    extra: dict

    def __init__(self, request: EditRequest, codec: Codec):
        self.request, self.codec = request, codec
        self.extra = {}

    def document_windows(self) -> list[tuple[float, float, float, float, float]]:
        """The windows in the source image's pixels, each with its token size there: x0, y0, x1, y1, px."""
        raise NotImplementedError

    def rope(self, cfg) -> torch.Tensor | None:
        return None  # the model's own grid

    def sampling(self, i: int) -> SamplingParams:
        """How job ``i``'s tokens are drawn: the request's, unless the plan shares its steps out."""
        return self.request.sampling

    def begin(self, variants: int) -> None:
        raise NotImplementedError

    def encode(self, i: int, stats: Stats) -> DecodePlan | None:
        raise NotImplementedError

    def preview(self, i: int, step: StepResult, plan: DecodePlan, stats: Stats) -> np.ndarray | None:
        return None

    def end_window(self, i: int, step: StepResult, plan: DecodePlan, stats: Stats) -> None:
        raise NotImplementedError

    def finish(self, stats: Stats) -> list[np.ndarray]:
        raise NotImplementedError

    @property
    def samples(self) -> int:
        """Variants to decode: a fill in one window decodes all its candidates, to keep the best; an edit of several
        windows only the variants asked for. Ranking whole canvases of windows sampled one by one bought no colour
        on a 90 px stroke in 11 tiles and cost the candidates' time in every window (docs/ranking.md)."""
        r = self.request
        return r.samples if len(self.jobs) == 1 and self.placement.source is not None else r.variants

    def fit(self, images: list[np.ndarray]) -> list[float] | None:
        """How well each variant fits what was known (lower is better), to keep the best; None: no ranking."""
        return None


@dataclass
class _Job:
    """One window of an inpaint, outpaint or generate, planned before anything runs."""

    window: Window
    write: np.ndarray  # (h, w) float: weight of generated pixels written back into the canvas
    unknown_px: np.ndarray  # (h, w) bool: pixels the encoder must not see
    unknown_tokens: np.ndarray  # (th, tw) bool at the model's scale
    steps: int | None = None  # decoding steps when not the request's (a tile of a region: its share)


class _CanvasPlan(ModePlan):
    """Windows decoded one after another into a canvas, each composited in before the next is encoded."""

    def __init__(self, request, codec, canvas: np.ndarray, jobs: list[_Job], windows: list[Window], placement):
        super().__init__(request, codec)
        self.canvas, self._jobs, self.windows, self.placement = canvas, jobs, windows, placement
        # px: inpaint's and outpaint's (the edits next to known pixels); the other modes have none
        self.colour_match = getattr(request, "colour_match", 0.0)
        self.detail = getattr(request, "detail", 0.0)
        self.jobs = [j.window for j in jobs]
        self.counts = [_num_steps(int(j.unknown_tokens.sum()), self.sampling(i)) for i, j in enumerate(jobs)]
        self._pad_hw = (0, 0)

    def begin(self, variants: int) -> None:
        self.canvases = [self.canvas.copy() for _ in range(variants)]

    def encode(self, i: int, stats: Stats) -> DecodePlan:
        job, codec = self._jobs[i], self.codec
        win = job.window
        ys, xs = win.slices()
        with stats.timed("encode"):
            ww, wh = win.work_size
            p = codec.patch
            unknown_work = resize_mask(job.unknown_px, (ww, wh))
            batch = []
            for c in self.canvases:
                c = c[ys, xs]
                work = (
                    c if (ww, wh) == (c.shape[1], c.shape[0]) else cv2.resize(c, (ww, wh), interpolation=cv2.INTER_AREA)
                )
                work = fill_unknown(work, unknown_work)
                hp, wp = -(-wh // p) * p, -(-ww // p) * p
                batch.append(np.pad(work, ((0, hp - wh), (0, wp - ww), (0, 0)), mode="edge"))
            if all(np.array_equal(batch[0], b) for b in batch[1:]):  # nothing decoded here yet: one encode for all
                tokens = codec.encode(batch[0][None]).expand(len(batch), -1, -1)
            else:
                tokens = codec.encode(np.stack(batch))
        self._pad_hw = (wh, ww)
        plan = plan_from_mask(tokens, job.unknown_tokens, codec.side)
        self._paste = PasteDecoder.for_window(codec.vq, plan.grid_hw, job.write, (wh, ww), self.request.preview)
        return plan

    def preview(self, i: int, step: StepResult, plan: DecodePlan, stats: Stats) -> np.ndarray:
        """Variant 0's canvas with the tokens decoded so far; positions still unknown, in this window and in the
        windows still to come, are shown neutral grey."""
        with stats.timed("preview"):
            job, p = self._jobs[i], self.codec.patch
            grid = step.grid[:1]
            last = step.step == step.num_steps - 1  # exact, and reused by the final decode
            img = self.codec.grid_images(grid, plan, self._paste, exact=last)[0]
            h, w = plan.grid_hw
            pending = (grid.view(plan.side, plan.side)[:h, :w] < 0).numpy()
            pending_px = np.kron(pending, np.ones((p, p), bool))
            img[pending_px] = _neutral(img[pending_px])
            wh, ww = self._pad_hw
            img, pending_px = img[:wh, :ww], pending_px[:wh, :ww]
            win = job.window
            if (ww, wh) != (win.width, win.height):  # the last step as the result is resized, the others faster
                interpolation = cv2.INTER_LANCZOS4 if last else cv2.INTER_LINEAR
                img = cv2.resize(img, (win.width, win.height), interpolation=interpolation)
                pending_px = resize_mask(pending_px, (win.width, win.height))
            img = self._match(img, job, self.canvases[0], pending_px)
            if last:  # the result's own grain (the other steps show the decode: it is cheap to watch)
                img = self._with_grain(img, job, self.canvases[0])
            out = self.canvases[0].copy()
            for other in self._jobs[i + 1 :]:
                oys, oxs = other.window.slices()
                out[oys, oxs] = composite(out[oys, oxs], _neutral(out[oys, oxs]), other.write)
            ys, xs = win.slices()
            out[ys, xs] = composite(out[ys, xs], img, job.write)
        return out

    def end_window(self, i: int, step: StepResult, plan: DecodePlan, stats: Stats) -> None:
        job = self._jobs[i]
        win = job.window
        with stats.timed("decode"):
            wh, ww = self._pad_hw
            images = []
            for img in self.codec.grid_images(step.grid, plan, self._paste):
                img = img[:wh, :ww]
                if (ww, wh) != (win.width, win.height):
                    img = cv2.resize(img, (win.width, win.height), interpolation=cv2.INTER_LANCZOS4)
                images.append(img)
        with stats.timed("composite"):
            ys, xs = win.slices()
            for canvas, img in zip(self.canvases, images):
                img = self._with_grain(self._match(img, job, canvas), job, canvas)
                canvas[ys, xs] = composite(canvas[ys, xs], img, job.write)

    def finish(self, stats: Stats) -> list[np.ndarray]:
        return self.canvases

    def fit(self, images: list[np.ndarray]) -> list[float] | None:
        """Each variant's new pixels against a classical fill of them, in their low band (half the coarsest
        token), when there are more candidates than variants; generate (nothing known) never ranks."""
        if len(images) <= self.request.variants or self.placement.source is None:
            return None
        edited = np.zeros(self.canvas.shape[:2], bool)  # the pixels wholly generated, not a feather's blend
        for j in self._jobs:
            edited[j.window.slices()] |= j.write >= 1
        sigma = max(self.codec.patch / j.window.scale for j in self._jobs) / 2
        return context_scores(images, self.canvas, edited, sigma)

    def sampling(self, i: int) -> SamplingParams:
        steps = self._jobs[i].steps
        return self.request.sampling if steps is None else replace(self.request.sampling, num_steps=steps)

    def _with_grain(self, img: np.ndarray, job: _Job, canvas: np.ndarray) -> np.ndarray:
        """The window's matched decode ``img`` with the fine grain the tokenizer lost restored (``detail``). It is
        found at the decode's own size, where it was lost: a downscaled window's is found there and resized up with
        the decode (at the canvas's size it would cost hundreds of times more and add nothing the decode had)."""
        win, (ww, wh) = job.window, job.window.work_size
        source = canvas[win.slices()]
        if self.detail <= 0 or (ww, wh) == (win.width, win.height):
            return transfer_detail(img, source, job.unknown_px, self.detail, self.codec.patch)

        def small(a):
            return cv2.resize(a, (ww, wh), interpolation=cv2.INTER_AREA)

        grain = lost_grain(small(img), small(source), resize_mask(job.unknown_px, (ww, wh)), self.codec.patch)
        if grain is None:
            return img
        grain = cv2.resize(grain, (win.width, win.height), interpolation=cv2.INTER_LINEAR)  # (h, w, 3)
        return add_grain(img, grain, job.unknown_px, self.detail)

    def _match(self, img: np.ndarray, job: _Job, canvas: np.ndarray, pending: np.ndarray | None = None) -> np.ndarray:
        """The window's decode ``img`` corrected by its colour error on the known pixels (``colour_match``);
        ``pending``: pixels of a preview not decoded yet, which tell nothing."""
        if self.colour_match <= 0:
            return img
        known = ~job.unknown_px if pending is None else ~job.unknown_px & ~pending
        ys, xs = job.window.slices()
        return match_known_colour(img, canvas[ys, xs], known, self.colour_match / job.window.scale)


class InpaintPlan(_CanvasPlan):
    def __init__(self, r: InpaintRequest, codec: Codec):
        mask = r.mask.astype(bool)
        labels, regions = inpaint_regions(mask, codec.native)
        jobs = []
        for win, label in regions:
            region = labels == label
            scale = tile_scale(region, win, codec.patch, TILE_RADIUS_TOKENS, TILE_FACTOR) if win.scale < 1 else 0
            if scale:
                jobs += _tiled_jobs(region, r, codec, scale)
                continue
            ys, xs = win.slices()
            alpha = feather_alpha(region, r.feather)[ys, xs]
            jobs.append(_Job(win, alpha, region[ys, xs], work_tokens(region[ys, xs], win, codec.patch, r.dilate)))
        H, W = r.image.shape[:2]
        windows = [j.window for j in jobs]
        super().__init__(r, codec, r.image, jobs, windows, Placement((W, H), (W, H), masked=True))

    def document_windows(self):
        return [(w.x0, w.y0, w.x1, w.y1, self.codec.patch / w.scale) for w in self.windows]


class OutpaintPlan(_CanvasPlan):
    def __init__(self, r: OutpaintRequest, codec: Codec):
        H, W = r.image.shape[:2]
        l, t, rr, b = r.extend
        size_hw = (H + t + b, W + l + rr)
        windows = outpaint_windows(size_hw, (l, t, l + W, t + H), codec.native)
        original = np.zeros(size_hw, bool)
        original[t : t + H, l : l + W] = True
        edge = OUTPAINT_EDGE_TOKENS * codec.patch  # px: a window's inner sides, left to its neighbours
        jobs = [
            _Job(win, write, unknown, work_tokens(unknown, win, codec.patch, 0))
            for win, write, unknown in outpaint_jobs(original, windows, edge, edge)
        ]
        canvas = np.zeros((*size_hw, 3), np.uint8)
        canvas[t : t + H, l : l + W] = r.image
        placement = Placement((size_hw[1], size_hw[0]), (W, H), offset=(l, t))
        super().__init__(r, codec, canvas, jobs, windows, placement)

    def document_windows(self):
        (l, t), p = self.placement.offset, float(self.codec.patch)
        return [(w.x0 - l, w.y0 - t, w.x1 - l, w.y1 - t, p) for w in self.windows]


class GeneratePlan(_CanvasPlan):
    def __init__(self, r: GenerateRequest, codec: Codec):
        n = codec.native
        full = np.ones((n, n), bool)
        window = Window(0, 0, n, n)
        job = _Job(window, full.astype(np.float32), full, token_mask(full, codec.patch))
        canvas = np.full((n, n, 3), 127, np.uint8)
        super().__init__(r, codec, canvas, [job], [window], Placement((n, n), None))

    def document_windows(self):
        return [(w.x0, w.y0, w.x1, w.y1, self.codec.patch / w.scale) for w in self.windows]


class ExpandPlan(ModePlan):
    """Source windows at the even positions of a token grid twice as large; the 2x grid is decoded at the end,
    window by window, the overlaps blended."""

    def __init__(self, r: ExpandRequest, codec: Codec):
        super().__init__(r, codec)
        p = codec.patch
        H, W = r.image.shape[:2]
        Hp, Wp = -(-H // p) * p, -(-W // p) * p
        self.source = np.pad(r.image, ((0, Hp - H), (0, Wp - W), (0, 0)), mode="edge")
        self.grid_hw = (2 * Hp // p, 2 * Wp // p)
        self.windows = self.jobs = expand_windows((H, W), codec.native, p)
        known = torch.zeros(self.grid_hw, dtype=torch.bool)  # how many positions each window leaves unknown
        known[::2, ::2] = True
        self.counts = []
        for win in self.windows:
            ys, xs = _token_slices(win, p, 2)
            self.counts.append(_num_steps(int((~known[ys, xs]).sum()), r.sampling))
            known[ys, xs] = True
        self.placement = Placement((2 * W, 2 * H), (W, H), scale=2)
        self.extra = {"rope": r.expand_rope}

    def document_windows(self):
        return [(w.x0, w.y0, w.x1, w.y1, self.codec.patch / 2) for w in self.windows]

    def rope(self, cfg) -> torch.Tensor:
        side = self.codec.side
        extrapolate = 0 if self.request.expand_rope == "pi" else max(1, cfg.head_dim // 32)
        return rope_table(cfg.head_dim, cfg.rope_base, 2 * side, 2 * side, scale=0.5, extrapolate=extrapolate)

    def begin(self, variants: int) -> None:
        self.big = torch.full((variants, *self.grid_hw), -1, dtype=torch.long)  # the 2x token grid

    def encode(self, i: int, stats: Stats) -> DecodePlan | None:
        win, B = self.windows[i], self.big.shape[0]
        ys, xs = _token_slices(win, self.codec.patch, 2)
        with stats.timed("encode"):
            tokens = self.codec.encode(self.source[win.slices()][None]).expand(B, -1, -1)  # (B, h, w)
        plan = expand_plan(tokens, self.big[:, ys, xs], 2 * self.codec.side)
        return plan if plan.unknown_pos.numel() else None

    def end_window(self, i: int, step: StepResult, plan: DecodePlan, stats: Stats) -> None:
        ys, xs = _token_slices(self.windows[i], self.codec.patch, 2)
        h2, w2 = plan.grid_hw
        B, side = self.big.shape[0], 2 * self.codec.side
        self.big[:, ys, xs] = step.grid.view(B, side, side)[:, :h2, :w2].cpu()

    def finish(self, stats: Stats) -> list[np.ndarray]:
        r = self.request
        with stats.timed("decode"):
            out = self._decode_tiled()
        H, W = r.image.shape[:2]
        images = [o[: 2 * H, : 2 * W] for o in out]
        if r.expand_lock > 0:
            baseline = lanczos_2x(r.image)
            images = [lock_low_band(o, baseline, r.expand_lock) for o in images]
        return images

    def _decode_tiled(self) -> list[np.ndarray]:
        """Decode the 2x token grid window by window, blending overlaps with linear ramps."""
        big, p = self.big, self.codec.patch
        B, H2, W2 = big.shape[0], big.shape[1] * p, big.shape[2] * p
        acc = np.zeros((B, H2, W2, 3), np.float64)
        weight = np.zeros((H2, W2), np.float64)
        for win in self.windows:
            ys, xs = _token_slices(win, p, 2)
            arr = self.codec.decode(big[:, ys, xs]).astype(np.float64)
            h, w = arr.shape[1:3]
            ramp = _ramp(h)[:, None] * _ramp(w)[None, :]
            y0, x0 = ys.start * p, xs.start * p
            acc[:, y0 : y0 + h, x0 : x0 + w] += arr * ramp[None, :, :, None]
            weight[y0 : y0 + h, x0 : x0 + w] += ramp
        return [np.rint(a / weight[..., None]).clip(0, 255).astype(np.uint8) for a in acc]


PLANS: dict[type, type[ModePlan]] = {
    InpaintRequest: InpaintPlan,
    OutpaintRequest: OutpaintPlan,
    ExpandRequest: ExpandPlan,
    GenerateRequest: GeneratePlan,
}


def plan_for(request: EditRequest, codec: Codec) -> ModePlan:
    """The plan of a checked request."""
    return PLANS[type(request)](request, codec)


def lanczos_result(image: np.ndarray) -> EditResult:
    """The Lanczos 2x of an image as a result placed like an expansion (the baseline to compare with)."""
    H, W = image.shape[:2]
    return EditResult([lanczos_2x(image)], Placement((2 * W, 2 * H), (W, H), scale=2), extra={"baseline": True})


# --- helpers ---------------------------------------------------------------------------------------------


def _neutral(pixels: np.ndarray) -> np.ndarray:
    """Not decoded yet: a neutral grey that faintly shows what is underneath."""
    return (pixels // 4 + 96).astype(np.uint8)


def _num_steps(n_unknown: int, params: SamplingParams) -> int:
    return len(step_counts(n_unknown, params.num_steps, params.schedule)) if n_unknown else 0


def _tiled_jobs(region: np.ndarray, r: InpaintRequest, codec: Codec, scale: float) -> list[_Job]:
    """A region covered by tiles at ``scale`` (``edits.region_tiles``), which share it as outpaint windows share
    new pixels (``edits.outpaint_jobs``); each also feathers into the known pixels next to its own."""
    tiles = region_tiles(region, codec.native, scale)
    edge = round(OUTPAINT_EDGE_TOKENS * codec.patch / tiles[0].scale)  # canvas px: two of the tiles' tokens
    # a tile owns pixels this far from its inner sides, so the feather around them stays inside it (a quarter
    # tile at most: the tiles overlap by half, so every pixel is still that far inside one of them)
    margin = max(edge, min(r.feather + 1, min(tiles[0].width, tiles[0].height) // 4))
    jobs = []
    for tile, write, unknown in outpaint_jobs(~region, tiles, margin, edge):
        band = feather_alpha(write == 1, r.feather) * ~region[tile.slices()]
        write = np.maximum(write, band).astype(np.float32)
        tokens = work_tokens(unknown, tile, codec.patch, r.dilate)
        # the region's steps shared out by unknown tokens: a tile decodes as many tokens per step as a whole
        # window would at the request's steps, so a region costs about what its tokens would in one window
        steps = max(1, math.ceil(r.sampling.num_steps * int(tokens.sum()) / codec.side**2))
        jobs.append(_Job(tile, write, unknown, tokens, steps))
    return jobs


def _token_slices(win: Window, patch: int, factor: int) -> tuple[slice, slice]:
    return (
        slice(factor * win.y0 // patch, factor * win.y1 // patch),
        slice(factor * win.x0 // patch, factor * win.x1 // patch),
    )


def _ramp(n: int) -> np.ndarray:
    """Blend weights along one axis of a tile: rising over the outer quarter, never zero."""
    edge = max(1, n // 4)
    i = np.arange(n, dtype=np.float64)
    return np.minimum(1.0, (np.minimum(i, n - 1 - i) + 1) / edge)
