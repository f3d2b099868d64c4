"""Masks, windows, plans and compositing: pure functions, table-driven."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from arpg_core.edit.edits import (
    Window,
    composite,
    expand_plan,
    expand_windows,
    feather_alpha,
    inpaint_regions,
    inpaint_windows,
    lock_low_band,
    match_known_colour,
    outpaint_jobs,
    outpaint_windows,
    plan_from_mask,
    region_tiles,
    seam_first_order,
    tile_scale,
    tile_starts,
    token_mask,
)


def _mask(h, w, *boxes):
    m = np.zeros((h, w), bool)
    for y0, x0, y1, x1 in boxes:
        m[y0:y1, x0:x1] = True
    return m


@pytest.mark.parametrize(
    ("shape", "box", "patch", "dilate", "expected_tokens"),
    [
        ((32, 32), (0, 0, 1, 1), 16, 0, {(0, 0)}),
        ((32, 32), (15, 15, 17, 17), 16, 0, {(0, 0), (0, 1), (1, 0), (1, 1)}),
        ((32, 32), (16, 16, 32, 32), 16, 0, {(1, 1)}),
        ((30, 20), (29, 19, 30, 20), 16, 0, {(1, 1)}),  # partial patch at the border
        ((64, 64), (20, 20, 21, 21), 16, 1, {(r, c) for r in range(3) for c in range(3)}),
    ],
)
def test_token_mask(shape, box, patch, dilate, expected_tokens):
    tokens = token_mask(_mask(*shape, box), patch, dilate)
    assert tokens.shape == (-(-shape[0] // patch), -(-shape[1] // patch))
    assert {tuple(x) for x in np.argwhere(tokens)} == expected_tokens


def test_feather_is_exactly_zero_beyond_the_band():
    mask = _mask(50, 50, (20, 20, 30, 30))
    alpha = feather_alpha(mask, 5)
    assert (alpha[mask] == 1).all()
    assert alpha[20, 14] == 0 and alpha[20, 15] > 0  # 5 px left of the mask: still blended; 6 px: untouched
    assert alpha[20, 25 - 11] == 0
    assert (feather_alpha(mask, 0) == mask).all()


def test_composite_keeps_source_bytes_where_alpha_is_zero():
    rng = np.random.default_rng(0)
    src = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
    gen = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
    alpha = feather_alpha(_mask(40, 40, (10, 10, 20, 20)), 4)
    out = composite(src, gen, alpha)
    assert np.array_equal(out[alpha == 0], src[alpha == 0])
    assert np.array_equal(out[alpha == 1], gen[alpha == 1])


@pytest.mark.parametrize(
    ("hw", "boxes", "native", "expected"),
    [
        # small region in a large image: a native window centred on it
        ((512, 512), [(200, 200, 220, 240)], 128, [Window(156, 146, 284, 274)]),
        # near the corner: clamped inside the image
        ((512, 512), [(0, 0, 10, 10)], 128, [Window(0, 0, 128, 128)]),
        # image smaller than the window: the whole image
        ((100, 80), [(40, 30, 60, 50)], 128, [Window(0, 0, 80, 100)]),
        # a region larger than the window: 1.25x context, downscaled to the native size
        ((600, 600), [(100, 100, 300, 300)], 128, [Window(75, 75, 325, 325, 128 / 250)]),
        # a region nearly as large as the window: downscaled too, or no token of the window would be known
        ((512, 512), [(200, 200, 320, 320)], 128, [Window(185, 185, 335, 335, 128 / 150)]),
        # ... but an image smaller than the window is never upscaled
        ((120, 120), [(5, 5, 115, 115)], 128, [Window(0, 0, 120, 120)]),
        # two regions, largest first
        (
            (512, 512),
            [(10, 10, 20, 20), (300, 300, 350, 350)],
            128,
            [Window(261, 261, 389, 389), Window(0, 0, 128, 128)],
        ),
    ],
)
def test_inpaint_windows(hw, boxes, native, expected):
    assert inpaint_windows(_mask(*hw, *boxes), native) == expected


@pytest.mark.parametrize(
    ("length", "size", "stride", "expected"),
    [(100, 128, 64, [0]), (128, 128, 64, [0]), (256, 128, 64, [0, 64, 128]), (200, 128, 64, [0, 64, 72])],
)
def test_tile_starts(length, size, stride, expected):
    assert tile_starts(length, size, stride) == expected


def test_outpaint_windows_cover_the_new_area_nearest_first():
    # 128x128 original extended to 512 wide (left 128, right 256)
    windows = outpaint_windows((128, 512), (128, 0, 256, 128), 128)
    covered = np.zeros((128, 512), bool)
    for w in windows:
        covered[w.slices()] = True
    assert covered.all()
    assert Window(128, 0, 256, 128) not in windows  # the original alone is never a window
    centres = [abs((w.x0 + w.x1) / 2 - 192) for w in windows]
    assert centres == sorted(centres)  # sliding outwards


def test_outpaint_windows_all_four_sides():
    windows = outpaint_windows((256, 256), (64, 64, 192, 192), 128)
    covered = np.zeros((256, 256), bool)
    for w in windows:
        covered[w.slices()] = True
    assert covered.all()


@pytest.mark.parametrize(("hw", "n"), [((128, 128), 1), ((100, 60), 1), ((256, 128), 3), ((300, 300), 16)])
def test_expand_windows_tile_the_padded_image(hw, n):
    windows = expand_windows(hw, 128, 8)
    assert len(windows) == n
    Hp, Wp = -(-hw[0] // 8) * 8, -(-hw[1] // 8) * 8
    covered = np.zeros((Hp, Wp), bool)
    for w in windows:
        assert w.x0 % 8 == 0 and w.y0 % 8 == 0
        covered[w.slices()] = True
    assert covered.all()


def test_plan_from_mask_positions_in_the_model_grid():
    tokens = torch.arange(12).view(1, 3, 4)  # a 3x4 window in a 16x16 grid
    unknown = np.zeros((3, 4), bool)
    unknown[1, 2] = unknown[2, 3] = True
    plan = plan_from_mask(tokens, unknown, side=16)
    assert plan.unknown_pos.tolist() == [1 * 16 + 2, 2 * 16 + 3]
    assert plan.known_pos.numel() == 10 and plan.known_tokens.shape == (1, 10)
    assert plan.known_tokens[0, plan.known_pos.tolist().index(16 + 1)] == 5  # token (1, 1)
    assert plan.distance.tolist() == [1.0, 1.0]


def test_expand_plan_dilated_layout():
    tokens = torch.arange(4).view(1, 2, 2)
    plan = expand_plan(tokens, None, side=8)
    assert plan.grid_hw == (4, 4)
    assert sorted(plan.known_pos.tolist()) == [0, 2, 16, 18]
    assert plan.unknown_pos.numel() == 12


def test_seam_first_order_goes_outward():
    tokens = torch.zeros(1, 8, 8, dtype=torch.long)
    unknown = np.zeros((8, 8), bool)
    unknown[:, 4:] = True  # right half unknown
    plan = plan_from_mask(tokens, unknown, side=8)
    order = seam_first_order(plan, torch.Generator().manual_seed(0))
    cols = (order % 8).tolist()
    assert cols[:8] == [4] * 8 and cols[-8:] == [7] * 8


def test_lock_low_band_splits_coarse_from_fine():
    import cv2

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:64, 0:64]
    smooth = np.stack([x * 3, y * 3, (x + y) * 2], -1).astype(np.uint8)  # coarse content only
    detail = rng.integers(-40, 40, (64, 64, 3))
    generated = np.clip(128 + detail, 0, 255).astype(np.uint8)  # fine content around a flat grey
    assert lock_low_band(generated, smooth, 0) is generated
    assert np.array_equal(lock_low_band(smooth, smooth, 2.0), smooth)
    out = lock_low_band(generated, smooth, 2.0).astype(np.float32)

    def blur(a):
        return cv2.GaussianBlur(a.astype(np.float32), (0, 0), 4.0)

    inner = (slice(8, -8), slice(8, -8), slice(None))  # away from clipping at the gradient's ends
    assert np.abs(blur(out) - blur(smooth))[inner].mean() < 2.0  # the coarse picture is the baseline's
    fine_out, fine_gen = out - blur(out), generated - blur(generated)
    assert np.corrcoef(fine_out[inner].ravel(), fine_gen[inner].ravel())[0, 1] > 0.9  # the detail is kept


def test_match_known_colour_takes_the_decoders_error_on_known_pixels_into_the_fill():
    rng = np.random.default_rng(1)
    source = np.clip(rng.normal(120, 20, (64, 64, 3)), 0, 255).astype(np.uint8)
    known = ~_mask(64, 64, (16, 16, 48, 48))
    drift = np.array([-20, 30, 10])  # the decoder's colour error, the same everywhere
    decoded = np.clip(source.astype(int) + drift, 0, 255).astype(np.uint8)
    decoded[~known] = np.clip(decoded[~known].astype(int) + rng.integers(-30, 30, decoded[~known].shape), 0, 255)
    assert match_known_colour(decoded, source, known, 0) is decoded
    assert match_known_colour(decoded, source, np.zeros_like(known), 8.0) is decoded  # nothing known
    out = match_known_colour(decoded, source, known, 8.0).astype(int)
    shift = out - decoded.astype(int)
    inside = ~known & (decoded > 40).all(-1) & (decoded < 215).all(-1)  # away from clipping
    assert np.abs(shift[inside] + drift).max() <= 1  # the fill loses the drift, also 16 px from every known pixel
    assert np.abs(out[known] - source[known].astype(int)).max() <= 1  # the decode meets the source


def test_match_known_colour_follows_a_local_error_and_is_smooth():
    source = np.full((48, 96, 3), 100, np.uint8)
    known = np.ones((48, 96), bool)
    known[:, 40:56] = False  # a strip between two known halves
    decoded = source.copy()
    decoded[:, :48] += 20  # the decoder drifts on the left only
    out = match_known_colour(decoded, source, known, 6.0).astype(int)
    assert abs(out[24, 10, 0] - 100) <= 1 and abs(out[24, 86, 0] - 100) <= 1
    shift = out[24, 30:66, 0] - decoded[24, 30:66, 0]
    assert shift[0] == -20 and shift[-1] == 0
    assert np.abs(np.diff(shift)).max() <= 3  # no step: the shift blends from one side's error to the other's


def test_match_known_colour_with_a_wide_gaussian_runs_reduced_and_agrees_with_the_full_size():
    import cv2

    rng = np.random.default_rng(2)
    source = np.clip(rng.normal(128, 30, (200, 256, 3)), 0, 255).astype(np.uint8)
    y, x = np.mgrid[0:200, 0:256]
    drift = np.stack([x / 8, -y / 10, (x - y) / 16], -1)  # a smooth error across the window
    decoded = np.clip(np.rint(source + drift), 0, 255).astype(np.uint8)
    known = ~_mask(200, 256, (50, 60, 150, 200))
    sigma = 40.0
    out = match_known_colour(decoded, source, known, sigma).astype(np.float32)
    w = known.astype(np.float32)
    err = (source.astype(np.float32) - decoded) * w[..., None]
    full = cv2.GaussianBlur(err, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    full /= cv2.GaussianBlur(w, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)[..., None] + 1e-3
    expected = np.clip(decoded + full, 0, 255)
    assert np.abs(out - expected).mean() < 1.0 and np.abs(out - expected).max() < 4.0


@pytest.mark.parametrize("extend", [(40, 0, 0, 0), (24, 8, 40, 56), (8, 8, 8, 8)])
def test_outpaint_jobs_write_every_new_pixel_once_and_never_the_source(extend):
    l, t, r, b = extend
    H, W = 40 + t + b, 48 + l + r
    original = np.zeros((H, W), bool)
    original[t : t + 40, l : l + 48] = True
    windows = outpaint_windows((H, W), (l, t, l + 48, t + 40), 32)
    jobs = outpaint_jobs(original, windows, margin=4, feather=4)
    full = np.zeros((H, W), int)  # how many windows write each pixel with weight 1
    seen = np.zeros((H, W), bool)  # pixels written by some window already
    for win, write, unknown in jobs:
        ys, xs = win.slices()
        assert not (write[original[ys, xs]] > 0).any()  # the source is never written
        own = write == 1
        assert own.any() and np.array_equal(unknown & own, own)  # its own pixels are hidden from the encoder
        assert not (unknown & seen[ys, xs]).any()  # what earlier windows wrote is known
        blend = (write > 0) & ~own
        assert seen[ys, xs][blend].all()  # it blends only into pixels already generated
        full[ys, xs] += own
        seen[ys, xs] |= own
    assert np.array_equal(full, (~original).astype(int))


def test_outpaint_jobs_leave_a_windows_inner_sides_to_its_neighbours():
    original = np.zeros((32, 96), bool)
    original[:, 64:] = True  # extend 64 px to the left, two windows of 32 px side by side and one between
    windows = outpaint_windows((32, 96), (64, 0, 96, 32), 32)
    jobs = outpaint_jobs(original, windows, margin=4, feather=4)
    for win, write, _ in jobs:
        own = write == 1
        cols = np.nonzero(own.any(0))[0] + win.x0
        if win.x0 > 0:
            assert cols.min() >= win.x0 + 4  # not its left side: a neighbour has those pixels inside
        if win.x1 < 96 and cols.max() < 64:
            assert cols.max() < win.x1 - 4
    # with no margin every pixel goes to the first window that holds it, with a hard edge (the old layout)
    hard = outpaint_jobs(original, windows, margin=0, feather=0)
    assert all(set(np.unique(write)) <= {0.0, 1.0} for _, write, _ in hard)


def test_region_tiles_cover_the_region_most_known_first():
    region = np.zeros((100, 300), bool)
    region[50:53, 20:280] = True  # a thin line
    region[10:40, 130:160] = True  # and a blob above its middle
    tiles = region_tiles(region, 64)
    assert all(w.width == 64 and w.height == 64 and w.scale == 1.0 for w in tiles)
    covered = np.zeros_like(region)
    shares = []
    for w in tiles:
        covered[w.slices()] = True
        shares.append(region[w.slices()].mean())
    assert covered[region].all()  # every pixel of the region is in some tile
    assert shares == sorted(shares) and all(s > 0 for s in shares)  # tiles without any of it are left out


def _stroke(h, w, thickness):
    m = np.zeros((h, w), np.uint8)
    cv2.line(m, (4, 8), (w - 5, h - 9), 1, thickness)
    return m.astype(bool)


def test_a_thick_stroke_is_tiled_at_the_scale_where_it_is_thin():
    """Native 16 px windows of 2 px tokens. A 24 px stroke corner to corner of a 128 px image: one window would
    downscale it 8x; every pixel is within 12 px of a known one, two tokens at scale 4/12, so tiles at 1/3."""
    mask = _stroke(128, 128, 24)
    labels, [(win, label)] = inpaint_regions(mask, 16)
    region = labels == label
    scale = tile_scale(region, win, 2, 2, 2.0)
    radius = cv2.distanceTransform(np.pad(region, 1).astype(np.uint8), cv2.DIST_L2, 5).max()
    assert win.scale == 0.125 and scale == pytest.approx(2 * 2 / radius) and 0.25 <= scale < 1
    tiles = region_tiles(region, 16, scale)
    assert all(t.work_size == (16, 16) and t.scale == pytest.approx(16 / t.width) for t in tiles)
    assert all(abs(t.scale - scale) < 0.05 for t in tiles)  # canvas px are whole: about the asked scale
    covered = np.zeros_like(region)
    for t in tiles:
        covered[t.slices()] = True
    assert covered[region].all()
    assert tile_scale(region, win, 2, 2, 4.0) == 0  # at 4x the window's scale or more only: one window
    assert tile_scale(_mask(128, 128, (20, 20, 108, 108)), win, 2, 2, 2.0) == 0  # a blob: one window
