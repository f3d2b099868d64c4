"""Candidates ranked by how well they fit their context: the score, and the engine keeping the best."""

from __future__ import annotations

import numpy as np
import pytest
from tiny import tiny_arpg, tiny_vq

from arpg_core.edit.edits import feather_alpha
from arpg_core.edit.pipeline import Engine
from arpg_core.edit.ranking import best_first, context_scores
from arpg_core.edit.requests import build_request
from arpg_core.validate import OptionError

GRASS, SOIL = (102, 149, 52), (111, 92, 51)  # the grass, and the brown the old tokenizer filled it with


def field(h: int, w: int, colour, seed: int = 0, noise: float = 10.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (np.array(colour, float) + rng.normal(0, noise, (h, w, 3))).clip(0, 255).astype(np.uint8)


def box(h: int, w: int, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    m = np.zeros((h, w), bool)
    m[y0:y1, x0:x1] = True
    return m


def filled(source: np.ndarray, mask: np.ndarray, fill: np.ndarray) -> np.ndarray:
    out = source.copy()
    out[mask] = fill[mask]
    return out


def test_the_fill_in_its_surroundings_colour_ranks_first_and_a_wrong_colour_last():
    src = field(128, 128, GRASS)
    m = box(128, 128, 32, 96, 40, 104)
    grass = filled(src, m, field(128, 128, GRASS, seed=1))
    soil = filled(src, m, field(128, 128, SOIL, seed=2))
    blot = grass.copy()
    blot[50:70, 60:80] = 30  # a dark blot in otherwise right grass
    scores = context_scores([soil, blot, grass], src, m, sigma=8)
    assert best_first(scores) == [2, 1, 0]
    assert scores[0] > 2 * scores[2]


def test_texture_is_not_penalised_only_colour_and_brightness():
    src = field(128, 128, GRASS)
    m = box(128, 128, 32, 96, 32, 96)
    flat = filled(src, m, field(128, 128, GRASS, noise=0))
    rough = filled(src, m, field(128, 128, GRASS, seed=3, noise=20))  # twice the context's grain, same mean
    tinted = filled(src, m, field(128, 128, (GRASS[0] + 25, GRASS[1] - 25, GRASS[2]), noise=0))
    s_flat, s_rough, s_tinted = context_scores([flat, rough, tinted], src, m, sigma=8)
    assert abs(s_rough - s_flat) < (s_tinted - s_flat) / 10  # grain costs a tenth of a visible tint at most


def test_the_reference_is_local_a_fill_follows_the_side_it_touches():
    src = field(128, 128, GRASS)
    src[:, 64:] = field(128, 64, (70, 110, 190), seed=4)  # sky on the right half
    m = box(128, 128, 48, 80, 8, 56)  # a box on the grass side only
    grass = filled(src, m, field(128, 128, GRASS, seed=5))
    sky = filled(src, m, field(128, 128, (70, 110, 190), seed=6))
    assert best_first(context_scores([sky, grass], src, m, sigma=8)) == [1, 0]


def test_large_images_are_scored_small_and_a_hairline_still_counts():
    src = field(1500, 2400, GRASS, noise=4)
    m = box(1500, 2400, 300, 1300, 500, 2100)
    soil, grass = filled(src, m, field(1500, 2400, SOIL, noise=4)), filled(src, m, field(1500, 2400, GRASS, noise=4))
    assert best_first(context_scores([soil, grass], src, m, sigma=32)) == [1, 0]
    line = box(1500, 2400, 700, 701, 100, 2300)  # 1 px high: thinner than a pixel at the scoring scale
    soil_line, grass_line = filled(src, line, np.full_like(src, SOIL)), filled(src, line, np.full_like(src, GRASS))
    scores = context_scores([soil_line, grass_line], src, line, sigma=1)
    assert np.isfinite(scores).all() and best_first(scores) == [1, 0]


def test_equal_scores_keep_their_seed_order_and_nothing_edited_scores_zero():
    assert best_first([2.0, 1.0, 2.0, 1.0]) == [1, 3, 0, 2]
    src = field(16, 16, GRASS)
    assert context_scores([src, src], src, np.zeros((16, 16), bool), 8) == [0.0, 0.0]


# --- the engine --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def engine():
    return Engine(tiny_arpg(), tiny_vq(), class_names=list("abcde"), name="tiny")


def _inpaint(**changes):
    src = field(32, 32, GRASS)
    m = box(32, 32, 8, 24, 8, 24)
    return src, m, build_request("inpaint", image=src, mask=m, num_steps=4, seed=11, **changes)


def test_the_engine_keeps_the_best_variants_of_its_candidates_best_first(engine):
    src, m, all_four = _inpaint(variants=4, candidates=4)
    ranked = engine.edit(all_four.replace(candidates=5))  # 4 of 5: ranked
    kept = engine.edit(all_four.replace(variants=2, candidates=5))
    assert len(kept.images) == 2 and kept.request.samples == 5
    # the same five candidates, so the two kept are the first two of the four ranked, bit for bit
    assert kept.seeds == ranked.seeds[:2] and set(ranked.seeds) < set(range(11, 16))
    for a, b in zip(kept.images, ranked.images):
        assert np.array_equal(a, b)
    assert ranked.extra["fit"] == sorted(ranked.extra["fit"])
    # the fit the result reports is the score of the image it holds
    sigma = engine.patch / engine.plan(ranked.request).jobs[0].scale / 2  # half a token of the one window
    assert np.allclose(context_scores(ranked.images, src, m, sigma), ranked.extra["fit"], atol=1e-3)
    outside = feather_alpha(m, kept.request.feather) == 0
    for out in kept.images:  # ranking changes which variants, never the pixels outside the edit
        assert np.array_equal(out[outside], src[outside])
    replay = engine.edit(kept.request)
    assert replay.seeds == kept.seeds and all(np.array_equal(a, b) for a, b in zip(replay.images, kept.images))


def test_no_more_candidates_than_variants_gives_the_variants_as_sampled(engine):
    _, _, request = _inpaint(variants=3, candidates=2)
    result = engine.edit(request)
    assert result.seeds == [11, 12, 13] and "fit" not in result.extra


def test_an_outpaint_ranks_too_and_generate_ignores_candidates(engine):
    src = field(12, 12, GRASS)
    r = build_request("outpaint", image=src, extend=(2, 0, 2, 0), num_steps=4, seed=3, candidates=3)
    out = engine.edit(r)
    assert len(out.images) == 1 and out.seeds[0] in (3, 4, 5) and len(out.extra["fit"]) == 1
    assert np.array_equal(out.images[0][:, 2:14], src)
    g = engine.edit(build_request("generate", num_steps=4, seed=3, variants=2, candidates=5))
    assert g.seeds == [3, 4] and "fit" not in g.extra


def test_an_edit_of_several_windows_decodes_only_its_variants(engine):
    """Candidates are kept in one window: ranking whole canvases of windows sampled one by one cost their time in
    every window and bought no colour (docs/ranking.md)."""
    r = build_request("outpaint", image=field(24, 24, GRASS), extend=(8, 0, 8, 0), num_steps=4, seed=3, candidates=3)
    plan = engine.plan(r)
    assert len(plan.jobs) > 1 and plan.samples == 1
    out = engine.edit(r)
    assert out.seeds == [3] and "fit" not in out.extra
    assert np.array_equal(out.images[0], engine.edit(r.replace(candidates=1)).images[0])


@pytest.mark.parametrize("bad", [0, 17, 2.5, True])
def test_candidates_out_of_range_are_named(bad):
    _, _, request = _inpaint()
    with pytest.raises((OptionError, ValueError), match="candidates"):
        request.replace(candidates=bad).validate()
