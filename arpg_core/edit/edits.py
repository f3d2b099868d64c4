"""Edits as pure functions on pixel masks, token grids and windows. Nothing here touches a model.

Conventions, stated once: images are (H, W, 3) uint8 RGB; masks are (H, W) bool with True meaning
"regenerate" (unknown); token grids are (h, w) int64; positions are row-major in the grid the model
sees. Inpaint, outpaint and expand differ only in the windows and the ``DecodePlan`` built here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import torch

# --- masks ---------------------------------------------------------------------------------------------


def token_mask(mask: np.ndarray, patch: int, dilate: int = 0) -> np.ndarray:
    """(H, W) pixel mask -> (ceil(H/p), ceil(W/p)) token mask: a token is unknown if its patch touches the mask.

    ``dilate`` grows the result by that many tokens (8-connected).
    """
    H, W = mask.shape
    h, w = -(-H // patch), -(-W // patch)
    padded = np.zeros((h * patch, w * patch), bool)
    padded[:H, :W] = mask
    tokens = padded.reshape(h, patch, w, patch).any(axis=(1, 3))  # (h, w)
    if dilate > 0:
        kernel = np.ones((2 * dilate + 1, 2 * dilate + 1), np.uint8)
        tokens = cv2.dilate(tokens.astype(np.uint8), kernel) > 0
    return tokens


def resize_mask(mask: np.ndarray, size_wh: tuple[int, int]) -> np.ndarray:
    """A bool mask at another size: area-resized, then any touched pixel kept, so a thin stroke never vanishes
    when downscaled."""
    if (mask.shape[1], mask.shape[0]) == size_wh:
        return mask
    return cv2.resize(mask.astype(np.float32), size_wh, interpolation=cv2.INTER_AREA) > 0


def feather_alpha(mask: np.ndarray, feather: int) -> np.ndarray:
    """Blend weight of generated pixels: 1 on the mask, falling linearly to 0 at ``feather`` px outside it.

    Every pixel farther than ``feather`` from the mask gets exactly 0, so it keeps the source bytes.
    """
    if not mask.any():
        return np.zeros(mask.shape, np.float32)
    if feather <= 0:
        return mask.astype(np.float32)
    dist = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 5)  # 0 on the mask
    return np.clip(1.0 - dist / (feather + 1), 0.0, 1.0).astype(np.float32)


def composite(source: np.ndarray, generated: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Blend ``generated`` into ``source`` by ``alpha`` (H, W); where alpha is 0 the source bytes are kept."""
    a = alpha[..., None]
    blend = np.rint(a * generated.astype(np.float32) + (1 - a) * source.astype(np.float32))
    return np.where(a > 0, blend.clip(0, 255).astype(np.uint8), source)


def fill_unknown(image: np.ndarray, unknown: np.ndarray) -> np.ndarray:
    """Fill unknown pixels from their surroundings (Telea) so the encoder never sees removed content."""
    if not unknown.any() or unknown.all():
        out = image.copy()
        out[unknown] = 127
        return out
    return cv2.inpaint(image, unknown.astype(np.uint8), 3, cv2.INPAINT_TELEA)


def lanczos_2x(image: np.ndarray) -> np.ndarray:
    """The classical 2x baseline: Lanczos-4 on (H, W, C) uint8."""
    h, w = image.shape[:2]
    return cv2.resize(image, (2 * w, 2 * h), interpolation=cv2.INTER_LANCZOS4)


def lock_low_band(generated: np.ndarray, baseline: np.ndarray, sigma: float) -> np.ndarray:
    """The fine detail of ``generated`` on the coarse content of ``baseline`` (same shape, uint8).

    Both are split at a Gaussian of ``sigma`` px: the result is blur(baseline) + generated - blur(generated).
    For 2x expansion the baseline is the Lanczos upscale, so colours and shapes stay the source's and the
    model only adds what the source cannot hold. ``sigma`` 0 returns ``generated`` unchanged.
    """
    if sigma <= 0:
        return generated
    g, b = generated.astype(np.float32), baseline.astype(np.float32)
    low = cv2.GaussianBlur(b, (0, 0), sigma) - cv2.GaussianBlur(g, (0, 0), sigma)
    return np.clip(np.rint(g + low), 0, 255).astype(np.uint8)


