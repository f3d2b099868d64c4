"""The engine end to end on tiny random models: geometry, bit-identical pixels, replay, errors."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest
import torch
from tiny import tiny_arpg, tiny_vq

from arpg_core.edit.edits import feather_alpha, lanczos_2x, lock_low_band
from arpg_core.edit.pipeline import Engine
from arpg_core.edit.requests import build_request


@pytest.fixture(scope="module")
def engine():
    return Engine(tiny_arpg(), tiny_vq(), class_names=list("abcde"), name="tiny")


def run(engine, request):
    gen = engine.run(request)
    progress = []
    while True:
        try:
            progress.append(next(gen))
        except StopIteration as stop:
            return progress, stop.value


def photo(h, w, seed=0):
    rng = np.random.default_rng(seed)
    base = np.linspace(0, 255, w)[None, :, None] * np.ones((h, 1, 3)) * [1.0, 0.6, 0.3]
    return (base + rng.normal(0, 12, (h, w, 3))).clip(0, 255).astype(np.uint8)


def test_inpaint_keeps_pixels_outside_the_feathered_mask(engine):
    img = photo(70, 90)  # larger than the 16 px window, so several windows run
    mask = np.zeros((70, 90), bool)
    mask[5:9, 5:12] = True  # small region
    mask[40:66, 30:80] = True  # a region larger than the window: downscaled
    mask[20, 60] = True  # a single pixel
    req = build_request("inpaint", image=img, mask=mask, num_steps=4, variants=2, feather=3, seed=7)
    progress, result = run(engine, req)
    alpha = feather_alpha(mask, 3)
    assert len(result.images) == 2 and len(result.windows) == 3
    for out in result.images:
        assert out.shape == img.shape
        assert np.array_equal(out[alpha == 0], img[alpha == 0])
        assert (out[mask] != img[mask]).any()
    assert result.seeds == [7, 8]
    assert [p.step for p in progress] == list(range(1, progress[-1].total + 1))


@pytest.mark.parametrize("mode", ["inpaint", "outpaint"])
def test_colour_match_shifts_only_the_fill_and_zero_turns_it_off(engine, mode):
    img = photo(32, 32)
    mask = np.zeros((32, 32), bool)
    mask[12:20, 12:20] = True  # its window (16 px, the tiny model's) has known pixels around it
    values = dict(image=img, mask=mask, extend=(0, 0, 16, 0), num_steps=4, seed=5, feather=2)
    raw = run(engine, build_request(mode, colour_match=0.0, **values))[1].images[0]
    matched = run(engine, build_request(mode, **values))[1].images[0]  # the default is on
    changed = np.abs(raw.astype(int) - matched.astype(int)).max(-1) > 0
    assert changed.any()
    if mode == "inpaint":
        assert not changed[feather_alpha(mask, 2) == 0].any()
    else:
        assert not changed[:, :32].any()
    with pytest.raises(ValueError, match="colour_match"):
        engine.check(build_request(mode, colour_match=-1.0, **values))


def test_a_thin_stroke_across_the_image_is_tiled_at_full_resolution(engine):
    """Downscaling a long thin stroke's whole box regenerates a blur band many times the stroke's area; native
    tiles regenerate the tokens the stroke touches, and the pixels past the feather still stay the source's."""
    img = photo(48, 96)
    mask = np.zeros((48, 96), bool)
    for x in range(4, 92):
        y = 6 + x * 36 // 92
        mask[y : y + 2, x] = True  # a 2 px line, diagonal across the image
    req = build_request(
        "inpaint", image=img, mask=mask, num_steps=3, feather=2, seed=4, preview=True, preview_interval=0
    )
    progress, result = run(engine, req)
    out = result.images[0]
    assert len(result.windows) > 2 and all(w.scale == 1.0 for w in result.windows)
    assert np.array_equal(out[feather_alpha(mask, 2) == 0], img[feather_alpha(mask, 2) == 0])
    assert (out[mask] != img[mask]).any()
    assert np.array_equal(progress[-1].preview, out)
    # the region's steps are shared out by unknown tokens: each tile decodes as many tokens per step as a whole
    # window would at the request's steps, so the stroke costs far fewer steps than a full run per tile
    plan = engine.plan(req.replace(num_steps=8))
    side2 = engine.codec.side**2
    for i, count in enumerate(plan.counts):
        tokens = int(plan._jobs[i].unknown_tokens.sum())
        assert plan.sampling(i).num_steps == max(1, -(-8 * tokens // side2)) and count <= 8
    assert sum(plan.counts) < 8 * len(plan.counts) and progress[-1].total == sum(engine.plan(req).counts)
    compact = np.zeros((48, 96), bool)
    compact[8:40, 20:60] = True  # a block: downscaled into one window as before
    assert [w.scale < 1 for w in run(engine, req.replace(mask=compact))[1].windows] == [True]


def test_a_thick_stroke_is_tiled_at_an_intermediate_scale(engine):
    """A stroke too thick for native tiles but far thinner than its box: tiles downscaled about 3x, not one
    window downscaled 8x; the pixels past the feather stay the source's."""
    img = photo(128, 128, seed=2)
    mask = np.zeros((128, 128), np.uint8)
    cv2.line(mask, (4, 8), (123, 119), 1, 24)
    mask = mask.astype(bool)
    result = run(engine, build_request("inpaint", image=img, mask=mask, num_steps=3, feather=2, seed=1))[1]
    out = result.images[0]
    assert len(result.windows) > 2 and all(0.25 <= w.scale < 0.5 for w in result.windows)
    assert np.array_equal(out[feather_alpha(mask, 2) == 0], img[feather_alpha(mask, 2) == 0])
    assert (out[mask] != img[mask]).any()


@pytest.mark.parametrize("feather", [4, 12, 16])
def test_a_tiled_regions_tiles_together_feather_it_whole(feather):
    """Native 64 px tiles of 4 px tokens over a 3 px line: every known pixel gets at least the feather's weight
    of the generated ones, also where tiles meet, for feathers up to a quarter tile (16 px)."""
    from types import SimpleNamespace

    from arpg_core.edit.plans import _tiled_jobs

    codec = SimpleNamespace(native=64, patch=4, side=16)
    line = np.zeros((200, 400), np.uint8)
    cv2.line(line, (10, 20), (390, 180), 1, 3)
    region = line.astype(bool)
    request = build_request("inpaint", image=np.zeros((200, 400, 3), np.uint8), mask=region, feather=feather)
    kept = np.ones(region.shape)  # the share of each pixel that stays the source's after every tile
    jobs = _tiled_jobs(region, request, codec, 1.0)
    for job in jobs:
        kept[job.window.slices()] *= 1 - job.write
    assert len(jobs) > 4
    assert (1 - kept >= feather_alpha(region, feather) - 1e-6).all()
    assert (kept[feather_alpha(region, feather) == 0] == 1).all()  # and nothing past it


def test_same_request_same_pixels_other_seed_other_pixels(engine):
    img = photo(32, 32)
    mask = np.zeros((32, 32), bool)
    mask[8:24, 8:24] = True
    req = build_request("inpaint", image=img, mask=mask, num_steps=4, seed=3)
    a = run(engine, req)[1].images[0]
    b = run(engine, req)[1].images[0]
    c = run(engine, dataclasses.replace(req, seed=4))[1].images[0]
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("extend", [(8, 0, 0, 0), (0, 5, 0, 11), (4, 4, 4, 4), (0, 0, 64, 0)])
def test_outpaint_size_and_original_untouched(engine, extend):
    img = photo(20, 24)
    l, t, r, b = extend
    _, result = run(engine, build_request("outpaint", image=img, extend=extend, num_steps=3, variants=2))
    for out in result.images:
        assert out.shape == (20 + t + b, 24 + l + r, 3)
        assert np.array_equal(out[t : t + 20, l : l + 24], img)


def test_outpaint_seam_first(engine):
    img = photo(16, 16)
    _, result = run(engine, build_request("outpaint", image=img, extend=(0, 0, 16, 0), num_steps=3, seam_first=True))
    assert result.images[0].shape == (16, 32, 3)


@pytest.mark.parametrize(("hw", "rope"), [((16, 16), "ntk"), ((16, 16), "pi"), ((13, 21), "ntk"), ((40, 24), "ntk")])
def test_expand_is_exactly_twice_the_size(engine, hw, rope):
    img = photo(*hw)
    _, result = run(engine, build_request("expand", image=img, num_steps=4, expand_rope=rope))
    assert result.images[0].shape == (2 * hw[0], 2 * hw[1], 3)


def test_expand_lock_keeps_the_lanczos_low_band_of_the_same_sample(engine):
    img = photo(24, 40, seed=3)
    _, raw = run(engine, build_request("expand", image=img, num_steps=4, seed=9, expand_lock=0.0))
    _, locked = run(engine, build_request("expand", image=img, num_steps=4, seed=9, expand_lock=1.5))
    expected = lock_low_band(raw.images[0], lanczos_2x(img), 1.5)
    assert np.array_equal(locked.images[0], expected)
    assert not np.array_equal(locked.images[0], raw.images[0])
    with pytest.raises(ValueError, match="expand_lock"):
        engine.check(build_request("expand", image=img, expand_lock=-1.0))


def test_generate(engine):
    progress, result = run(engine, build_request("generate", label=2, num_steps=6, variants=2))
    assert [im.shape for im in result.images] == [(16, 16, 3)] * 2
    assert progress[-1].step == progress[-1].total == 6


def test_preview_only_when_asked(engine):
    img = photo(16, 16)
    mask = np.ones((16, 16), bool)
    quiet, _ = run(engine, build_request("inpaint", image=img, mask=mask, num_steps=4))
    assert all(p.preview is None for p in quiet)
    loud, result = run(
        engine, build_request("inpaint", image=img, mask=mask, num_steps=4, preview=True, preview_interval=0)
    )
    assert all(p.preview is not None and p.preview.shape == img.shape for p in loud)
    assert np.array_equal(loud[-1].preview, result.images[0])


@pytest.mark.parametrize("box", [(4, 12), (6, 60)])  # inside one window; a region downscaled into one
def test_the_last_preview_is_the_result_with_the_colour_match(engine, box):
    img = photo(64, 64)
    mask = np.zeros((64, 64), bool)
    mask[box[0] : box[1], box[0] : box[1]] = True
    request = build_request("inpaint", image=img, mask=mask, num_steps=4, preview=True, preview_interval=0)
    assert request.colour_match > 0
    progress, result = run(engine, request)
    assert np.array_equal(progress[-1].preview, result.images[0])


def test_preview_shows_every_region_still_to_decode_as_neutral(engine):
    img = photo(40, 64)
    mask = np.zeros((40, 64), bool)
    mask[4:12, 4:12] = True  # two regions far enough apart for two windows of the tiny model
    mask[28:36, 50:58] = True
    progress, result = run(
        engine, build_request("inpaint", image=img, mask=mask, num_steps=4, feather=0, preview=True, preview_interval=0)
    )
    assert len(result.windows) == 2 and progress[0].window == 0
    first = progress[0].preview
    second = result.windows[1]
    regions = [(slice(4, 12), slice(4, 12)), (slice(28, 36), slice(50, 58))]
    later = next(r for r in regions if second.x0 <= r[1].start and r[1].stop <= second.x1)
    assert np.array_equal(first[later], (img[later] // 4 + 96).astype(np.uint8))  # the later region: neutral
    assert np.array_equal(first[~mask], img[~mask])  # the rest: the source


def test_cancel_leaves_inputs_untouched(engine):
    img = photo(40, 40)
    mask = np.zeros((40, 40), bool)
    mask[10:30, 10:30] = True
    before_img, before_mask = img.copy(), mask.copy()
    gen = engine.run(build_request("inpaint", image=img, mask=mask, num_steps=8, variants=2))
    next(gen)
    next(gen)
    gen.close()
    assert np.array_equal(img, before_img) and np.array_equal(mask, before_mask)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (dict(mask=np.zeros((10, 10), bool)), "the mask is 10x10 but the image is 24x20"),
        (dict(mask=np.zeros((20, 24), bool)), "the mask is empty"),
        (dict(num_steps=0), "steps must be a whole number between 1 and 1024, got 0"),
        (dict(label=9), "class 9 is outside 0..4"),
        (dict(variants=0), "variants must be a whole number between 1 and 16, got 0"),
        (dict(mode="outpaint", extend=(0, 0, 0, 0)), "nothing to extend"),
        (dict(mode="outpaint", extend=(-3, 0, 5, 0)), "the left extension must be a whole number between 0 and 8192"),
        (dict(mode="paint"), "unknown mode"),
        (dict(image=np.zeros((20, 24), np.uint8)), "uint8 RGB"),
    ],
)
def test_bad_requests_are_named(engine, changes, message):
    mask = np.zeros((20, 24), bool)
    mask[2:5, 2:5] = True
    values = {"mode": "inpaint", "image": photo(20, 24), "mask": mask, **changes}
    with pytest.raises(ValueError, match=message):  # some when built (the sampling), the rest when checked
        engine.check(build_request(**values))


def test_result_record_is_json(engine):
    import json

    _, result = run(engine, build_request("generate", num_steps=2))
    record = json.loads(json.dumps(result.record()))
    assert record["size"] == [16, 16] and record["request"]["mode"] == "generate"
    assert set(record["timings"]) >= {"encode", "sample", "decode", "total"}


@pytest.mark.parametrize("precision", ["int8", "bf16"])
def test_other_precisions_edit_too(precision):
    engine = Engine(tiny_arpg(), tiny_vq(), class_names=list("abcde"), precision=precision)
    assert engine.precision == precision
    img = photo(24, 24)
    mask = np.zeros((24, 24), bool)
    mask[4:12, 4:12] = True
    _, result = run(engine, build_request("inpaint", image=img, mask=mask, num_steps=3, feather=2))
    keep = feather_alpha(mask, 2) == 0
    assert np.array_equal(result.images[0][keep], img[keep])


def test_precision_rules():
    import torch

    from arpg_core.edit.pipeline import resolve_precision

    assert resolve_precision(torch.device("cpu")) == "fp32"
    with pytest.raises(ValueError, match="CPU only"):
        resolve_precision(torch.device("cuda"), "int8")
    with pytest.raises(ValueError, match="unknown precision"):
        resolve_precision(torch.device("cpu"), "fp8")


def test_edit_runs_to_the_same_result_as_watching_the_steps(engine):
    request = build_request("inpaint", image=photo(20, 24), mask=np.ones((20, 24), bool), num_steps=4, seed=3)
    _, watched = run(engine, request)
    assert np.array_equal(engine.edit(request).images[0], watched.images[0])


def test_no_class_edit_is_the_same_with_and_without_guidance(engine):
    """Class none: cfg 3 runs only the conditional rows (sampler), so the pixels equal cfg 1's."""
    seen = []
    hook = engine.arpg.layers.register_forward_hook(lambda mod, args, out: seen.append(out.shape[0]))
    try:
        img = photo(32, 32)
        mask = np.zeros((32, 32), bool)
        mask[4:20, 6:22] = True
        base = build_request("inpaint", image=img, mask=mask, label=None, num_steps=4, seed=3, variants=2)
        a = engine.edit(base)
        b = engine.edit(base.replace(cfg_scale=1.0))
    finally:
        hook.remove()
    assert set(seen) == {2}
    for x, y in zip(a.images, b.images):
        assert np.array_equal(x, y)


def test_each_run_has_its_own_stats(engine):
    """Timings belong to the run: a second run, even interleaved with the first, never adds to its figures."""
    img = photo(32, 32)
    mask = np.zeros((32, 32), bool)
    mask[8:24, 8:24] = True
    first = engine.run(build_request("inpaint", image=img, mask=mask, num_steps=4))
    next(first)
    second = engine.edit(build_request("generate", num_steps=2))
    while True:
        try:
            next(first)
        except StopIteration as stop:
            a = stop.value
            break
    assert a.timings is not second.timings
    assert a.timings["composite"] > 0 and second.timings["composite"] > 0
    assert a.windows != second.windows and len(a.orders[0]) == len(a.windows)
    assert not hasattr(engine, "_timings")
    again = engine.edit(build_request("generate", num_steps=2))
    assert again.timings["sample"] <= again.timings["total"] and again.timings is not second.timings


def test_a_plan_is_checked_once_and_runs_as_its_request_would(engine):
    img = photo(20, 24)
    mask = np.zeros((20, 24), bool)
    mask[2:9, 3:12] = True
    request = build_request("inpaint", image=img, mask=mask, num_steps=3, seed=2)
    plan = engine.plan(request)
    assert plan.request is request and sum(plan.counts) > 0 and plan.windows == engine.windows(request)
    calls = []
    original = engine.check
    engine.check = lambda r: calls.append(r) or original(r)
    try:
        from_plan = engine.edit(plan)
    finally:
        del engine.check
    assert calls == []  # a plan was checked when it was made
    assert np.array_equal(from_plan.images[0], engine.edit(request).images[0])
    with pytest.raises(ValueError, match="the mask is empty"):
        engine.plan(request.replace(mask=np.zeros((20, 24), bool)))


def test_fast_modes_decode_in_bf16_within_a_few_levels_of_fp32(monkeypatch):
    """int8 and bf16 engines decode in bf16 where the hardware has bf16 units: the pasted pixels stay within a few
    8-bit levels of the fp32 decode (measured on the embedded tokenizer: mean 0.3, max 9). fp32 never does."""
    from arpg_core.weights import calibrate
    from arpg_core.weights.registry import load_engine

    monkeypatch.setattr(calibrate, "cpu_has_bf16", lambda: True)  # the same path on any CPU (slower without units)
    fast = load_engine("embedded", precision="int8")
    exact = load_engine("embedded", precision="fp32")
    assert fast.codec.bf16_decode and not exact.codec.bf16_decode
    monkeypatch.setattr(calibrate, "cpu_has_bf16", lambda: False)
    assert not load_engine("embedded", precision="int8").codec.bf16_decode  # no units: fp32 is faster there
    codes = torch.randint(0, exact.vq.cfg.codebook_size, (2, 16, 16), generator=torch.Generator().manual_seed(0))
    a = exact.codec.decode(codes).astype(int)
    b = fast.codec.decode(codes).astype(int)
    assert not np.array_equal(a, b)  # it did run in bf16
    assert np.abs(a - b).mean() < 1.0 and np.abs(a - b).max() <= 24
