"""Tests of kernels.enhance against skimage.filters.unsharp_mask and scipy's Gaussian."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from skimage.filters import unsharp_mask

from kernels import KernelInputError, gaussian_blur, unsharp
from tests.kernels.conftest import SHAPES, body_phantom


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint16])
@pytest.mark.parametrize(("radius", "amount"), [(0.5, 1.0), (1.0, 2.0), (3.0, -0.5), (12.0, 1.0)])
def test_unsharp_matches_skimage(shape, dtype, radius, amount, rng):
    """Equals unsharp_mask(preserve_range=True) within 1e-5 of the largest value."""
    image = (body_phantom(shape, rng) * (1000 if dtype == np.uint16 else 1)).clip(0).astype(dtype)
    ref = unsharp_mask(image, radius=radius, amount=amount, preserve_range=True)
    got = unsharp(image, radius, amount)
    assert got.dtype == np.float32 and got.shape == shape
    scale = max(1.0, float(np.abs(image).max()))
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-5 * scale)


@pytest.mark.parametrize("shape", SHAPES)
def test_gaussian_blur_matches_scipy(shape, rng):
    """Equals scipy.ndimage.gaussian_filter(mode='reflect') within 1e-6."""
    image = body_phantom(shape, rng)
    ref = ndimage.gaussian_filter(image.astype(np.float64), 1.7, mode="reflect")
    np.testing.assert_allclose(gaussian_blur(image, 1.7), ref, rtol=0, atol=1e-6)


def test_unsharp_zero_amount_is_identity(rng):
    """amount=0 returns the image unchanged (as float32)."""
    image = body_phantom((12, 9), rng)
    np.testing.assert_array_equal(unsharp(image, 2.0, 0.0), image)


@pytest.mark.parametrize(("radius", "amount"), [(0.0, 1.0), (-1.0, 1.0), (1.0, float("nan"))])
def test_unsharp_bad_arguments(radius, amount):
    """A non-positive radius or non-finite amount is refused."""
    with pytest.raises(KernelInputError, match=r"radius|amount"):
        unsharp(np.zeros((3, 3), dtype=np.float32), radius, amount)
