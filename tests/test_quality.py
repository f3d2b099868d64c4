"""The embedded model keeps colour: what a person sees first, guarded on real held-out crops.

The crops in tests/data are cut from held-out photos (never trained on; sources in tests/data/README.md).
Colour is measured in CIELAB a*b* (arpg_core.training.metrics), where PSNR would hide a hue shift.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from arpg_core.edit.requests import build_request
from arpg_core.training import metrics
from arpg_core.weights.defaults import model_default
from arpg_core.weights.registry import load_engine

DATA = Path(__file__).parent / "data"


# Saturated patches a tokenizer must give back in their own colour (RGB), and the a*b* bound on the
# round trip's mean colour. Grass is the mean colour of a real lawn.
PATCHES = {
    "red": (200, 30, 30),
    "green": (40, 160, 60),
    "blue": (30, 60, 200),
    "grass": (102, 149, 52),
}
PATCH_BOUND = 8.0
CROP_BOUND = 4.0  # block-mean (16x16) a*b* error of a real crop's round trip
FILL_BOUND = 8.0  # a*b* error of a fill's mean colour against the hidden pixels, on plain texture
USERS_SAMPLING = model_default("sampling", "inpaint", model="embedded")  # what a user's fill starts from


def crop(name: str) -> np.ndarray:
    return np.array(Image.open(DATA / f"heldout-{name}.png").convert("RGB"))  # writable: torch.from_numpy takes it


@pytest.fixture(scope="module")
def engine():
    return load_engine("embedded")


def roundtrip(engine, image: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float().div(127.5).sub(1.0)
    with torch.no_grad():
        y = engine.vq.decode(engine.vq.encode(x))
    return (y * 127.5 + 128).clamp(0, 255).to(torch.uint8)[0].permute(1, 2, 0).numpy()


@pytest.mark.parametrize("name", ["red", "green", "grass", "blue"])
def test_tokenizer_gives_back_saturated_colour(engine, name):
    patch = np.broadcast_to(np.array(PATCHES[name], np.uint8), (128, 128, 3)).copy()
    err = metrics.mean_colour_error(roundtrip(engine, patch), patch)
    assert err <= PATCH_BOUND, f"{name} patch comes back {err:.1f} a*b* units off"


@pytest.mark.parametrize("name", ["giraffe", "grass", "moss"])
def test_tokenizer_keeps_the_colour_of_a_real_crop(engine, name):
    image = crop(name)
    out = roundtrip(engine, image)
    err = metrics.ab_error(out, image, 16)
    assert err <= CROP_BOUND, f"{name}: block-mean a*b* error {err:.1f}"
    assert 0.85 <= metrics.chroma_ratio(out, image, 16) <= 1.15


# The round trip's full PSNR on each held-out crop (dB): the embedded v4 tokenizer gives 23.0 / 19.1 / 19.9 / 41.1,
# v3 gave 21.8 / 18.6 / 19.4 / 33.5. The bounds sit between, so a tokenizer as blurry as v3 fails (issue 11's
# target, 24 dB over 256 held-out crops, is measured by benchmarks/eval_embedded.py).
DETAIL_BOUNDS = {"giraffe": 22.5, "grass": 18.8, "moss": 19.6, "sky": 38.0}


@pytest.mark.parametrize("name", list(DETAIL_BOUNDS))
def test_tokenizer_keeps_the_detail_of_a_real_crop(engine, name):
    image = crop(name)
    psnr = metrics.psnr(roundtrip(engine, image), image)
    assert psnr >= DETAIL_BOUNDS[name], f"{name}: the round trip's PSNR is {psnr:.2f} dB"


@pytest.mark.parametrize("name", ["sky", "moss", "grass"])
def test_a_box_of_plain_texture_is_filled_in_its_own_colour(engine, name):
    image = crop(name)
    mask = np.zeros(image.shape[:2], bool)
    mask[40:88, 40:88] = True
    for seed in (0, 1):
        request = build_request("inpaint", image=image, mask=mask, seed=seed, sampling=USERS_SAMPLING)
        out = engine.edit(request).images[0]
        err = metrics.mean_colour_error(out, image, mask)
        assert err <= FILL_BOUND, f"{name}, seed {seed}: the fill's mean colour is {err:.1f} a*b* units off"


def test_colour_match_takes_back_the_decoders_drift_on_plain_sky(engine):
    """The raw decode of a sky fill is a lighter blue (2.2 and 3.2 a*b* units off at seeds 0 and 1); the colour
    match, measured on the sky around the box, brings it within 1.5 (1.2 and 0.2)."""
    image = crop("sky")
    mask = np.zeros(image.shape[:2], bool)
    mask[40:88, 40:88] = True
    for seed in (0, 1):
        request = build_request("inpaint", image=image, mask=mask, seed=seed, sampling=USERS_SAMPLING)
        matched = metrics.mean_colour_error(engine.edit(request).images[0], image, mask)
        raw = metrics.mean_colour_error(engine.edit(request.replace(colour_match=0.0)).images[0], image, mask)
        assert matched <= 1.5 and matched < raw, f"seed {seed}: {matched:.1f} with the colour match, {raw:.1f} without"


def join_step(out: np.ndarray, plan) -> float:
    """Mean step between neighbouring new pixels that different outpaint windows wrote, over the mean step
    between all neighbouring new pixels: near 1 when windows meet without a seam."""
    H, W = out.shape[:2]
    owner = np.full((H, W), -1)
    for i, job in enumerate(plan._jobs):
        ys, xs = job.window.slices()
        owner[ys, xs][job.write == 1] = i
    g = out.astype(np.float64)
    sx, sy = np.abs(np.diff(g, axis=1)).mean(-1), np.abs(np.diff(g, axis=0)).mean(-1)  # (H, W-1), (H-1, W)
    both_x, both_y = (owner[:, 1:] >= 0) & (owner[:, :-1] >= 0), (owner[1:] >= 0) & (owner[:-1] >= 0)
    join_x, join_y = both_x & (owner[:, 1:] != owner[:, :-1]), both_y & (owner[1:] != owner[:-1])
    at = np.concatenate([sx[join_x], sy[join_y]])
    return float(at.mean() / np.concatenate([sx[both_x], sy[both_y]]).mean())


@pytest.mark.parametrize("name", ["sky", "grass"])
def test_outpaint_windows_meet_without_a_seam(engine, name, monkeypatch):
    """Extending a 128 px crop by 128 px left and below takes several windows. Each used to paste its whole new
    area, its outermost pixels too (a tokenizer renders them worst) with a hard edge: a grid of lines at
    the joins, 2.6-5.2 times the mean step. Now each leaves its inner sides to its neighbours and blends."""
    from arpg_core.edit import plans

    image = crop(name)
    for seed in (0, 1):
        request = build_request("outpaint", image=image, extend=(128, 0, 0, 128), seed=seed, sampling=USERS_SAMPLING)
        ratio = join_step(engine.edit(request).images[0], plans.plan_for(request, engine.codec))
        assert ratio <= 1.2, f"{name}, seed {seed}: steps at the joins are {ratio:.2f} times the mean"
    monkeypatch.setattr(plans, "OUTPAINT_EDGE_TOKENS", 0)  # the old hard joins: the measure sees them
    request = build_request("outpaint", image=image, extend=(128, 0, 0, 128), seed=0, sampling=USERS_SAMPLING)
    plan = plans.plan_for(request, engine.codec)
    # on the decode alone as clearly as before; the restored grain raises every step, the joins' less, and they
    # still measure well above the bound (1.2) the blended joins meet
    assert join_step(engine.edit(request.replace(detail=0.0)).images[0], plan) > 2.0
    assert join_step(engine.edit(request).images[0], plan) > 1.5
