"""The sampler: schedules, filtering, known tokens, CFG off, determinism."""

from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from tiny import TINY_ARPG, tiny_arpg

from arpg_core.nn.sampler import SamplingParams, cfg_scales, decode, filter_logits, step_counts


@given(n=st.integers(1, 1100), steps=st.integers(1, 300), schedule=st.sampled_from(["arccos", "cosine"]))
@settings(max_examples=300, deadline=None)
def test_step_counts_cover_every_token_once(n, steps, schedule):
    counts = step_counts(n, steps, schedule)
    assert sum(counts) == n
    assert all(c > 0 for c in counts)
    assert len(counts) <= min(n, steps)


def test_linear_cfg_ramps_to_the_scale():
    counts = step_counts(64, 8)
    scales = cfg_scales(counts, 4.0, "linear")
    assert scales[-1] == 4.0 and all(a < b for a, b in itertools.pairwise(scales))
    assert cfg_scales(counts, 4.0, "constant") == [4.0] * len(counts)


def test_top_k_and_top_p():
    logits = torch.tensor([[3.0, 2.0, 1.0, 0.0, -1.0]])
    kept = filter_logits(logits, top_k=2).isfinite()
    assert kept.tolist() == [[True, True, False, False, False]]
    probs = logits.softmax(-1)[0]  # 0.636, 0.234, 0.086, ...
    kept = filter_logits(logits, top_p=float(probs[0] + 0.01)).isfinite()
    assert kept.tolist() == [[True, True, False, False, False]]
    assert filter_logits(logits, top_p=0.01).isfinite().sum() == 1


@pytest.mark.parametrize(
    "bad", [dict(num_steps=0), dict(schedule="x"), dict(top_p=0.0), dict(temperature=-1), dict(prefill="x")]
)
def test_bad_params_are_named(bad):
    with pytest.raises(ValueError):
        SamplingParams(**bad)


def _run(model, seeds, params, **kw):
    gens = [torch.Generator().manual_seed(s) for s in seeds]
    return list(decode(model, [1] * len(seeds), gens, params, **kw))


def test_known_tokens_stay_and_unknown_are_decoded_once():
    model = tiny_arpg()
    known_pos = torch.arange(0, 64, 3)
    known_tokens = torch.randint(0, 64, (2, known_pos.numel()), generator=torch.Generator().manual_seed(0))
    steps = _run(
        model, [5, 6], SamplingParams(num_steps=6, cfg_scale=4.0), known_pos=known_pos, known_tokens=known_tokens
    )
    decoded = torch.cat([s.positions for s in steps], 1)
    for b in range(2):
        assert sorted(decoded[b].tolist()) == sorted(set(range(64)) - set(known_pos.tolist()))
        assert torch.equal(steps[-1].grid[b, known_pos], known_tokens[b])
    assert (steps[-1].grid >= 0).all()
    assert [s.step for s in steps] == list(range(len(steps))) and steps[0].num_steps == len(steps)


@pytest.mark.parametrize("prefill", ["causal", "bidirectional"])
def test_an_edits_context_enters_the_model_as_the_prefill_says(prefill):
    """Causal (the default): every step's logits are the training forward's, with the known tokens first in
    raster order and the unknown ones after them in the decoding order; bidirectional: not."""
    model = tiny_arpg()
    known_pos = torch.arange(0, 64, 2)
    unknown = torch.arange(1, 64, 2)[torch.randperm(32, generator=torch.Generator().manual_seed(4))]
    known_tokens = torch.randint(0, 64, (1, 32), generator=torch.Generator().manual_seed(5))
    params = SamplingParams(num_steps=32, cfg_scale=1.0, temperature=0.0, prefill=prefill)  # one token a step
    steps = _run(model, [0], params, known_pos=known_pos, known_tokens=known_tokens, orders=unknown)
    order = torch.cat([known_pos, unknown])[None]
    with torch.no_grad():
        full = model(steps[-1].grid, torch.tensor([TINY_ARPG.class_token_id(1)]), order)[:, 32:]  # (1, 32, V)
    logits = torch.cat([s.logits for s in steps], 1)
    if prefill == "causal":
        torch.testing.assert_close(logits, full, atol=1e-4, rtol=1e-4)
    else:
        assert (logits - full).abs().max() > 1e-2


