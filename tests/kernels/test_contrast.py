"""Tests of kernels.contrast against skimage.exposure.equalize_adapthist."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.exposure import equalize_adapthist

from kernels import KernelDtypeError, KernelInputError, clahe
from tests.kernels.conftest import SHAPES


def _image(shape, rng):
    """uint16 image with two brightness halves (integer input makes the comparison exact)."""
    image = rng.integers(0, 4000, size=shape).astype(np.uint16)
    image[: shape[0] // 2] += 3000
    image.flat[0] = 0
    image.flat[-1] = 9000
    return image


@pytest.mark.parametrize("shape", [s for s in SHAPES if s != (1, 1)] + [(70, 33)])
@pytest.mark.parametrize("kernel_size", [None, 3, (5, 7)])
@pytest.mark.parametrize("clip_limit", [0.0, 0.01, 0.1])
@pytest.mark.parametrize("nbins", [256, 64])
def test_clahe_matches_skimage(shape, kernel_size, clip_limit, nbins, rng):
    """Equal to equalize_adapthist within 1e-6 on integer images."""
    image = _image(shape, rng)
    ref = equalize_adapthist(image, kernel_size=kernel_size, clip_limit=clip_limit, nbins=nbins)
    got = clahe(image, kernel_size, clip_limit, nbins)
    assert got.dtype == np.float32 and got.shape == shape
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_clahe_float_input_is_scaled_from_its_range(dtype, rng):
    """A float image in any range gives the result of its integer-valued equivalent (1e-6)."""
    levels = _image((40, 26), rng)
    image = (levels.astype(np.float64) * 0.001 - 2.0).astype(dtype)
    np.testing.assert_allclose(clahe(image), clahe(levels), atol=1e-6)


def test_clahe_output_spans_unit_range(rng):
    """The result spans exactly [0, 1]; a constant image gives zeros."""
    out = clahe(_image((50, 40), rng))
    assert out.min() == 0.0 and out.max() == 1.0
    assert not clahe(np.full((4, 4), 3.0)).any()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"clip_limit": 1.5}, KernelInputError, "clip_limit must be between 0 and 1"),
        ({"nbins": 1}, KernelInputError, "nbins must be between 2"),
        ({"nbins": 2.0}, KernelDtypeError, "nbins must be an int"),
        ({"kernel_size": (0, 3)}, KernelInputError, "kernel_size must be positive"),
        ({"kernel_size": "big"}, KernelDtypeError, "kernel_size must be an int"),
    ],
)
def test_clahe_bad_arguments(kwargs, error, match):
    """Bad tile size, clip limit or bin count raise clear errors."""
    with pytest.raises(error, match=match):
        clahe(np.zeros((8, 8), dtype=np.float32), **kwargs)
