"""Tests of kernels.resample against skimage.transform.resize (anti-aliased, bilinear)."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.transform import resize as sk_resize

from kernels import KernelDtypeError, KernelInputError, resample, resize
from tests.kernels.conftest import body_phantom

SHAPE_PAIRS = [
    ((1, 1), (1, 1)),
    ((1, 9), (1, 4)),
    ((9, 1), (3, 1)),
    ((1, 1), (3, 5)),
    ((2, 3), (5, 7)),
    ((17, 31), (8, 15)),
    ((40, 26), (13, 52)),
    ((33, 20), (33, 7)),
    ((64, 48), (5, 3)),
]


@pytest.mark.parametrize(("shape", "out_shape"), SHAPE_PAIRS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint16])
def test_resize_matches_skimage(shape, out_shape, dtype, rng):
    """Equals skimage resize(order=1, anti_aliasing=True) within 1e-5 of the largest value."""
    image = body_phantom(shape, rng) * (1000 if dtype == np.uint16 else 1)
    image = np.clip(image, 0, None).astype(dtype)
    ref = sk_resize(
        image, out_shape, order=1, anti_aliasing=True, mode="reflect", preserve_range=True
    )
    got = resize(image, out_shape)
    assert got.dtype == np.float32 and got.shape == out_shape
    scale = max(1.0, float(np.abs(image).max()))
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-5 * scale)


def test_resize_same_shape_is_a_copy(rng):
    """Resizing to the same shape returns equal values in a new array."""
    image = body_phantom((5, 4), rng)
    got = resize(image, (5, 4))
    np.testing.assert_array_equal(got, image)
    assert got is not image


def test_resample_anisotropic_spacing(rng):
    """Output size follows spacing / pitch per axis and the exact spacing is reported."""
    image = body_phantom((301, 120), rng)
    res = resample(image, (1.0, 1.5), 2.0)
    assert res.image.shape == (150, 90)
    assert res.spacing == pytest.approx((301 / 150, 180 / 90))
    assert res.scale == pytest.approx((150 / 301, 90 / 120))
    assert res.input_shape == (301, 120)
    ref = sk_resize(image, (150, 90), order=1, anti_aliasing=True, mode="reflect")
    np.testing.assert_allclose(res.image, ref, atol=1e-5 * float(np.ptp(image)))


def test_resample_box_mapping_round_trip(rng):
    """Boxes map to the resampled grid and back unchanged; a full-image box maps to full image."""
    res = resample(body_phantom((100, 60), rng), (0.8, 1.2), (2.0, 1.5))
    boxes = np.array([[10.0, 20.0, 30.0, 40.0], [0.0, 0.0, 5.5, 1.0]])
    np.testing.assert_allclose(res.boxes_to_original(res.boxes_to_resampled(boxes)), boxes)
    rows, cols = res.image.shape
    full = res.boxes_to_original(np.array([0.0, 0.0, cols, rows]))
    np.testing.assert_allclose(full, np.array([0.0, 0.0, 60.0, 100.0]))


def test_resample_tiny_image_keeps_one_pixel():
    """Shrinking a 1-pixel image still gives one pixel."""
    res = resample(np.ones((1, 1), dtype=np.float32), 0.5, 4.0)
    assert res.image.shape == (1, 1) and res.image[0, 0] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("spacing", "pitch", "error", "match"),
    [
        ((1.0, 1.0), -2.0, KernelInputError, "target_pitch must be > 0"),
        ((1.0, 0.0), 2.0, KernelInputError, r"spacing\[1\] must be > 0"),
        ((1.0, 1.0, 1.0), 2.0, KernelInputError, "must be a \\(row, col\\) pair"),
        ("1mm", 2.0, KernelDtypeError, "spacing"),
        ((1.0, float("nan")), 2.0, KernelInputError, "must be finite"),
    ],
)
def test_resample_bad_spacing(spacing, pitch, error, match):
    """Non-positive, non-finite or malformed spacing and pitch raise clear errors."""
    with pytest.raises(error, match=match):
        resample(np.zeros((4, 4), dtype=np.float32), spacing, pitch)


def test_resize_bad_shape():
    """A zero or malformed output shape is refused."""
    with pytest.raises(KernelInputError, match="two positive ints"):
        resize(np.zeros((4, 4)), (0, 3))
    with pytest.raises(KernelDtypeError, match="pair of ints"):
        resize(np.zeros((4, 4)), None)  # type: ignore[arg-type]
