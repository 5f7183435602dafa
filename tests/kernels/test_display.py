"""Tests of kernels.display: window/level and pseudo-colour."""

from __future__ import annotations

import numpy as np
import pytest

from kernels import (
    ColourMap,
    KernelDtypeError,
    KernelInputError,
    colour_lut,
    pseudo_colour,
    window_level,
)
from tests.kernels.conftest import SHAPES, body_phantom


def _reference(image, window, level, invert=False, gamma=1.0):
    """Plain numpy window/level in float64."""
    t = np.clip((image.astype(np.float64) - (level - window / 2)) / window, 0.0, 1.0)
    if invert:
        t = 1.0 - t
    return np.floor(255.0 * t**gamma + 0.5)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint16])
@pytest.mark.parametrize(
    ("invert", "gamma"), [(False, 1.0), (True, 1.0), (False, 0.5), (True, 2.2)]
)
def test_window_level_matches_reference(shape, dtype, invert, gamma, rng):
    """8-bit output is within 1 grey level of the float64 formula (and mostly equal)."""
    image = (
        (body_phantom(shape, rng) * 1000).astype(dtype)
        if dtype == np.uint16
        else (body_phantom(shape, rng).astype(dtype))
    )
    window, level = (2000.0, 1200.0) if dtype == np.uint16 else (2.0, 1.2)
    got = window_level(image, window, level, invert=invert, gamma=gamma)
    assert got.dtype == np.uint8 and got.shape == shape
    diff = np.abs(got.astype(np.int64) - _reference(image, window, level, invert, gamma))
    assert diff.max() <= 1
    assert np.mean(diff == 0) >= 0.95


def test_window_level_extremes():
    """Values below the window are 0, above are 255; invert swaps them."""
    image = np.array([[-10.0, 0.0, 0.5, 1.0, 10.0]], dtype=np.float32)
    np.testing.assert_array_equal(window_level(image, 1.0, 0.5), [[0, 0, 128, 255, 255]])
    np.testing.assert_array_equal(
        window_level(image, 1.0, 0.5, invert=True), [[255, 255, 128, 0, 0]]
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"window": 0.0, "level": 1.0}, KernelInputError, "window must be > 0"),
        ({"window": 1.0, "level": float("inf")}, KernelInputError, "level must be finite"),
        ({"window": 1.0, "level": 1.0, "gamma": -1.0}, KernelInputError, "gamma must be > 0"),
        ({"window": 1.0, "level": 1.0, "invert": "yes"}, KernelDtypeError, "invert must be a bool"),
        ({"window": "1", "level": 1.0}, KernelDtypeError, "window must be a real number"),
    ],
)
def test_window_level_bad_arguments(kwargs, error, match):
    """Bad window, level, gamma or invert arguments raise clear errors."""
    with pytest.raises(error, match=match):
        window_level(np.zeros((3, 3), dtype=np.float32), **kwargs)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", list(ColourMap))
def test_pseudo_colour_matches_table_lookup(shape, name, rng):
    """Each pixel gets exactly the table's RGB entry (numpy fancy indexing as reference)."""
    image = rng.integers(0, 256, size=shape).astype(np.uint8)
    got = pseudo_colour(image, name)
    assert got.shape == (*shape, 3) and got.dtype == np.uint8
    np.testing.assert_array_equal(got, colour_lut(name)[image])


def test_pseudo_colour_custom_table(rng):
    """A custom (256, 3) uint8 table is applied as given."""
    table = rng.integers(0, 256, size=(256, 3)).astype(np.uint8)
    image = rng.integers(0, 256, size=(9, 7)).astype(np.uint8)
    np.testing.assert_array_equal(pseudo_colour(image, table), table[image])


def test_named_tables():
    """Grey is the identity, density runs from white air to black, hot from black to white."""
    np.testing.assert_array_equal(colour_lut("grey")[:, 0], np.arange(256))
    density = colour_lut(ColourMap.DENSITY)
    assert tuple(density[0]) == (255, 255, 255) and tuple(density[255]) == (0, 0, 0)
    hot = colour_lut("hot")
    assert tuple(hot[0]) == (0, 0, 0) and tuple(hot[255]) == (255, 255, 255)
    assert not density.flags.writeable


@pytest.mark.parametrize(
    ("image", "lut", "error", "match"),
    [
        (np.zeros((3, 3), dtype=np.float32), "grey", KernelDtypeError, "must be uint8"),
        (np.zeros((3, 3), dtype=np.uint8), "rainbow", KernelInputError, "unknown colour map"),
        (
            np.zeros((3, 3), dtype=np.uint8),
            np.zeros((255, 3), np.uint8),
            KernelInputError,
            "256, 3",
        ),
        (np.zeros((3, 3, 3), dtype=np.uint8), "grey", KernelInputError, "must be a 2-D"),
    ],
)
def test_pseudo_colour_bad_input(image, lut, error, match):
    """Non-uint8 images, unknown names and malformed tables raise clear errors."""
    with pytest.raises(error, match=match):
        pseudo_colour(image, lut)
