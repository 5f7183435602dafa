"""Display rendering: window/level to 8 bit, and pseudo-colour through lookup tables."""

from __future__ import annotations

import itertools
from enum import StrEnum
from functools import cache, lru_cache
from typing import Any

import numpy as np
from numba import prange
from numpy.typing import NDArray

from kernels._config import pjit, serialized
from kernels._validate import as_array, float_image, positive_scalar, real_scalar, uint8_image
from kernels.errors import KernelDtypeError, KernelInputError

__all__ = ["ColourMap", "colour_lut", "pseudo_colour", "window_level"]

# Entries of the gamma lookup table (the windowed value is quantised to 1/65535 before gamma).
_GAMMA_LUT_SIZE = 65536


class ColourMap(StrEnum):
    """Named pseudo-colour lookup tables; index 0 is the least dense (air) grey level."""

    #: Plain grey: the 8-bit value repeated in R, G and B.
    GREY = "grey"
    #: Density banding as on baggage screens: white air, orange (light), green (medium),
    #: blue (dense), dark violet to black (near opaque); brightness falls within each band.
    DENSITY = "density"
    #: Black, red, yellow, white ("hot" heat map).
    HOT = "hot"


@pjit
def _window_level(image, low, inv_width, invert, lut, out):  # type: ignore[no-untyped-def]
    """Window to [0, 1], optionally invert, then 8 bit directly (empty lut) or through ``lut``."""
    rows, cols = image.shape
    use_lut = lut.shape[0] > 0
    top = np.float32(lut.shape[0] - 1)
    for i in prange(rows):
        for j in range(cols):
            t = (image[i, j] - low) * inv_width
            if t < 0.0:
                t = np.float32(0.0)
            elif t > 1.0:
                t = np.float32(1.0)
            if invert:
                t = np.float32(1.0) - t
            if use_lut:
                out[i, j] = lut[np.int64(t * top + np.float32(0.5))]
            else:
                out[i, j] = np.uint8(t * np.float32(255.0) + np.float32(0.5))


@pjit
def _apply_lut(image, lut, out):  # type: ignore[no-untyped-def]
    """out[i, j, :] = lut[image[i, j], :] for a (256, 3) table."""
    rows, cols = image.shape
    for i in prange(rows):
        for j in range(cols):
            v = image[i, j]
            out[i, j, 0] = lut[v, 0]
            out[i, j, 1] = lut[v, 1]
            out[i, j, 2] = lut[v, 2]


@lru_cache(maxsize=16)
def _gamma_lut(gamma: float) -> NDArray[np.uint8]:
    t = np.linspace(0.0, 1.0, _GAMMA_LUT_SIZE)
    lut = np.floor(np.power(t, gamma) * 255.0 + 0.5).astype(np.uint8)
    lut.flags.writeable = False
    return lut


_NO_LUT = np.zeros(0, dtype=np.uint8)
_NO_LUT.flags.writeable = False  # same (read-only) array type as the gamma tables: one compilation


@serialized
def window_level(
    image: NDArray[Any],
    window: float,
    level: float,
    invert: bool = False,
    gamma: float = 1.0,
) -> NDArray[np.uint8]:
    """Render an image to 8 bit with a display window.

    ``t = clip((image - (level - window / 2)) / window, 0, 1)``; ``t = 1 - t`` when ``invert``;
    then ``out = round(255 * t ** gamma)``. Gamma applies to the displayed brightness, after the
    inversion (``gamma < 1`` brightens dark areas). With ``gamma != 1`` the windowed value is
    quantised to 1/65535 before the power, so results may differ by one grey level from an exact
    computation.

    Parameters
    ----------
    image : ndarray, shape (rows, cols)
        E.g. attenuation (larger = denser, shown brighter unless ``invert``).
    window : float
        Width of the displayed value range, > 0.
    level : float
        Centre of the displayed value range.
    invert : bool
        Show larger values darker (dense = dark).
    gamma : float
        Display gamma, > 0.

    Returns
    -------
    ndarray of uint8, shape (rows, cols)
    """
    img = float_image(image)
    w = positive_scalar(window, "window")
    lv = real_scalar(level, "level")
    g = positive_scalar(gamma, "gamma")
    if not isinstance(invert, (bool, np.bool_)):
        raise KernelDtypeError(f"invert must be a bool, got {type(invert).__name__}")
    lut = _NO_LUT if g == 1.0 else _gamma_lut(g)
    out = np.empty(img.shape, dtype=np.uint8)
    _window_level(img, np.float32(lv - w / 2.0), np.float32(1.0 / w), bool(invert), lut, out)
    return out