# Where no known pixel lies within a few sigma, the correction falls back smoothly to the window's mean
# (the weight of that mean, against the Gaussian sum of known pixels, which is about 0.5 at a straight edge).
_MEAN_WEIGHT = 1e-3
_SIGMA_PER_STEP = 8.0  # px: a Gaussian wider than this runs on a map reduced by sigma // this


def match_known_colour(decoded: np.ndarray, source: np.ndarray, known: np.ndarray, sigma: float) -> np.ndarray:
    """``decoded`` shifted by the tokenizer's colour error measured where the source is known.

    ``decoded`` is a window's full decode (known and generated pixels alike went through the tokenizer);
    ``source`` the window's pixels, valid where ``known`` (bool (H, W)). The error source - decoded on the
    known pixels is spread under a Gaussian of ``sigma`` px (a normalised convolution: only known pixels
    count) and added everywhere, so a fill next to grass takes back the green the decoder lost there, and
    the decode meets the source at the mask's edge. It shifts colours by the decoder's local error only: the
    generated detail stays. Far from every known pixel it is the window's mean error. ``sigma`` 0 or no
    known pixel returns ``decoded`` unchanged.
    """
    if sigma <= 0 or not known.any():
        return decoded
    d_img, s_img = decoded.astype(np.float32), source.astype(np.float32)
    w = known.astype(np.float32)
    err = (s_img - d_img) * w[..., None]  # (H, W, 3), 0 where unknown
    mean = err.reshape(-1, 3).sum(0) / w.sum()  # (3,)
    # The shift is smooth, so a wide Gaussian (a large window's) runs on a map reduced to keep it 8-16 px.
    H, W = known.shape
    f = max(1, int(sigma // _SIGMA_PER_STEP))
    if f > 1:
        small = (max(1, -(-W // f)), max(1, -(-H // f)))  # (w, h) for cv2
        err = cv2.resize(err, small, interpolation=cv2.INTER_AREA)  # (H/f, W/f, 3)
        w = cv2.resize(w, small, interpolation=cv2.INTER_AREA)  # (H/f, W/f)
    num = cv2.GaussianBlur(err, (0, 0), sigma / f, borderType=cv2.BORDER_REFLECT)
    den = cv2.GaussianBlur(w, (0, 0), sigma / f, borderType=cv2.BORDER_REFLECT)[..., None]  # (h, w, 1)
    shift = (num + _MEAN_WEIGHT * mean) / (den + _MEAN_WEIGHT)
    if f > 1:
        shift = cv2.resize(shift, (W, H), interpolation=cv2.INTER_LINEAR)  # (H, W, 3)
    return np.clip(np.rint(d_img + shift), 0, 255).astype(np.uint8)


# --- windows -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """A region of the canvas (x0, y0, x1, y1) edited in one decoding job, at ``scale`` model px per canvas px."""

    x0: int
    y0: int
    x1: int
    y1: int
    scale: float = 1.0

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    @property
    def work_size(self) -> tuple[int, int]:
        """(width, height) of the region as the model sees it."""
        return max(1, round(self.width * self.scale)), max(1, round(self.height * self.scale))

    def slices(self) -> tuple[slice, slice]:
        return slice(self.y0, self.y1), slice(self.x0, self.x1)


def _place(center: float, size: int, limit: int) -> int:
    """Start of a span of ``size`` centred on ``center`` and kept inside [0, limit)."""
    return int(min(max(0, round(center - size / 2)), max(0, limit - size)))


def inpaint_regions(mask: np.ndarray, native: int, context: float = 1.25) -> tuple[np.ndarray, list]:
    """One window per connected mask region (8-connected), largest first.

    A region that fits with ``context`` around it gets a native-size window centred on it, with as much context
    as fits. A larger region gets a square of ``context`` times its size, downscaled to the native size (the
    engine covers a thin one with native tiles instead: ``region_tiles``).
    Returns the label image (H, W) and a list of (Window, label) pairs.
    """
    H, W = mask.shape
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    order = sorted(
        range(1, count), key=lambda i: (-int(stats[i, cv2.CC_STAT_AREA]), int(stats[i, 1]), int(stats[i, 0]))
    )
    out = []
    for i in order:
        x, y, w, h, _area = (int(v) for v in stats[i])
        cx, cy = x + w / 2, y + h / 2
        if max(w, h) * context <= native:  # fits with context around it (a region as large as the window
            # would leave every token of the window unknown: a fill from nothing)
            ww, wh, scale = min(native, W), min(native, H), 1.0
        else:
            side = math.ceil(max(w, h) * context)
            ww, wh = min(side, W), min(side, H)
            scale = min(1.0, native / max(ww, wh))  # an image smaller than the window is not upscaled
        x0, y0 = _place(cx, ww, W), _place(cy, wh, H)
        out.append((Window(x0, y0, x0 + ww, y0 + wh, scale), i))
    return labels, out


def region_tiles(region: np.ndarray, native: int, scale: float = 1.0) -> list[Window]:
    """Tiles over a mask region and a quarter tile of context around it, overlapping by half, those that hold
    some of the region only; the ones with the most known pixels first. A tile is a native window (scale 1) or,
    with ``scale`` < 1, a square of about native / scale canvas px downscaled to the native size."""
    H, W = region.shape
    ys, xs = np.nonzero(region)
    side = max(native, int(native / scale))  # canvas px; the work size is native exactly
    c = side // 4
    y0, y1 = max(0, int(ys.min()) - c), min(H, int(ys.max()) + 1 + c)
    x0, x1 = max(0, int(xs.min()) - c), min(W, int(xs.max()) + 1 + c)
    th, tw = min(side, y1 - y0), min(side, x1 - x0)
    s = min(1.0, native / max(th, tw))
    tiles = []
    for y in tile_starts(y1 - y0, th, side // 2):
        for x in tile_starts(x1 - x0, tw, side // 2):
            win = Window(x0 + x, y0 + y, x0 + x + tw, y0 + y + th, s)
            share = float(region[win.slices()].mean())
            if share > 0:
                tiles.append((share, win.y0, win.x0, win))
    return [w for *_, w in sorted(tiles, key=lambda t: t[:3])]


def work_tokens(unknown_px: np.ndarray, win: Window, patch: int, dilate: int = 0) -> np.ndarray:
    """The tokens a window decodes: ``unknown_px`` (the window's pixels) at the model's scale, as a token mask."""
    return token_mask(resize_mask(unknown_px, win.work_size), patch, dilate)


def tile_scale(region: np.ndarray, win: Window, patch: int, radius_tokens: float, factor: float) -> float:
    """The scale of the tiles that should fill a region too large for one native window (``win``, downscaled),
    or 0 for that one window.

    Downscaling keeps a whole region in one view, which a large blob needs; but a thin region loses its
    resolution for nothing: every pixel of it has known pixels a token or two away, which a native tile holds
    at full resolution. Native tiles (1), then, for a region no more than ``radius_tokens`` tokens from the known
    pixels anywhere, or when downscaling would regenerate more than ``factor`` times the canvas area the tiles
    would (a long stroke across a large photo: a blur band many tokens wide). A thicker region is that thin at a
    smaller scale: tiles at that scale when it is at least ``factor`` times the window's (a 150 px stroke
    across a 4000 px photo: tiles downscaled about 2.3x, not one window downscaled 25x)."""
    ry, rx = np.nonzero(region)
    box = np.pad(region[ry.min() : ry.max() + 1, rx.min() : rx.max() + 1], 1)  # (h + 2, w + 2), known around
    radius = float(cv2.distanceTransform(box.astype(np.uint8), cv2.DIST_L2, 5).max())  # px to the nearest known
    if radius <= radius_tokens * patch:
        return 1.0
    ys, xs = win.slices()
    downscaled = int(work_tokens(region[ys, xs], win, patch).sum()) * (patch / win.scale) ** 2
    native = int(token_mask(box[1:-1, 1:-1], patch).sum()) * patch**2
    if downscaled > factor * native:
        return 1.0
    thin = radius_tokens * patch / radius  # the largest scale at which the region is that thin
    return thin if thin >= factor * win.scale else 0.0


def inpaint_windows(mask: np.ndarray, native: int) -> list[Window]:
    return [w for w, _ in inpaint_regions(mask, native)[1]]


def tile_starts(length: int, size: int, stride: int) -> list[int]:
    if length <= size:
        return [0]
    starts = [*range(0, length - size, stride), length - size]
    return sorted(set(starts))


def outpaint_windows(canvas_hw: tuple[int, int], original: tuple[int, int, int, int], native: int) -> list[Window]:
    """Native windows over the extended canvas, overlapping by half, nearest to the original first.

    ``original`` is (x0, y0, x1, y1) of the source inside the canvas. Windows that hold no new pixels are
    dropped; each later window is prefilled with everything earlier ones produced.
    """
    H, W = canvas_hw
    ox0, oy0, ox1, oy1 = original
    ww, wh = min(native, W), min(native, H)
    stride = max(1, native // 2)
    windows = []
    for y in tile_starts(H, wh, stride):
        for x in tile_starts(W, ww, stride):
            if ox0 <= x and oy0 <= y and x + ww <= ox1 and y + wh <= oy1:
                continue  # entirely original
            cx, cy = x + ww / 2, y + wh / 2
            dx = max(ox0 - cx, 0, cx - ox1)
            dy = max(oy0 - cy, 0, cy - oy1)
            windows.append((math.hypot(dx, dy), y, x, Window(x, y, x + ww, y + wh)))
    return [w for *_, w in sorted(windows, key=lambda t: t[:3])]


def window_interior(win: Window, canvas_hw: tuple[int, int], margin: int) -> np.ndarray:
    """(h, w) bool: the window less ``margin`` px along each side that is not the canvas's edge.

    A tokenizer renders a window's outermost pixels worst (its convolutions see padding there), so pixels
    near an inner side are better left to a neighbouring window, which has them in its interior."""
    H, W = canvas_hw
    inside = np.zeros((win.height, win.width), bool)
    top = 0 if win.y0 == 0 else margin
    left = 0 if win.x0 == 0 else margin
    bottom = win.height - (0 if win.y1 == H else margin)
    right = win.width - (0 if win.x1 == W else margin)
    inside[top:bottom, left:right] = True
    return inside


def outpaint_jobs(
    original: np.ndarray, windows: list[Window], margin: int, feather: int
) -> list[tuple[Window, np.ndarray, np.ndarray]]:
    """Which new pixels each outpaint window writes, in the windows' order: (window, write, unknown_px).

    ``original`` (H, W) bool marks the source's pixels, which no window writes. Each new pixel goes to the
    first window that has it in its interior (``window_interior``), or, where none has, to the first window
    that holds it. A window writes its own pixels with weight 1 and blends into the pixels earlier windows
    generated over ``feather`` px (never into the source, never within ``margin`` of an inner side), so
    neighbouring windows meet without a seam. ``unknown_px`` is every pixel of the window not generated
    before it (its own and those left to later windows): the encoder must not see them.
    """
    H, W = original.shape
    interiors = [window_interior(win, (H, W), margin) for win in windows]
    owner = np.full((H, W), -1, np.int64)  # the index of the window that generates each pixel
    for i, win in enumerate(windows):
        ys, xs = win.slices()
        free = (owner[ys, xs] < 0) & ~original[ys, xs] & interiors[i]
        owner[ys, xs][free] = i
    for i, win in enumerate(windows):  # pixels no interior holds: the first window that holds them
        ys, xs = win.slices()
        left = (owner[ys, xs] < 0) & ~original[ys, xs]
        owner[ys, xs][left] = i
    jobs = []
    for i, win in enumerate(windows):
        ys, xs = win.slices()
        own = owner[ys, xs] == i
        if not own.any():
            continue
        earlier = (owner[ys, xs] >= 0) & (owner[ys, xs] < i) & interiors[i]
        write = np.where(own, 1.0, np.where(earlier, feather_alpha(own, feather), 0.0)).astype(np.float32)
        jobs.append((win, write, owner[ys, xs] >= i))
    return jobs


def expand_windows(hw: tuple[int, int], native: int, patch: int) -> list[Window]:
    """Source windows for 2x expansion: native tiles overlapping by half, on the token grid."""
    H, W = hw
    Hp, Wp = -(-H // patch) * patch, -(-W // patch) * patch
    ww, wh = min(native, Wp), min(native, Hp)
    stride = max(patch, (native // 2) // patch * patch)
    return [Window(x, y, x + ww, y + wh) for y in tile_starts(Hp, wh, stride) for x in tile_starts(Wp, ww, stride)]


# --- decode plans --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DecodePlan:
    """What one decoding job needs: the grid, the known positions and tokens, the unknown positions.

    Positions index a ``side`` x ``side`` grid (the model's grid, or twice it for expansion); a window's
    own (h, w) grid sits at its top-left. ``known_tokens`` is (B, K): one row per variant.
    ``distance`` (N,) is each unknown position's distance in tokens to the nearest known one, for
    seam-first ordering.
    """

    side: int
    grid_hw: tuple[int, int]
    known_pos: torch.Tensor  # (K,)
    known_tokens: torch.Tensor  # (B, K)
    unknown_pos: torch.Tensor  # (N,)
    distance: torch.Tensor  # (N,)

    @property
    def num_positions(self) -> int:
        return self.side * self.side


def positions(rows: np.ndarray, cols: np.ndarray, side: int) -> torch.Tensor:
    return torch.from_numpy((rows * side + cols).astype(np.int64))


def plan_from_mask(tokens: torch.Tensor, unknown: np.ndarray, side: int) -> DecodePlan:
    """Inpaint and outpaint: ``tokens`` (B, h, w) of the window, ``unknown`` (h, w) bool token mask."""
    h, w = unknown.shape
    if h > side or w > side:
        raise ValueError(f"a {h}x{w} token window does not fit the model's {side}x{side} grid")
    kr, kc = np.nonzero(~unknown)
    ur, uc = np.nonzero(unknown)
    known_pos = positions(kr, kc, side)
    known_tokens = tokens[:, torch.from_numpy(kr), torch.from_numpy(kc)]  # (B, K)
    if len(kr):
        dist = cv2.distanceTransform(unknown.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[ur, uc]
    else:
        dist = np.zeros(len(ur), np.float32)
    return DecodePlan(side, (h, w), known_pos, known_tokens, positions(ur, uc, side), torch.from_numpy(dist))


def expand_plan(tokens: torch.Tensor, generated: torch.Tensor | None, side: int) -> DecodePlan:
    """2x expansion: source tokens (B, h, w) at the even positions of a (2h, 2w) grid in a ``side`` grid.

    ``generated`` (B, 2h, 2w) holds tokens already produced by overlapping windows (-1 elsewhere); they
    are known too.
    """
    B, h, w = tokens.shape
    grid = torch.full((B, 2 * h, 2 * w), -1, dtype=torch.long) if generated is None else generated.clone()
    grid[:, ::2, ::2] = tokens
    known = (grid[0] >= 0).numpy()
    plan = plan_from_mask(grid.clamp(min=0), ~known, side)
    return plan


def seam_first_order(plan: DecodePlan, generator: torch.Generator) -> torch.Tensor:
    """Unknown positions nearest the known content first, ties in random order."""
    jitter = torch.rand(plan.unknown_pos.numel(), generator=generator)
    return plan.unknown_pos[torch.argsort(plan.distance.float().floor() + jitter)]
