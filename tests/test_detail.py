"""The fine grain a tokenizer loses, put back into a fill from the known pixels around it."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from tiny import tiny_arpg, tiny_vq

from arpg_core.edit import detail
from arpg_core.edit.detail import transfer_detail
from arpg_core.edit.edits import feather_alpha
from arpg_core.edit.pipeline import Engine
from arpg_core.edit.requests import build_request
from arpg_core.training import metrics


def grass(h: int = 128, w: int = 128, seed: int = 0) -> np.ndarray:
    """A green field with a fine grain of its own (what a blurring decoder loses)."""
    rng = np.random.default_rng(seed)
    base = np.array([102.0, 149.0, 52.0]) + np.linspace(-10, 10, w)[None, :, None]
    return (base + rng.normal(0, 14, (h, w, 3))).clip(0, 255).astype(np.uint8)


def blurred(img: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(img, (0, 0), 1.5)  # a small tokenizer's decode, roughly


def box(h: int = 128, w: int = 128) -> np.ndarray:
    m = np.zeros((h, w), bool)
    m[32:96, 40:104] = True
    return m


def test_the_fill_gets_the_surroundings_grain_back_and_keeps_its_colour():
    src, m = grass(), box()
    dec = blurred(src)
    out = transfer_detail(dec, src, m)
    before, after = metrics.texture_ratio(dec, src, m), metrics.texture_ratio(out, src, m)
    assert before < 0.4 and 0.6 < after < 1.4
    assert metrics.mean_colour_error(out, dec, m) < 0.5  # the grain has no low band
    assert metrics.block_psnr(out[m].reshape(64, 64, 3), dec[m].reshape(64, 64, 3), 8) > 40
    assert np.array_equal(out[~m], dec[~m])  # only the fill changes


def test_off_or_nothing_to_take_from_changes_nothing():
    src, m = grass(), box()
    dec = blurred(src)
    assert transfer_detail(dec, src, m, strength=0.0) is dec
    everything = np.ones_like(m)
    assert transfer_detail(dec, src, everything) is dec  # no known pixel
    sliver = np.ones_like(m)
    sliver[:, :6] = False  # known pixels, but none a margin away from the fill
    assert transfer_detail(dec, src, sliver) is dec
    assert transfer_detail(dec, src, np.zeros_like(m)) is dec


def test_edges_the_decoder_blurred_do_not_come_back_as_false_edges():
    rng = np.random.default_rng(3)
    src = (128 + rng.normal(0, 3, (128, 128, 3))).clip(0, 255).astype(np.uint8)  # a plain wall with faint grain
    src[:, 20:23] = 250  # a bright pole the decoder smears
    m = box()
    dec = blurred(src)
    out = transfer_detail(dec, src, m)
    added = out.astype(int) - dec.astype(int)
    grain = src.astype(np.float32) - dec.astype(np.float32)
    grain -= cv2.GaussianBlur(grain, (0, 0), detail.HIGH_BAND)
    bound = detail.CLIP * np.median(np.abs(grain[~m]), axis=0).max()
    assert np.abs(added[m]).max() <= bound + 1  # the pole's 100+ levels are clipped to the wall's grain
    assert np.abs(added[m]).max() < 20


def test_a_patch_takes_the_grain_of_the_most_alike_known_patch():
    """Left half smooth sky, right half grassy; a fill whose decode looks like the right half gets grass grain."""
    rng = np.random.default_rng(5)
    sky = np.full((128, 64, 3), (90, 140, 220), np.float64) + rng.normal(0, 1, (128, 64, 3))
    field = grass(128, 64, seed=6).astype(np.float64)
    src = np.concatenate([sky, field], 1).clip(0, 255).astype(np.uint8)
    m = np.zeros((128, 128), bool)
    m[40:88, 84:120] = True  # in the grass
    dec = blurred(src)
    out = transfer_detail(dec, src, m)
    m_sky = np.zeros_like(m)
    m_sky[40:88, 8:44] = True  # in the sky: little grain to give
    out_sky = transfer_detail(dec, src, m_sky)
    # each fill gets about its own half's grain (the grass's is 2.6x the sky's: copied across, it would show)
    assert 0.6 < metrics.texture_ratio(out, src, m) < 1.4 and 0.6 < metrics.texture_ratio(out_sky, src, m_sky) < 1.4
    assert metrics.laplacian_std(out, m) > 2 * metrics.laplacian_std(out_sky, m_sky)


# --- the engine and the request ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def engine():
    return Engine(tiny_arpg(), tiny_vq(), class_names=list("abcde"), name="tiny")


@pytest.fixture
def small_patches(monkeypatch):
    """The tiny model's 16 px windows leave no 8 px patch a margin away from a fill: smaller patches, same code."""
    monkeypatch.setattr(detail, "PATCH", 4)
    monkeypatch.setattr(detail, "STRIDE", 2)
    monkeypatch.setattr(detail, "MARGIN", 1)