def _ramp(n: int, start: tuple[int, int, int], stop: tuple[int, int, int]) -> NDArray[np.float64]:
    return np.linspace(np.asarray(start, float), np.asarray(stop, float), n)


@cache
def _named_lut(name: ColourMap) -> NDArray[np.uint8]:
    i = np.arange(256, dtype=np.float64)
    if name is ColourMap.GREY:
        table = np.stack([i, i, i], axis=1)
    elif name is ColourMap.HOT:
        x = i / 255.0
        table = 255.0 * np.clip(np.stack([3 * x, 3 * x - 1, 3 * x - 2], axis=1), 0.0, 1.0)
    else:
        # Density bands (start index, colour at band start, colour at band end).
        bands = [
            (0, (255, 255, 255), (235, 235, 235)),  # air
            (24, (255, 214, 150), (205, 115, 30)),  # light: organic, thin tissue
            (96, (170, 225, 140), (40, 120, 45)),  # medium
            (160, (140, 180, 255), (25, 45, 165)),  # dense: metal, bone
            (224, (70, 10, 95), (0, 0, 0)),  # near opaque
            (256, (0, 0, 0), (0, 0, 0)),
        ]
        parts = [
            _ramp(stop - start, c0, c1)
            for (start, c0, c1), (stop, _, _) in itertools.pairwise(bands)
        ]
        table = np.concatenate(parts, axis=0)
    lut = np.floor(table + 0.5).astype(np.uint8)
    lut.flags.writeable = False
    return lut


def colour_lut(lut: ColourMap | str = ColourMap.DENSITY) -> NDArray[np.uint8]:
    """Return a named lookup table.

    Parameters
    ----------
    lut : ColourMap or str
        ``"grey"``, ``"density"`` or ``"hot"``.

    Returns
    -------
    ndarray of uint8, shape (256, 3)
        Read-only RGB table indexed by the 8-bit grey level.
    """
    try:
        name = ColourMap(lut)
    except ValueError as exc:
        names = ", ".join(repr(m.value) for m in ColourMap)
        raise KernelInputError(f"unknown colour map {lut!r}; use one of {names}") from exc
    return _named_lut(name)


@serialized
def pseudo_colour(
    image_u8: NDArray[np.uint8], lut: ColourMap | str | NDArray[np.uint8] = ColourMap.DENSITY
) -> NDArray[np.uint8]:
    """Colour an 8-bit image through a lookup table.

    Parameters
    ----------
    image_u8 : ndarray of uint8, shape (rows, cols)
        E.g. the output of :func:`window_level` without ``invert`` (larger = denser), which the
        named tables expect.
    lut : ColourMap, str or ndarray of uint8, shape (256, 3)
        A named table (see :class:`ColourMap`) or a custom RGB table.

    Returns
    -------
    ndarray of uint8, shape (rows, cols, 3)
        RGB image.
    """
    img = uint8_image(image_u8)
    if isinstance(lut, (str, ColourMap)):
        table = colour_lut(lut)
    else:
        table = as_array(lut, "lut")
        if table.shape != (256, 3) or table.dtype != np.uint8:
            raise KernelInputError(
                f"a custom lut must be a (256, 3) uint8 RGB table, got shape {table.shape} "
                f"dtype {table.dtype}; or pass a name: grey, density, hot"
            )
        table = np.array(table, dtype=np.uint8, order="C")
        table.flags.writeable = False  # same array type as the named tables: one compilation
    out = np.empty((*img.shape, 3), dtype=np.uint8)
    _apply_lut(img, table, out)
    return out
