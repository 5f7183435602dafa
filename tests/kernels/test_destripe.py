"""Tests of kernels.destripe against the plain numpy median-based reference."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from kernels import KernelDtypeError, KernelInputError, destripe, stripe_profile
from tests.kernels.conftest import SHAPES, body_phantom


def _reference(image, sigma=5.0):
    """numpy: median column steps (<= 256 rows), cumsum, Gaussian high-pass, subtract."""
    x = image.astype(np.float32)
    step = max(1, -(-x.shape[0] // 256))
    steps = np.median(np.diff(x[::step], axis=1), axis=0).astype(np.float64)
    profile = np.concatenate([[0.0], np.cumsum(steps)])
    offset = profile - ndimage.gaussian_filter1d(profile, sigma, mode="nearest", truncate=4.0)
    return x - offset[None, :]


@pytest.mark.parametrize("shape", [*SHAPES, (1030, 9)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16])
def test_destripe_matches_reference(shape, dtype, rng):
    """Equals the numpy reference within 1e-5 absolute (values of order 1)."""
    image = (body_phantom(shape, rng) * (100 if dtype == np.int16 else 1)).astype(dtype)
    scale = 100 if dtype == np.int16 else 1
    np.testing.assert_allclose(destripe(image), _reference(image), rtol=0, atol=1e-5 * scale)


@pytest.mark.parametrize("shape", [(1, 1), (9, 4), (31, 17)])
def test_destripe_axis_1_is_the_transpose(shape, rng):
    """axis=1 (one gain per row) is the axis=0 result on the transposed image."""
    image = body_phantom(shape, rng)
    np.testing.assert_allclose(destripe(image, axis=1), destripe(image.T).T, atol=1e-6)


def test_destripe_removes_gain_stripes(rng):
    """Per-column offsets (sd 0.03): the channel-to-channel part drops 4x, the total 2x."""
    rows, cols = 400, 240
    clean = body_phantom((rows, cols), rng)
    stripes = 0.03 * rng.standard_normal(cols).astype(np.float32)
    out = destripe(clean + stripes[None, :])
    residual = (out - clean).mean(axis=0)
    residual -= residual.mean()

    def highpass(x):
        return x - ndimage.gaussian_filter1d(x, 5.0, mode="nearest")

    assert highpass(residual).std() < highpass(stripes).std() / 4
    assert residual.std() < stripes.std() / 2


def test_stripe_profile_finds_a_single_bad_channel(rng):
    """One channel 0.2 brighter shows as a -0.2 offset spike at that column."""
    image = np.zeros((200, 60), dtype=np.float32) + 0.01 * rng.standard_normal((200, 60))
    image[:, 30] += 0.2
    profile = stripe_profile(image.astype(np.float32))
    assert int(np.argmax(np.abs(profile))) == 30
    assert profile[30] == pytest.approx(0.2 * (1 - 1 / np.sqrt(2 * np.pi * 25)), abs=0.02)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"axis": 2}, KernelInputError, "axis must be 0"),
        ({"axis": "rows"}, KernelDtypeError, "axis must be 0 or 1"),
        ({"sigma": 0.0}, KernelInputError, "sigma must be > 0"),
    ],
)
def test_destripe_bad_arguments(kwargs, error, match):
    """A bad axis or sigma raises a clear error."""
    with pytest.raises(error, match=match):
        destripe(np.zeros((4, 4), dtype=np.float32), **kwargs)


def test_destripe_rejects_nan():
    """NaN pixels are refused before any compiled code runs."""
    image = np.zeros((4, 4), dtype=np.float32)
    image[1, 1] = np.nan
    with pytest.raises(KernelInputError, match="NaN"):
        destripe(image)
