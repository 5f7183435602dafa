"""Tests of kernels.normalize: counts/log values to attenuation and the air level."""

from __future__ import annotations

import numpy as np
import pytest

from kernels import (
    DEFAULT_EPSILON,
    KernelDtypeError,
    KernelInputError,
    counts_to_attenuation,
    estimate_air_level,
    grid_sample,
    log_to_attenuation,
    to_unit_range,
)
from tests.kernels.conftest import SHAPES, body_phantom


def _reference(counts, air, dark=0.0, eps=DEFAULT_EPSILON):
    """Plain numpy -ln(clip((I - D) / (I_air - D), eps))."""
    t = (counts.astype(np.float64) - dark) / (air - dark)
    return -np.log(np.maximum(t, eps))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.uint16, np.float32, np.float64, np.int32])
def test_counts_match_reference(shape, dtype, rng):
    """Counts to attenuation equals the numpy formula within 2e-6 relative, 2e-6 absolute."""
    att = body_phantom(shape, rng)
    counts = np.clip(12000.0 * np.exp(-att), 0, 65535).astype(dtype)
    counts.flat[0] = 0  # below epsilon: clamped
    got = counts_to_attenuation(counts, 12000.0, dark=100.0)
    assert got.dtype == np.float32 and got.shape == shape
    np.testing.assert_allclose(got, _reference(counts, 12000.0, 100.0), rtol=2e-6, atol=2e-6)


def test_clamp_at_epsilon():
    """Counts at or below the dark level become -ln(epsilon), never inf or NaN."""
    counts = np.array([[0, 5, 10, 1000]], dtype=np.uint16)
    got = counts_to_attenuation(counts, 1000.0, dark=10.0, epsilon=1e-4)
    np.testing.assert_allclose(got[0, :3], -np.log(1e-4), rtol=1e-6)
    assert got[0, 3] == pytest.approx(0.0, abs=1e-7)


@pytest.mark.parametrize("shape", [(1, 1), (5, 9), (31, 16)])
def test_flat_and_dark_fields(shape, rng):
    """Per-column flat and full dark fields give (I - D) / (F - D) per pixel within 2e-6."""
    flat = rng.uniform(9000, 11000, size=shape[1]).astype(np.float32)
    dark = rng.uniform(50, 150, size=shape).astype(np.float32)
    counts = rng.uniform(0, 11000, size=shape).astype(np.float32)
    got = counts_to_attenuation(counts, flat=flat, dark=dark)
    ref = -np.log(np.maximum((counts - dark) / (flat[None, :] - dark), DEFAULT_EPSILON))
    np.testing.assert_allclose(got, ref, rtol=2e-6, atol=2e-6)


def test_dark_field_without_flat_uses_air_level(rng):
    """A per-pixel dark field with a scalar air level equals the formula within 2e-6."""
    counts = rng.uniform(200, 5000, size=(8, 9)).astype(np.float32)
    dark = rng.uniform(50, 150, size=(8, 9)).astype(np.float32)
    got = counts_to_attenuation(counts, 5000.0, dark=dark)
    np.testing.assert_allclose(got, _reference(counts - dark, 5000.0 - dark), rtol=2e-6, atol=2e-6)


def _striped_counts(rng, air=10000.0, shape=(300, 160)):
    att = body_phantom(shape, rng).astype(np.float64)
    gain = 1.0 + 0.03 * rng.standard_normal(shape[1])
    gain -= gain.mean() - 1.0
    counts = rng.poisson(air * np.exp(-att) * gain[None, :]).astype(np.float64)
    return np.clip(counts, 0, 65535).astype(np.uint16), att


