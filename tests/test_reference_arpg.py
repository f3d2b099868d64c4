"""ARPG against outputs of the official code (teacher forcing, generation with explicit orders, an
editing prefill). Every config comes from the fixture's fixture.json, so any fixture set of the same
format can be checked by pointing ARPG_REFERENCE_DIR at it."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from reference import load_expected, load_fixture, load_weights, require_fixture

from arpg_core.nn.config import ARPGConfig
from arpg_core.nn.model import ARPG
from arpg_core.nn.sampler import SamplingParams, cfg_scales, decode, step_counts

require_fixture()
FIXTURE = load_fixture()
ATOL = RTOL = 1e-4


def config_from_fixture(c: dict) -> ARPGConfig:
    return ARPGConfig(
        dim=c["dim"],
        n_layer=c["n_layer"],
        n_head=c["n_head"],
        vocab_size=c["vocab_size"],
        num_classes=c["num_classes"],
        block_size=c["block_size"],
        multiple_of=c["multiple_of"],
        rope_base=c["rope_base"],
        norm_eps=c["norm_eps"],
    )


@pytest.fixture(scope="module")
def expected():
    return load_expected()


@pytest.fixture(scope="module")
def model():
    m = ARPG(config_from_fixture(FIXTURE["arpg_config"]))
    m.load_state_dict(load_weights("arpg_weights"), strict=True)
    return m.eval()


def params_of(g: dict) -> SamplingParams:
    return SamplingParams(
        num_steps=g["num_iter"],
        schedule=g["sample_schedule"],
        cfg_scale=g["guidance_scale"],
        cfg_schedule=g["cfg_schedule"],
        temperature=g["temperature"],
    )


def close(actual, want):
    torch.testing.assert_close(actual, want.to(actual.dtype), atol=ATOL, rtol=RTOL)


def test_config_matches_fixture(model):
    c = FIXTURE["arpg_config"]
    cfg = model.cfg
    assert (cfg.ffn_hidden_dim, cfg.head_dim, cfg.embedding_rows) == (
        c["ffn_hidden_dim"],
        c["head_dim"],
        c["embedding_rows"],
    )
    assert (cfg.mask_token_id, cfg.null_class_id) == (c["mask_token_id"], c["none_conds_id"])
    assert sum(p.numel() for p in model.parameters()) == c["num_parameters"]
    assert {k: list(v.shape) for k, v in model.state_dict().items()} == FIXTURE["arpg_state_dict"]


def test_teacher_forced_logits_and_loss(model, expected):
    x, y, orders = expected["train.x"], expected["train.y"], expected["train.orders"]
    labels = torch.tensor([model.cfg.class_token_id(int(v)) for v in y])
    with torch.no_grad():
        logits = model(x, labels, orders)
    close(logits, expected["train.logits_causal"])
    targets = torch.gather(x, 1, orders)
    loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten())
    close(loss.reshape(1), expected["train.loss_causal"])


@pytest.mark.parametrize("name", sorted(FIXTURE["gen"]))
def test_schedule(name):
    g = FIXTURE["gen"][name]
    counts = step_counts(FIXTURE["arpg_config"]["block_size"], g["num_iter"], g["sample_schedule"])
    assert counts == g["num_pred_per_step"]
    scales = cfg_scales(counts, g["guidance_scale"], g["cfg_schedule"])
    assert scales == pytest.approx(g["cfg_scale_per_step"], abs=1e-12)


@pytest.mark.parametrize("name", sorted(FIXTURE["gen"]))
def test_generation_with_explicit_order(model, expected, name):
    g = FIXTURE["gen"][name]
    labels = [int(v) for v in expected[f"gen.{name}.labels"]]
    generators = [torch.Generator().manual_seed(i) for i in range(len(labels))]
    steps = list(decode(model, labels, generators, params_of(g), orders=expected[f"gen.{name}.order"]))
    assert [s.positions.shape[1] for s in steps] == g["num_pred_per_step"]
    assert torch.equal(steps[-1].grid, expected[f"gen.{name}.tokens"])
    close(steps[0].logits, expected[f"gen.{name}.logits_step0"])
    close(steps[-1].logits, expected[f"gen.{name}.logits_last"])
    close(steps[0].cond_logits, expected[f"gen.{name}.cond_logits_step0"])
    close(steps[0].uncond_logits, expected[f"gen.{name}.uncond_logits_step0"])
    close(torch.cat([s.logits for s in steps], 1), expected[f"gen.{name}.logits_all"])


def test_editing_prefill(model, expected):
    """The fixture's derived editing semantics: the known tokens prefilled all at once (``prefill="bidirectional"``;
    the engine's default, causal, is tested against the training forward in test_kv_cache)."""
    e = FIXTURE["edit"]
    labels = [int(v) for v in expected["edit.labels"]]
    generators = [torch.Generator().manual_seed(i) for i in range(len(labels))]
    steps = list(
        decode(
            model,
            labels,
            generators,
            replace(params_of(e), prefill="bidirectional"),
            known_pos=expected["edit.known_pos"],
            known_tokens=expected["edit.known_tokens"],
            orders=expected["edit.unknown_order"],
        )
    )
    assert [s.positions.shape[1] for s in steps] == e["num_pred_per_step"]
    assert torch.equal(steps[-1].grid, expected["edit.tokens"])
    close(torch.cat([s.logits for s in steps], 1), expected["edit.logits_all"])
    close(torch.cat([s.cond_logits for s in steps], 1), expected["edit.cond_logits_all"])
    close(torch.cat([s.uncond_logits for s in steps], 1), expected["edit.uncond_logits_all"])
