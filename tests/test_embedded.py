"""The shipped embedded model: it loads with no flags and really edits a photo."""

from __future__ import annotations

import numpy as np
import pytest

from arpg_core.edit.edits import feather_alpha
from arpg_core.edit.requests import build_request
from arpg_core.weights.catalog import EMBEDDED_ARPG_FILE, EMBEDDED_VQ_FILE, assets_dir
from arpg_core.weights.registry import load_engine


@pytest.fixture(scope="module")
def engine():
    return load_engine("embedded")


def test_assets_are_shipped_and_small():
    sizes = [(assets_dir() / f).stat().st_size for f in (EMBEDDED_ARPG_FILE, EMBEDDED_VQ_FILE)]
    assert sum(sizes) <= 40 * 1024 * 1024


def test_loads_with_config_and_class_names(engine):
    assert engine.native == 128 and engine.patch == 8 and engine.side == 16
    assert engine.class_names == ["animal", "landscape", "building", "plant", "object"]


def test_real_inpaint_keeps_every_pixel_outside_the_mask(engine):
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:150, 0:200]
    img = np.stack([x * 1.2, y * 1.5, (x + y) * 0.6], -1) % 256
    img = (img + rng.normal(0, 6, img.shape)).clip(0, 255).astype(np.uint8)
    mask = np.zeros((150, 200), bool)
    mask[30:70, 40:90] = True
    mask[100:140, 150:190] = True
    req = build_request("inpaint", image=img, mask=mask, num_steps=8, variants=2, seed=0, feather=6)
    result = engine.edit(req)
    keep = feather_alpha(mask, 6) == 0
    for out in result.images:
        assert np.array_equal(out[keep], img[keep])
        assert np.abs(out[mask].astype(int) - img[mask].astype(int)).mean() > 1  # the mask really changed