def test_air_level_robust_to_hot_pixels_and_stripes(rng):
    """The air estimate is within 0.5 % of the true level despite 0.5 % hot pixels and stripes."""
    counts, _ = _striped_counts(rng)
    hot = rng.choice(counts.size, size=counts.size // 200, replace=False)
    counts.flat[hot] = 65535
    assert estimate_air_level(counts) == pytest.approx(10000.0, rel=5e-3)


def test_air_level_with_body_mask(rng):
    """With a body mask covering everything but a few air pixels, those pixels decide."""
    counts, _ = _striped_counts(rng, air=3000.0)
    body = np.ones(counts.shape, dtype=bool)
    body[:, :3] = False
    assert estimate_air_level(counts, body=body) == pytest.approx(3000.0, rel=1e-2)


def test_air_level_when_body_touches_the_border(rng):
    """A body filling the border strips still yields the air level of the remaining air."""
    counts, _ = _striped_counts(rng, air=8000.0)
    counts[:, :8] = 400  # an arm along the left edge
    assert estimate_air_level(counts) == pytest.approx(8000.0, rel=1e-2)


def test_estimated_air_gives_zero_air_attenuation(rng):
    """Without air_level the air pixels come out centred on 0 (median within 0.005)."""
    counts, att = _striped_counts(rng)
    got = counts_to_attenuation(counts)
    assert abs(float(np.median(got[att < 0.05]))) < 5e-3


def test_air_level_of_black_image_raises():
    """An image without any signal has no air level."""
    with pytest.raises(KernelInputError, match="no unattenuated"):
        estimate_air_level(np.zeros((10, 10), dtype=np.uint16))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"air_level": 10.0, "flat": 20.0}, "either air_level or flat"),
        ({"air_level": 10.0, "dark": 20.0}, "must be above the dark level"),
        ({"air_level": float("nan")}, "air_level must be finite"),
        ({"air_level": 10.0, "epsilon": 0.0}, "epsilon must be > 0"),
        ({"air_level": 10.0, "epsilon": 1.5}, "epsilon must be < 1"),
        ({"flat": np.ones(3)}, "does not broadcast"),
    ],
)
def test_counts_bad_arguments(kwargs, match):
    """Inconsistent arguments raise a ValueError that says what to change."""
    with pytest.raises(ValueError, match=match):
        counts_to_attenuation(np.ones((4, 5), dtype=np.uint16), **kwargs)


@pytest.mark.parametrize(
    ("counts", "error", "match"),
    [
        (np.ones((2, 3, 4)), KernelInputError, "must be a 2-D"),
        (np.ones((0, 3)), KernelInputError, "is empty"),
        (np.array([[1.0, np.inf]]), KernelInputError, "NaN or infinite"),
        (np.array([[1.0, np.nan]]), KernelInputError, "NaN or infinite"),
        (np.ones((2, 2), dtype=bool), KernelDtypeError, "integers or floats"),
        (np.ones((2, 2), dtype=complex), KernelDtypeError, "integers or floats"),
        ("counts", KernelDtypeError, "numpy array"),
    ],
)
def test_counts_bad_input(counts, error, match):
    """Wrong dimensions, empty, non-finite or non-numeric input raises a clear error."""
    with pytest.raises(error, match=match):
        counts_to_attenuation(counts, 10.0)


@pytest.mark.parametrize("shape", SHAPES)
def test_log_to_attenuation(shape, rng):
    """(values - offset) * scale in float32, within 1e-6 relative."""
    values = rng.integers(0, 4096, size=shape).astype(np.uint16)
    got = log_to_attenuation(values, -np.log(10) / 1000, 4000)
    np.testing.assert_allclose(got, (values - 4000.0) * (-np.log(10) / 1000), rtol=1e-6)
    assert got.dtype == np.float32


def test_log_to_attenuation_zero_scale():
    """A zero scale is refused."""
    with pytest.raises(KernelInputError, match="scale must be non-zero"):
        log_to_attenuation(np.ones((2, 2)), 0.0, 1.0)


def test_to_unit_range_clips_and_scales():
    """[low, high] maps to [0, 1], values outside are clipped unless clip=False."""
    img = np.array([[-1.0, 0.0, 2.0, 4.0, 5.0]], dtype=np.float32)
    np.testing.assert_allclose(to_unit_range(img, 0.0, 4.0), [[0, 0, 0.5, 1, 1]])
    np.testing.assert_allclose(to_unit_range(img, 0.0, 4.0, clip=False)[0, -1], 1.25)
    with pytest.raises(KernelInputError, match="must be greater than low"):
        to_unit_range(img, 1.0, 1.0)


def test_air_level_samples_every_channel(rng):
    """On a 2000 x 800 scan the subsample covers all columns: no bias from a few channel gains."""
    gain = np.ones(800)
    gain[::25] = 1.2  # the columns a naive stride of 25 would sample
    counts = (10000.0 * gain[None, :] * np.ones((2000, 1))).astype(np.float32)
    counts += rng.normal(0, 30, counts.shape).astype(np.float32)
    assert estimate_air_level(counts) == pytest.approx(10000.0, rel=2e-3)


def test_grid_sample_is_an_even_strided_view() -> None:
    """At most about max_pixels pixels, one stride on both axes, no copy; bad input refused."""
    image = np.arange(1000 * 400, dtype=np.float32).reshape(1000, 400)
    grid = grid_sample(image, 10_000)
    assert grid.size <= 10_000 * 1.05
    assert np.shares_memory(grid, image)
    np.testing.assert_array_equal(grid, image[::7, ::7])  # ceil(sqrt(400000 / 10000)) = 7
    assert grid_sample(image[:10, :10], 10_000).shape == (10, 10)
    with pytest.raises(KernelInputError, match="2-D"):
        grid_sample(image.ravel(), 100)
    with pytest.raises(KernelInputError, match="at least 1"):
        grid_sample(image, 0)
