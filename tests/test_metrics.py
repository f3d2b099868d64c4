"""The colour, structure and texture measures behind the quality figures and tests."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from arpg_core.training import metrics


def flat(rgb, size=32):
    return np.broadcast_to(np.array(rgb, np.uint8), (size, size, 3)).copy()


def test_lab_matches_the_known_colour_of_grass():
    lab = metrics.to_lab(flat((102, 149, 52)))[0, 0]
    assert lab[1] == pytest.approx(-32, abs=1.5) and lab[2] == pytest.approx(45, abs=1.5)


def test_grass_turned_brown_is_a_large_colour_error_psnr_would_call_mild():
    grass, brown = flat((102, 149, 52)), flat((111, 92, 51))
    assert metrics.mean_colour_error(grass, brown) > 30
    assert metrics.ab_error(grass, brown, 16) > 30
    assert metrics.mean_colour_error(grass, grass) == 0


def test_the_mask_selects_the_pixels_compared():
    a, b = flat((200, 30, 30)), flat((200, 30, 30))
    b[:, 16:] = (30, 60, 200)
    left = np.zeros((32, 32), bool)
    left[:, :16] = True
    assert metrics.mean_colour_error(a, b, left) == 0
    assert metrics.mean_colour_error(a, b, ~left) > 50


def test_block_means_and_block_psnr():
    x = np.arange(4 * 4 * 3, dtype=np.float64).reshape(4, 4, 3)
    means = metrics.block_means(x, 2)
    assert means.shape == (2, 2, 3)
    assert np.allclose(means[0, 0], x[:2, :2].reshape(-1, 3).mean(0))
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    noisy = np.clip(img + rng.normal(0, 20, img.shape), 0, 255).astype(np.uint8)
    assert metrics.block_psnr(img, noisy, 16) > metrics.psnr(img, noisy) + 10  # zero-mean noise averages out


def test_desaturated_output_has_a_chroma_ratio_below_one():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    img = cv2.GaussianBlur(img, (0, 0), 6)
    grey = img.mean(-1, keepdims=True)
    washed = (grey + 0.5 * (img - grey)).round().astype(np.uint8)
    assert metrics.chroma_ratio(img, img) == pytest.approx(1.0)
    assert 0.4 < metrics.chroma_ratio(washed, img) < 0.6


def test_texture_ratio_sees_blur():
    rng = np.random.default_rng(2)
    img = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    blurred = cv2.GaussianBlur(img, (0, 0), 2)
    assert metrics.texture_ratio(img, img) == pytest.approx(1.0)
    assert metrics.texture_ratio(blurred, img) < 0.3
