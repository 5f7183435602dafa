"""Removal of per-detector-channel gain stripes.

A line-scan body scanner builds the image from a linear detector array: each channel (a column
by default) has its own gain, which after the logarithm is an additive offset constant along
the scan direction, i.e. a stripe. The offsets are estimated robustly and subtracted:

1. ``delta[j] = median over rows of (image[:, j] - image[:, j - 1])``: the median ignores body
   edges, which cross a given pair of columns in few rows. At most 256 evenly spaced rows
   (every ``ceil(rows / 256)``-th row, from row 0) are used, which keeps the cost low without
   a visible loss;
2. ``profile = cumsum(delta)`` (``profile[0] = 0``) is the stripe pattern plus a smooth trend
   (anatomy, slow gain drift);
3. the trend is removed with a Gaussian of ``sigma`` channels (truncated at 4 sigma, edge values
   repeated), so only the channel-to-channel part remains:
   ``offset = profile - gaussian(profile, sigma)``;
4. ``out = image - offset[None, :]``.

Stripe patterns wider than a few ``sigma`` (a whole detector board) are kept on purpose: they
cannot be told apart from anatomy. The reference is the plain numpy version of the same steps
(``np.median``, ``np.cumsum``, ``scipy.ndimage.gaussian_filter1d(mode="nearest")``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import prange
from numpy.typing import NDArray

from kernels._config import jit, pjit, serialized
from kernels._validate import float_image, positive_scalar
from kernels.errors import KernelDtypeError, KernelInputError

__all__ = ["DEFAULT_STRIPE_SIGMA", "destripe", "stripe_profile"]

#: Gaussian width (channels) separating stripes from anatomy.
DEFAULT_STRIPE_SIGMA = 5.0

# Rows used for the medians (an even subsample of taller images).
_MAX_ROWS = 256

# Columns gathered together so the row-by-row reads stay within a cache line.
_BLOCK = 16


@pjit
def _column_steps(image, step, out):  # type: ignore[no-untyped-def]
    """out[j] = median over rows 0, step, 2 step, ... of (image[i, j] - image[i, j - 1])."""
    rows, cols = image.shape
    n = (rows + step - 1) // step
    out[0] = 0.0
    n_blocks = (cols - 1 + _BLOCK - 1) // _BLOCK
    for b in prange(n_blocks):
        j0 = 1 + b * _BLOCK
        j1 = min(cols, j0 + _BLOCK)
        buf = np.empty((j1 - j0, n), dtype=np.float32)
        for r in range(n):
            i = r * step
            for j in range(j0, j1):
                buf[j - j0, r] = image[i, j] - image[i, j - 1]
        for j in range(j0, j1):
            out[j] = np.median(buf[j - j0])


@jit
def _highpass_profile(steps, sigma):  # type: ignore[no-untyped-def]
    """cumsum(steps) minus its Gaussian smoothing (truncated at 4 sigma, edges repeated)."""
    n = steps.shape[0]
    profile = np.empty(n, dtype=np.float64)
    acc = 0.0
    for j in range(n):
        acc += steps[j]
        profile[j] = acc
    radius = int(4.0 * sigma + 0.5)
    weights = np.empty(2 * radius + 1, dtype=np.float64)
    total = 0.0
    for t in range(-radius, radius + 1):
        weights[t + radius] = np.exp(-0.5 * (t / sigma) ** 2)
        total += weights[t + radius]
    out = np.empty(n, dtype=np.float64)
    for j in range(n):
        smooth = 0.0
        for t in range(-radius, radius + 1):
            m = min(max(j + t, 0), n - 1)
            smooth += weights[t + radius] * profile[m]
        out[j] = profile[j] - smooth / total
    return out


@pjit
def _subtract_columns(image, offset, out):  # type: ignore[no-untyped-def]
    rows, cols = image.shape
    for i in prange(rows):
        for j in range(cols):
            out[i, j] = image[i, j] - offset[j]


def _check_args(axis: Any, sigma: Any) -> tuple[int, float]:
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise KernelDtypeError(f"axis must be 0 or 1, got {axis!r}")
    if int(axis) not in (0, 1):
        raise KernelInputError(
            f"axis must be 0 (stripes run along rows: one gain per column) or 1 (one gain per "
            f"row), got {axis}"
        )
    return int(axis), positive_scalar(sigma, "sigma")


@serialized
def stripe_profile(
    image: NDArray[Any], axis: int = 0, sigma: float = DEFAULT_STRIPE_SIGMA
) -> NDArray[np.float64]:
    """Estimate the additive per-channel offsets (see the module notes).

    Parameters
    ----------
    image : ndarray, shape (rows, cols)
        Attenuation (log domain, where a gain is an offset).
    axis : int
        Axis along which stripes are constant: 0 (default) means each column is a detector
        channel (the scan moves along the rows); 1 means each row is a channel.
    sigma : float
        Width in channels of the Gaussian that takes the smooth trend out of the profile.

    Returns
    -------
    ndarray of float64, shape (cols,) for ``axis=0`` or (rows,) for ``axis=1``
        Offset of each channel, to be subtracted.
    """
    ax, sg = _check_args(axis, sigma)
    img = float_image(image)
    if ax == 1:
        img = np.ascontiguousarray(img.T)
    steps = np.empty(img.shape[1], dtype=np.float64)
    _column_steps(img, max(1, -(-img.shape[0] // _MAX_ROWS)), steps)
    return np.asarray(_highpass_profile(steps, sg))


@serialized
def destripe(
    image: NDArray[Any], axis: int = 0, sigma: float = DEFAULT_STRIPE_SIGMA
) -> NDArray[np.float32]:
    """Remove per-detector-channel gain stripes from an attenuation image.

    Parameters
    ----------
    image : ndarray, shape (rows, cols)
        Attenuation ``-ln(I / I_air)`` (a channel gain is an additive offset there).
    axis : int
        Axis along which stripes are constant. 0 (default): stripes run along the rows
        direction, i.e. one gain per column (the detector array spans the columns and the scan
        moves along the rows). 1: one gain per row.
    sigma : float
        Width in channels (default 5) of the Gaussian that separates the channel-to-channel
        stripe pattern from the smooth trend; a feature much narrower than it across the
        channels and constant over most rows would be taken for a stripe.

    Returns
    -------
    ndarray of float32, shape (rows, cols)
    """
    ax, sg = _check_args(axis, sigma)
    img = float_image(image)
    offset = stripe_profile(img, ax, sg)
    if ax == 0:
        out = np.empty_like(img)
        _subtract_columns(img, offset, out)
        return out
    out_t = np.empty((img.shape[1], img.shape[0]), dtype=np.float32)
    _subtract_columns(np.ascontiguousarray(img.T), offset, out_t)
    return np.ascontiguousarray(out_t.T)
