"""Tests of kernels.denoise against a direct numpy bilateral filter."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kernels import KernelDtypeError, KernelInputError, denoise, estimate_noise
from tests.kernels.conftest import SHAPES, body_phantom


def _reference(image, sigma_color, sigma_spatial=1.0, win_size=None):
    """Bilateral filter by the formula, float64, edge pixels repeated."""
    win = win_size or max(5, 2 * math.ceil(3 * sigma_spatial) + 1)
    e = win // 2
    x = image.astype(np.float64)
    padded = np.pad(x, e, mode="edge")
    num = np.zeros_like(x)
    den = np.zeros_like(x)
    for dr in range(-e, e + 1):
        for dc in range(-e, e + 1):
            v = padded[e + dr : e + dr + x.shape[0], e + dc : e + dc + x.shape[1]]
            w = np.exp(-0.5 * (dr * dr + dc * dc) / sigma_spatial**2)
            w = w * np.exp(-0.5 * ((v - x) / sigma_color) ** 2)
            num += w * v
            den += w
    return num / den


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint16])
@pytest.mark.parametrize(("sigma_color", "sigma_spatial"), [(0.1, 1.0), (0.5, 2.0), (0.05, 0.5)])
def test_denoise_matches_reference(shape, dtype, sigma_color, sigma_spatial, rng):
    """Within 2e-3 sigma_color of the exact bilateral formula."""
    factor = 1000 if dtype == np.uint16 else 1
    image = (body_phantom(shape, rng) * factor).clip(0).astype(dtype)
    sc = sigma_color * factor
    got = denoise(image, sc, sigma_spatial)
    assert got.dtype == np.float32 and got.shape == shape
    ref = _reference(image, sc, sigma_spatial)
    np.testing.assert_allclose(got, ref, rtol=0, atol=2e-3 * sc)


def test_denoise_explicit_window(rng):
    """An explicit odd window size is honoured."""
    image = body_phantom((15, 12), rng)
    np.testing.assert_allclose(
        denoise(image, 0.2, 2.0, win_size=3), _reference(image, 0.2, 2.0, 3), atol=4e-4
    )


def test_denoise_keeps_edges_and_reduces_noise(rng):
    """With the default sigma_color noise drops by half while a step edge stays sharp."""
    clean = np.zeros((60, 60), dtype=np.float32)
    clean[:, 30:] = 1.0
    noisy = clean + 0.05 * rng.standard_normal(clean.shape).astype(np.float32)
    out = denoise(noisy)
    assert np.std(out[:, 5:25] - clean[:, 5:25]) < 0.5 * np.std(noisy[:, 5:25] - clean[:, 5:25])
    assert float(np.mean(out[:, 31] - out[:, 28])) > 0.9


def test_estimate_noise(rng):
    """The robust noise estimate of white noise on a step image is within 5 % of the truth."""
    image = np.zeros((300, 200), dtype=np.float32)
    image[:, 100:] = 3.0
    image += 0.07 * rng.standard_normal(image.shape).astype(np.float32)
    assert estimate_noise(image) == pytest.approx(0.07, rel=0.05)
    assert estimate_noise(np.ones((5, 1), dtype=np.float32)) == 0.0


def test_denoise_constant_image_is_unchanged():
    """A constant image comes back as an equal copy."""
    image = np.full((5, 6), 2.0, dtype=np.float32)
    out = denoise(image)
    np.testing.assert_array_equal(out, image)
    assert out is not image


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"sigma_color": 0.0}, KernelInputError, "sigma_color must be > 0"),
        ({"sigma_spatial": -1.0}, KernelInputError, "sigma_spatial must be > 0"),
        ({"win_size": 4}, KernelInputError, "win_size must be an odd int"),
        ({"win_size": 3.0}, KernelDtypeError, "win_size must be an odd int"),
    ],
)
def test_denoise_bad_arguments(kwargs, error, match):
    """Bad filter parameters raise clear errors."""
    with pytest.raises(error, match=match):
        denoise(np.zeros((3, 3), dtype=np.float32), **kwargs)