def test_same_seed_same_result_other_seed_other_order():
    model = tiny_arpg()
    params = SamplingParams(num_steps=8, cfg_scale=2.0)
    a, b, c = _run(model, [1], params), _run(model, [1], params), _run(model, [2], params)
    assert torch.equal(a[-1].grid, b[-1].grid)
    assert not torch.equal(a[0].positions, c[0].positions)


def test_cfg_off_runs_only_conditional_rows():
    model = tiny_arpg()
    steps = _run(model, [3, 4], SamplingParams(num_steps=4, cfg_scale=1.0))
    assert all(s.uncond_logits is None for s in steps)
    assert all(torch.equal(s.logits, s.cond_logits) for s in steps)


def test_null_class_generation():
    model = tiny_arpg()
    gens = [torch.Generator().manual_seed(0)]
    steps = list(decode(model, [None], gens, SamplingParams(num_steps=4, cfg_scale=1.0)))
    assert (steps[-1].grid >= 0).all()


def test_greedy_temperature_zero_takes_argmax():
    model = tiny_arpg()
    steps = _run(model, [0], SamplingParams(num_steps=4, temperature=0.0, cfg_scale=3.0))
    for s in steps:
        assert torch.equal(s.tokens, s.logits.argmax(-1))


def test_everything_known_is_an_error():
    model = tiny_arpg()
    with pytest.raises(ValueError, match="nothing to decode"):
        _run(
            model,
            [0],
            SamplingParams(num_steps=64, cfg_scale=4.0),
            known_pos=torch.arange(64),
            known_tokens=torch.zeros(1, 64),
        )


def test_larger_grid_with_its_own_rotary_table():
    from arpg_core.nn.model import rope_table

    model = tiny_arpg()
    side = 2 * TINY_ARPG.grid_size
    rope = rope_table(TINY_ARPG.head_dim, TINY_ARPG.rope_base, side, side, scale=0.5, extrapolate=1)
    steps = _run(model, [0], SamplingParams(num_steps=8, cfg_scale=4.0), num_positions=side * side, rope=rope)
    assert steps[-1].grid.shape == (1, side * side) and (steps[-1].grid >= 0).all()


def _rows_seen(model):
    """Batch rows of every forward through the decoder, recorded by a hook."""
    seen = []
    model.layers.register_forward_hook(lambda mod, args, out: seen.append(out.shape[0]))
    return seen


@pytest.mark.parametrize("labels", [[None, None], [5, None]])  # 5 == num_classes is the null class too
def test_no_class_runs_no_guidance_rows(labels):
    """Every row null: cond and uncond would be equal, so only the conditional rows run, and cfg 3 == cfg 1."""
    model = tiny_arpg()
    seen = _rows_seen(model)
    runs = {}
    for scale in (3.0, 1.0):
        gens = [torch.Generator().manual_seed(s) for s in (7, 8)]
        runs[scale] = list(decode(model, labels, gens, SamplingParams(num_steps=6, cfg_scale=scale)))
    assert seen and set(seen) == {2}  # B rows, not 2B, in every step of both runs
    assert torch.equal(runs[3.0][-1].grid, runs[1.0][-1].grid)
    assert all(s.uncond_logits is None for s in runs[3.0])


def test_a_class_still_runs_both_halves():
    model = tiny_arpg()
    seen = _rows_seen(model)
    gens = [torch.Generator().manual_seed(s) for s in (7, 8)]
    steps = list(decode(model, [1, None], gens, SamplingParams(num_steps=6, cfg_scale=3.0)))
    assert set(seen) == {4}
    assert all(s.uncond_logits is not None for s in steps)
