"""Tests of kernels.mask against scipy.ndimage + skimage.measure.label."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from skimage.measure import label

from kernels import (
    BodyBounds,
    EmptyMaskError,
    KernelDtypeError,
    KernelInputError,
    body_bounds,
    body_mask,
)
from tests.kernels.conftest import SHAPES, body_phantom


def _reference(image, threshold, smooth, fill_holes):
    """Box mean, threshold, largest 8-connected label (lowest label on ties), fill holes."""
    sm = ndimage.uniform_filter(image.astype(np.float32), size=smooth, mode="reflect")
    labels = label(sm > threshold, connectivity=2)
    if labels.max() == 0:
        return np.zeros(image.shape, dtype=bool)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    mask = labels == int(np.argmax(sizes))
    return ndimage.binary_fill_holes(mask) if fill_holes else mask


@pytest.mark.parametrize("shape", [*SHAPES, (64, 48)])
@pytest.mark.parametrize("smooth", [1, 3, 5])
@pytest.mark.parametrize("fill_holes", [False, True])
def test_body_mask_matches_reference_on_noise(shape, smooth, fill_holes, rng):
    """Random blobs (many components, ties, holes): identical to the reference, pixel for pixel."""
    image = (rng.random(shape) * 0.5).astype(np.float32)
    got = body_mask(image, 0.2, smooth=smooth, fill_holes=fill_holes)
    assert got.dtype == np.bool_ and got.shape == shape
    np.testing.assert_array_equal(got, _reference(image, 0.2, smooth, fill_holes))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8])
def test_body_mask_matches_reference_on_phantom(dtype, rng):
    """A body phantom with an enclosed air pocket: identical to the reference."""
    image = body_phantom((90, 60), rng)
    image[40:45, 28:33] = 0.0  # enclosed air
    image[5:7, 2:4] = 1.0  # a separate small object
    image = (image.clip(0) * 50).astype(dtype) if dtype == np.uint8 else image.astype(dtype)
    threshold = 7.5 if dtype == np.uint8 else 0.15
    got = body_mask(image, threshold)
    np.testing.assert_array_equal(got, _reference(image, threshold, 5, True))
    assert got[42, 30] and not got[6, 3]


def test_body_mask_of_empty_scan_is_empty():
    """An air-only image gives an all-False mask, and its bounds raise EmptyMaskError."""
    mask = body_mask(np.zeros((20, 10), dtype=np.float32))
    assert not mask.any()
    with pytest.raises(EmptyMaskError, match="no body found"):
        body_bounds(mask)


def test_body_bounds():
    """Bounds are half-open and their slices select the whole body."""
    mask = np.zeros((10, 8), dtype=bool)
    mask[2:7, 3] = True
    mask[4, 1:6] = True
    bounds = body_bounds(mask)
    assert bounds == BodyBounds(2, 7, 1, 6)
    assert mask[bounds.slices].sum() == mask.sum()


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: body_mask(np.zeros((3, 3)), smooth=0), KernelInputError, "smooth must be >= 1"),
        (
            lambda: body_mask(np.zeros((3, 3)), smooth=2.5),  # type: ignore[arg-type]
            KernelDtypeError,
            "smooth must be an int",
        ),
        (
            lambda: body_mask(np.zeros((3, 3)), threshold=None),  # type: ignore[arg-type]
            KernelDtypeError,
            "threshold",
        ),
        (
            lambda: body_bounds(np.zeros((3, 3))),  # type: ignore[arg-type]
            KernelDtypeError,
            "must be a bool array",
        ),
        (lambda: body_bounds(np.zeros((3,), bool)), KernelInputError, "must be a 2-D"),
    ],
)
def test_mask_bad_arguments(call, error, match):
    """Bad smoothing, threshold or mask arguments raise clear errors."""
    with pytest.raises(error, match=match):
        call()