@pytest.mark.parametrize("mode", ["inpaint", "outpaint"])
def test_the_engine_adds_grain_only_where_it_generated(engine, mode, small_patches):
    src = grass(32, 32)
    m = np.zeros((32, 32), bool)
    m[13:19, 13:19] = True
    values = {"mask": m} if mode == "inpaint" else {"extend": (8, 0, 8, 0)}
    r = build_request(mode, image=src, num_steps=4, seed=2, **values)
    on, off = engine.edit(r), engine.edit(r.replace(detail=0.0))
    assert r.detail == 1.0 and on.request.record()["detail"] == 1.0
    a, b = on.images[0], off.images[0]
    assert not np.array_equal(a, b)
    if mode == "inpaint":
        changed = (a != b).any(axis=2)
        assert not changed[feather_alpha(m, r.feather) == 0].any()
    else:
        assert np.array_equal(a[:, 8:40], src) and np.array_equal(b[:, 8:40], src)
        assert not np.array_equal(a[:, :8], b[:, :8]) and not np.array_equal(a[:, 40:], b[:, 40:])


@pytest.mark.parametrize("bad", [-0.1, 2.5, float("nan"), True])
def test_detail_out_of_range_is_named(bad):
    r = build_request("inpaint", image=grass(16, 16), mask=box(16, 16) | True)
    with pytest.raises(ValueError, match="detail"):
        r.replace(detail=bad).validate()


def test_the_last_preview_is_the_result_with_its_grain(engine, small_patches):
    src = grass(32, 32)
    m = np.zeros((32, 32), bool)
    m[13:19, 13:19] = True
    r = build_request("inpaint", image=src, mask=m, num_steps=4, seed=2, preview=True, preview_interval=0)
    gen, previews = engine.run(r), []
    while True:
        try:
            previews.append(next(gen).preview)
        except StopIteration as stop:
            result = stop.value
            break
    assert np.array_equal(previews[-1], result.images[0])
    assert not np.array_equal(result.images[0], engine.edit(r.replace(detail=0.0)).images[0])


def test_a_small_pool_of_look_alikes_is_not_tiled_across_the_fill():
    """Every target of a 5 x 5 grid prefers the same two sources: each is pasted at most MAX_USES times, no two
    neighbours share one, and the targets left over get no grain rather than a repeat."""
    from arpg_core.edit.detail import _coherent_picks

    s = detail.STRIDE
    targets = [(y * s, x * s) for y in range(5) for x in range(5)]
    sources = [(100, 100), (100, 140), *[(200 + 8 * i, 0) for i in range(20)]]
    dist = np.full((len(targets), len(sources)), 1e6)
    dist[:, 0], dist[:, 1] = 1.0, 2.0  # the two look-alikes; the rest are poor matches
    picks = _coherent_picks(dist, targets, sources)
    used = [p for p in picks if p is not None]
    assert max(used.count(j) for j in set(used)) <= detail.MAX_USES
    grid = dict(zip(targets, picks))
    for (y, x), j in grid.items():
        for n in ((y - s, x), (y, x - s)):
            assert j is None or grid.get(n) != j


def test_a_downscaled_window_finds_its_grain_at_the_decodes_size(engine, monkeypatch):
    """At the canvas's size a large region's matching would cost hundreds of times more (a 4000 px photo's Fill
    took 47 s): the grain is found where the tokenizer lost it, at the decode's size, and resized up."""
    from arpg_core.edit import plans

    seen = []

    def spy(decoded, source, fill, period=16):
        seen.append((decoded.shape[:2], source.shape[:2], fill.shape, period))
        return np.full(decoded.shape, 3.0, np.float32)  # a flat +3: easy to find in the result

    monkeypatch.setattr(plans, "lost_grain", spy)
    src = grass(96, 96)
    m = np.zeros((96, 96), bool)
    m[20:76, 20:76] = True  # far larger than the tiny model's 16 px window: one window, downscaled
    r = build_request("inpaint", image=src, mask=m, num_steps=2, seed=1)
    plan = engine.plan(r)
    (win,) = plan.jobs
    assert win.scale < 1
    with_grain, without = engine.edit(r).images[0], engine.edit(r.replace(detail=0.0)).images[0]
    work = win.work_size[::-1]
    assert seen and all(s == (work, work, work, engine.patch) for s in seen)
    diff = with_grain.astype(int) - without.astype(int)
    assert np.abs(diff[m].mean() - 3) < 0.5 and not diff[~m].any()
