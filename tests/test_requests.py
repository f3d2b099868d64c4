"""The typed requests: one per mode, each nesting SamplingParams, the one place of every default."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from arpg_core import choices
from arpg_core.cli.edit_cli import _request
from arpg_core.cli.main import build_parser
from arpg_core.edit.requests import (
    GENERATE_STEPS,
    REQUEST_TYPES,
    SAMPLING_FIELDS,
    ExpandRequest,
    GenerateRequest,
    InpaintRequest,
    OutpaintRequest,
    SamplingParams,
    build_request,
    default,
    field_names,
)
from arpg_core.validate import OptionError
from arpg_core.weights.catalog import own_defaults
from arpg_core.weights.defaults import model_default

ARGS = {
    "inpaint": ["inpaint", "in.png", "--mask", "m.png", "-o", "out.png"],
    "outpaint": ["outpaint", "in.png", "--left", "8", "-o", "out.png"],
    "expand": ["expand", "in.png", "-o", "out.png"],
    "generate": ["generate", "-o", "out.png"],
}


def test_one_request_type_per_mode():
    assert tuple(REQUEST_TYPES) == choices.MODES
    for mode, cls in REQUEST_TYPES.items():
        assert cls.mode == mode
        assert isinstance(cls().sampling, SamplingParams)


def test_the_one_default_is_what_users_got():
    """32 steps at CFG 3 for an edit (the request's old values), the official 64 steps for generate."""
    assert SamplingParams().num_steps == 32 and SamplingParams().cfg_scale == 3.0
    assert InpaintRequest().sampling == SamplingParams()
    assert GenerateRequest().sampling == SamplingParams(num_steps=GENERATE_STEPS) and GENERATE_STEPS == 64


@pytest.mark.parametrize("mode", choices.MODES)
def test_the_command_lines_defaults_are_the_requests(mode):
    args = build_parser().parse_args(ARGS[mode])
    built = _request(args)
    # the model's own defaults over the mode's (the embedded model, the CLI's default, has some)
    own = {k: v for k, v in own_defaults(args.model).items() if k in field_names(mode)}
    expected = REQUEST_TYPES[mode](sampling=model_default("sampling", mode, model=args.model), **own)
    assert type(built) is type(expected)
    for f in dataclasses.fields(expected):
        if f.name in ("seed", "extend"):  # the seed is drawn; the extension was given
            continue
        assert getattr(built, f.name) == getattr(expected, f.name), f.name


def test_a_models_own_defaults_come_from_the_catalog():
    from arpg_core.weights.catalog import REGISTRY

    # every override is a request field (SamplingParams' or a fill's) with a value a request accepts
    for entry in REGISTRY.values():
        own = dict(entry.defaults)
        tuned = {k: v for k, v in own.items() if k in SAMPLING_FIELDS}
        rest = {k: v for k, v in own.items() if k not in SAMPLING_FIELDS}
        InpaintRequest(sampling=SamplingParams(**tuned), **rest).check_options()
    own = dict(REGISTRY["embedded"].defaults)
    sampled = {k: v for k, v in own.items() if k in SAMPLING_FIELDS}
    assert own["temperature"] != SamplingParams().temperature  # or this test proves nothing
    assert own["candidates"] != default("candidates")
    assert default("temperature") == SamplingParams().temperature  # no model: the official default
    assert model_default("temperature", "inpaint", model="ARPG-L") == SamplingParams().temperature
    assert model_default("candidates", "inpaint", model="ARPG-L") == default("candidates") == 1
    assert model_default("temperature", "outpaint", model="embedded") == own["temperature"]
    assert model_default("candidates", "outpaint", model="embedded") == own["candidates"]
    assert model_default("sampling", "generate", model="embedded") == SamplingParams(
        num_steps=GENERATE_STEPS, **sampled
    )
    assert model_default("temperature", model="some/file.safetensors") == SamplingParams().temperature

    def cli(*extra):
        return _request(build_parser().parse_args([*ARGS["inpaint"], *extra])).sampling.temperature

    assert cli() == own["temperature"]  # the CLI's default model is the embedded one
    assert cli("--model", "ARPG-L") == SamplingParams().temperature
    assert cli("--model", "embedded", "--temperature", "1") == 1.0  # given: kept

    def prefill(*extra):
        return _request(build_parser().parse_args([*ARGS["inpaint"], *extra])).sampling.prefill

    assert "prefill" not in own  # every model prefills causally, as trained (v3 alone was tuned otherwise)
    assert prefill() == prefill("--model", "ARPG-L") == SamplingParams().prefill == "causal"
    assert prefill("--prefill", "bidirectional") == "bidirectional"


def test_the_command_line_offers_exactly_the_cores_choices():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices
    offered = {
        a.dest: tuple(a.choices) for p in (sub["inpaint"], sub["expand"]) for a in p._actions if a.choices is not None
    }
    assert offered["schedule"] == choices.SCHEDULES
    assert offered["cfg_schedule"] == choices.CFG_SCHEDULES
    assert offered["prefill"] == choices.PREFILLS
    assert offered["precision"] == choices.PRECISIONS
    assert offered["device"] == choices.DEVICES
    assert offered["expand_rope"] == choices.ROPES


def test_build_request_keeps_the_fields_of_its_mode_only():
    img = np.zeros((8, 8, 3), np.uint8)
    values = dict(image=img, mask=np.ones((8, 8), bool), extend=(1, 0, 0, 0), feather=3, expand_lock=0.0, num_steps=5)
    inpaint = build_request("inpaint", **values)
    assert isinstance(inpaint, InpaintRequest) and inpaint.feather == 3 and inpaint.sampling.num_steps == 5
    outpaint = build_request("outpaint", **values)
    assert isinstance(outpaint, OutpaintRequest) and outpaint.extend == (1, 0, 0, 0) and not hasattr(outpaint, "mask")
    expand = build_request("expand", **values)
    assert isinstance(expand, ExpandRequest) and expand.expand_lock == 0.0 and not hasattr(expand, "feather")
    generate = build_request("generate", **values)
    assert not hasattr(generate, "image") and generate.sampling.num_steps == 5
    assert build_request("generate").sampling.num_steps == GENERATE_STEPS
    with pytest.raises(ValueError, match="unknown mode"):
        build_request("paint")


def test_replace_changes_the_sampling_by_name():
    r = InpaintRequest(seed=4)
    s = r.replace(cfg_scale=1.0, seed=5)
    assert s.sampling.cfg_scale == 1.0 and s.sampling.num_steps == r.sampling.num_steps and s.seed == 5
    assert r.sampling.cfg_scale == 3.0  # frozen: the original is unchanged


def test_sampling_values_are_named_when_built():
    with pytest.raises(OptionError, match="steps must be a whole number between 1 and 1024, got 0"):
        SamplingParams(num_steps=0)
    with pytest.raises(OptionError, match="temperature must be 0"):
        SamplingParams(temperature=-1.0)
    SamplingParams(temperature=1e-5)  # the sampler takes any temperature >= 0 ...
    with pytest.raises(OptionError, match="temperature"):
        InpaintRequest(sampling=SamplingParams(temperature=1e-5)).check_options()  # ... a request does not


def test_record_names_the_sampling_as_the_command_line_does():
    r = ExpandRequest(image=np.zeros((6, 10, 3), np.uint8), sampling=SamplingParams(num_steps=7))
    record = r.record()
    assert record["mode"] == "expand" and record["steps"] == 7 and record["image_size"] == [10, 6]
    assert record["expand_rope"] == default("expand_rope") and "image" not in record and "feather" not in record
