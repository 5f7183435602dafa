"""Physical normalisation: raw counts or log-scaled values to attenuation ``-ln(I / I_air)``.

Conventions
-----------
* Attenuation (line integral) is ``p = -ln(T)`` with transmission ``T = I / I_air``: air ~ 0, denser
  material larger. Air pixels scatter symmetrically around 0 (slightly negative values are kept, so
  noise stays unbiased).
* Transmission is clamped below at ``epsilon`` (default ``1e-6``) before the logarithm: a pixel at
  or below the dark level (``T <= 0``) or below ``epsilon`` becomes ``-ln(epsilon)`` (13.8 for the
  default), the "opaque" value, instead of ``inf``/``NaN``.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
from numba import prange
from numpy.typing import NDArray

from kernels._config import pjit, serialized
from kernels._validate import (
    as_array,
    check_2d,
    check_finite,
    check_real_dtype,
    float_image,
    positive_scalar,
    real_scalar,
)
from kernels.errors import KernelInputError

__all__ = [
    "DEFAULT_EPSILON",
    "counts_to_attenuation",
    "estimate_air_level",
    "log_to_attenuation",
    "to_unit_range",
]

logger = logging.getLogger(__name__)

#: Smallest transmission used before the logarithm (attenuation is capped at ``-ln(1e-6)`` = 13.8).
DEFAULT_EPSILON = 1e-6

# Quantile of the candidate air pixels taken as the "brightest" level: robust to < 1 % hot pixels.
_HIGH_QUANTILE = 0.99
# Air candidates are pixels brighter than this fraction of the high quantile.
_AIR_FRACTION = 0.5
# Pixels used for the estimate (an even subsample of larger images).
_MAX_SAMPLE = 1 << 16
# Half-width, in robust standard deviations, of the window kept around the air mode.
_AIR_SIGMAS = 3.0


@pjit
def _log_transmission(counts, air, dark, epsilon, out):  # type: ignore[no-untyped-def]
    """out = -ln(max((counts - dark) / (air - dark), epsilon)) for scalar air and dark levels."""
    rows, cols = counts.shape
    inv = 1.0 / (air - dark)
    eps = np.float32(epsilon)
    for i in prange(rows):
        for j in range(cols):
            t = np.float32((counts[i, j] - dark) * inv)
            if t < eps:
                t = eps
            out[i, j] = -np.log(t)


@pjit
def _apply_table(counts, table, out):  # type: ignore[no-untyped-def]
    """out = table[counts] for integer counts (a precomputed value for every possible count)."""
    rows, cols = counts.shape
    for i in prange(rows):
        for j in range(cols):
            out[i, j] = table[counts[i, j]]


@pjit
def _log_flat_field(counts, flat, dark, epsilon, out):  # type: ignore[no-untyped-def]
    """out = -ln(max((counts - dark) / (flat - dark), epsilon)) with per-pixel flat and dark."""
    rows, cols = counts.shape
    eps = np.float32(epsilon)
    for i in prange(rows):
        for j in range(cols):
            d = dark[i, j]
            gain = flat[i, j] - d
            t = eps
            if gain > 0.0:
                t = np.float32((counts[i, j] - d) / gain)
                if t < eps:
                    t = eps
            out[i, j] = -np.log(t)


def _counts_array(counts: Any) -> NDArray[Any]:
    """Validate raw counts; keep uint16/float32 as they are, cast anything else to float32."""
    arr = as_array(counts, "counts")
    check_real_dtype(arr, "counts")
    check_2d(arr, "counts")
    if arr.dtype not in (np.uint16, np.float32):
        with np.errstate(over="ignore"):  # beyond float32 becomes inf, reported below
            arr = arr.astype(np.float32)
    arr = np.ascontiguousarray(arr)
    check_finite(arr, "counts")
    return arr


def _field(value: Any, name: str, shape: tuple[int, int]) -> NDArray[np.float32]:
    """Broadcast a scalar, per-column (cols,), per-row (rows, 1) or full field to ``shape``."""
    arr = as_array(value, name)
    check_real_dtype(arr, name)
    try:
        full = np.broadcast_to(arr.astype(np.float32, copy=False), shape)
    except ValueError as exc:
        raise KernelInputError(
            f"{name} has shape {arr.shape}, which does not broadcast to the counts' shape {shape}; "
            "pass a scalar, a per-column (cols,) array or a full (rows, cols) field"
        ) from exc
    out = np.ascontiguousarray(full)
    check_finite(out, name)
    return out


def _epsilon(epsilon: Any) -> float:
    eps = positive_scalar(epsilon, "epsilon")
    if eps >= 1.0:
        raise KernelInputError(f"epsilon must be < 1 (a transmission), got {eps}")
    return eps


@serialized
def counts_to_attenuation(
    counts: NDArray[Any],
    air_level: float | None = None,
    *,
    flat: NDArray[Any] | float | None = None,
    dark: NDArray[Any] | float | None = None,
    epsilon: float = DEFAULT_EPSILON,
) -> NDArray[np.float32]:
    """Convert raw detector counts to attenuation ``-ln(I / I_air)``.

    Parameters
    ----------
    counts : ndarray, shape (rows, cols)
        Linear counts (larger = more photons = less attenuation), any integer or float dtype.
    air_level : float, optional
        Counts of unattenuated air. ``None`` (and no ``flat``) estimates it with
        :func:`estimate_air_level`.
    flat : ndarray or float, optional
        Flat (open-beam) field: scalar, per-column ``(cols,)`` or ``(rows, cols)``. When given,
        ``T = (counts - dark) / (flat - dark)`` per pixel; ``air_level`` must then be ``None``.
    dark : ndarray or float, optional
        Dark (beam-off) offset, same shapes as ``flat``; default 0.
    epsilon : float
        Smallest transmission before the logarithm (see the module notes); ``0 < epsilon < 1``.

    Returns
    -------
    ndarray of float32, shape (rows, cols)
        Attenuation; air ~ 0, larger = denser, at most ``-ln(epsilon)``.

    Raises
    ------
    KernelInputError
        Wrong shape, NaN/inf, both ``air_level`` and ``flat`` given, or air level not above dark.
    KernelDtypeError
        Non-numeric input.
    """
    arr = _counts_array(counts)
    eps = _epsilon(epsilon)
    out = np.empty(arr.shape, dtype=np.float32)
    shape = (int(arr.shape[0]), int(arr.shape[1]))
    if flat is not None:
        if air_level is not None:
            raise KernelInputError(
                "give either air_level or flat, not both: flat already defines the air level "
                "of every pixel"
            )
        flat_f = _field(flat, "flat", shape)
        dark_f = _field(0.0 if dark is None else dark, "dark", shape)
        if not np.any(flat_f > dark_f):
            raise KernelInputError("flat must be above dark somewhere; check the flat/dark fields")
        _log_flat_field(arr, flat_f, dark_f, eps, out)
        return out

    if dark is None:
        dark_level = 0.0
    elif np.ndim(dark) == 0:
        dark_level = real_scalar(dark, "dark")
    else:
        # A per-pixel dark field without a flat field: treat the air level as a scalar flat.
        air = estimate_air_level(arr) if air_level is None else real_scalar(air_level, "air_level")
        return counts_to_attenuation(arr, flat=air, dark=dark, epsilon=eps)
    air = estimate_air_level(arr) if air_level is None else real_scalar(air_level, "air_level")
    if air <= dark_level:
        raise KernelInputError(
            f"air_level ({air:g}) must be above the dark level ({dark_level:g}); "
            "check that counts are linear (larger = brighter) and not already log values"
        )
    if arr.dtype == np.uint16:
        # 65536 possible counts: compute each attenuation once, then look it up (same formula).
        levels = np.arange(65536, dtype=np.float32).reshape(1, -1)
        table = np.empty(levels.shape, dtype=np.float32)
        _log_transmission(levels, float(air), float(dark_level), eps, table)
        _apply_table(arr, table[0], out)
    else:
        _log_transmission(arr, float(air), float(dark_level), eps, out)
    return out


def grid_sample(image: NDArray[Any], max_pixels: int) -> NDArray[Any]:
    """An even grid of at most about ``max_pixels`` pixels of ``image`` (a strided view).

    Parameters
    ----------
    image : ndarray, shape (rows, cols)
        Any 2-D array.
    max_pixels : int
        Largest number of pixels wanted; the same stride is used along rows and columns.

    Returns
    -------
    ndarray, shape (ceil(rows / s), ceil(cols / s))
        ``image[::s, ::s]`` with ``s = ceil(sqrt(rows * cols / max_pixels))`` (at least 1), a
        view without copying: statistics of it stand for the whole image.
    """
    arr = np.asarray(image)
    if arr.ndim != 2:
        raise KernelInputError(f"image must be 2-D (rows, cols), got shape {arr.shape}")
    if max_pixels < 1:
        raise KernelInputError(f"max_pixels must be at least 1, got {max_pixels}")
    stride = max(1, math.ceil(math.sqrt(arr.size / max_pixels)))
    return arr[::stride, ::stride]


def _subsample(values: NDArray[Any], cols: int) -> NDArray[np.float64]:
    """At most about ``_MAX_SAMPLE`` strided values of ``values`` (flattened), as float64.

    The stride is made coprime with the row length ``cols`` so the sample covers every column
    (detector channel) instead of the same few columns in each row.
    """
    flat = values.ravel()
    step = max(1, -(-flat.size // _MAX_SAMPLE))
    while step > 1 and math.gcd(step, cols) != 1:
        step += 1
    return flat[::step].astype(np.float64)


def _bright_mode(sample: NDArray[np.float64]) -> float | None:
    """Median of the bright cluster of ``sample`` (see :func:`estimate_air_level`), or None."""
    high = float(np.quantile(sample, _HIGH_QUANTILE))
    if high <= 0.0:
        return None
    cand = sample[sample >= _AIR_FRACTION * high]
    if cand.size == 0:
        return None
    level = float(np.median(cand))
    for _ in range(2):
        spread = 1.4826 * float(np.median(np.abs(cand - level)))
        if spread == 0.0:
            break
        kept = cand[np.abs(cand - level) <= _AIR_SIGMAS * spread]
        if kept.size == 0:
            break
        level = float(np.median(kept))
    return level


def estimate_air_level(counts: NDArray[Any], *, body: NDArray[np.bool_] | None = None) -> float:
    """Estimate the unattenuated (air) count level of a raw scan.

    The estimate is the centre of the brightest cluster of pixels:

    1. candidates are the pixels outside ``body`` when a body mask is given, else all pixels (an
       even subsample of at most 65536 of them);
    2. the 99th percentile of the candidates is found (a few hot pixels, < 1 %, cannot move it)
       and pixels below half of it (body, dead channels) are dropped;
    3. the median of the rest is refined twice by keeping pixels within 3 robust standard
       deviations (1.4826 * MAD) of it, which drops thin body parts (hair, hands, arms).

    Per-channel gain stripes widen the air cluster symmetrically, so the median stays at the mean
    gain of the detector; :func:`kernels.destripe` removes the residual stripes later. A scan
    needs some air (beside, above or between the legs of the person): with none, pass
    ``air_level`` or a flat field to :func:`counts_to_attenuation` instead.

    Parameters
    ----------
    counts : ndarray, shape (rows, cols)
        Linear counts (larger = brighter).
    body : ndarray of bool, shape (rows, cols), optional
        True on the body; pixels outside it are the candidates (all pixels if fewer than 16).

    Returns
    -------
    float
        Air level in the units of ``counts``.

    Raises
    ------
    KernelInputError
        No bright region is found (all counts <= 0), or bad shapes/values.
    """
    arr = _counts_array(counts)
    sample = None
    if body is not None:
        mask = as_array(body, "body")
        if mask.shape != arr.shape:
            raise KernelInputError(
                f"body has shape {mask.shape} but counts has {arr.shape}; "
                "pass the mask of this scan"
            )
        outside = arr[~mask.astype(bool)]
        if outside.size >= 16:
            sample = _subsample(outside, arr.shape[1])
    if sample is None:
        sample = _subsample(arr, arr.shape[1])
    level = _bright_mode(sample)
    if level is None or level <= 0.0:
        raise KernelInputError(
            "no unattenuated (air) region found: all counts are <= 0; "
            "pass air_level explicitly or a flat field"
        )
    logger.debug("estimated air level %.6g from %d pixels", level, sample.size)
    return level


def log_to_attenuation(values: NDArray[Any], scale: float, offset: float) -> NDArray[np.float32]:
    """Convert log-scaled stored values to attenuation in natural units.

    ``attenuation = (values - offset) * scale``: ``offset`` is the stored value of air and
    ``scale`` the attenuation (natural log units) per stored unit. Use a negative ``scale`` when
    larger stored values mean less attenuation; e.g. stored ``v = 1000 * log10(I_air / I)`` has
    ``offset=0, scale=ln(10)/1000``.

    Parameters
    ----------
    values : ndarray, shape (rows, cols)
    scale : float
        Non-zero, finite.
    offset : float

    Returns
    -------
    ndarray of float32, shape (rows, cols)
    """
    img = float_image(values, "values")
    s = real_scalar(scale, "scale")
    if s == 0.0:
        raise KernelInputError("scale must be non-zero (attenuation per stored unit)")
    o = real_scalar(offset, "offset")
    out = img - np.float32(o)
    out *= np.float32(s)
    return out


def to_unit_range(
    image: NDArray[Any], low: float, high: float, *, clip: bool = True
) -> NDArray[np.float32]:
    """Map ``[low, high]`` linearly to ``[0, 1]`` (e.g. attenuation to a model's input range).

    Parameters
    ----------
    image : ndarray, shape (rows, cols)
    low, high : float
        Values mapped to 0 and 1; ``high > low``.
    clip : bool
        Clip the result to ``[0, 1]``.

    Returns
    -------
    ndarray of float32, shape (rows, cols)
    """
    img = float_image(image)
    lo = real_scalar(low, "low")
    hi = real_scalar(high, "high")
    if hi <= lo:
        raise KernelInputError(f"high ({hi}) must be greater than low ({lo})")
    out = img - np.float32(lo)
    out *= np.float32(1.0 / (hi - lo))
    if clip:
        np.clip(out, 0.0, 1.0, out=out)
    return out
