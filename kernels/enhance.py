"""Edge enhancement: unsharp masking.

``unsharp(image, radius, amount) = image + amount * (image - gaussian(image, radius))``, the same
as ``skimage.filters.unsharp_mask(image, radius, amount, preserve_range=True)`` (Gaussian
truncated at 4 sigma, "reflect" edges: d c b a | a b c d | d c b a), without clipping: the
result keeps the units of the input (overshoot beside edges is the point of the filter).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import prange
from numpy.typing import NDArray

from kernels._config import pjit, serialized
from kernels._validate import float_image, positive_scalar, real_scalar

__all__ = ["gaussian_blur", "unsharp"]

_TRUNCATE = 4.0


def _reflect_index(n: int, radius: int) -> NDArray[np.int64]:
    """Source index of each of the ``n + 2 * radius`` padded positions ("reflect" edges)."""
    pos = np.arange(-radius, n + radius, dtype=np.int64)
    period = 2 * n
    k = np.mod(pos, period)
    return np.where(k >= n, period - 1 - k, k)


def _gaussian_weights(sigma: float) -> NDArray[np.float32]:
    radius = int(_TRUNCATE * sigma + 0.5)
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    w = np.exp(-0.5 * (t / sigma) ** 2)
    return (w / w.sum()).astype(np.float32)


@pjit
def _blur_rows(image, weights, src, out):  # type: ignore[no-untyped-def]
    """Convolve each row with the symmetric ``weights`` (padded positions read from ``src``)."""
    rows, cols = image.shape
    radius = weights.shape[0] // 2
    for i in prange(rows):
        padded = np.empty(src.shape[0], dtype=np.float32)
        for p in range(src.shape[0]):
            padded[p] = image[i, src[p]]
        # Slices, not padded[j + k]: an index Numba cannot prove >= 0 gets a wraparound check
        # that stops the loop from vectorising.
        w0 = weights[radius]
        mid = padded[radius : radius + cols]
        acc = np.empty(cols, dtype=np.float32)
        for j in range(cols):
            acc[j] = w0 * mid[j]
        for t in range(1, radius + 1):
            w = weights[radius + t]
            left = padded[radius - t : radius - t + cols]
            right = padded[radius + t : radius + t + cols]
            for j in range(cols):
                acc[j] += w * (left[j] + right[j])
        for j in range(cols):
            out[i, j] = acc[j]


@pjit
def _blur_cols_unsharp(image, blurred_rows, weights, src, amount, out):  # type: ignore[no-untyped-def]
    """Blur along columns; out = image + amount * (image - blur), or the blur if amount is nan."""
    rows, cols = image.shape
    radius = weights.shape[0] // 2
    sharpen = not np.isnan(amount)
    for i in prange(rows):
        w0 = weights[radius]
        centre = blurred_rows[src[i + radius]]
        acc = np.empty(cols, dtype=np.float32)
        for j in range(cols):
            acc[j] = w0 * centre[j]
        for t in range(1, radius + 1):
            w = weights[radius + t]
            above = blurred_rows[src[i + radius - t]]
            below = blurred_rows[src[i + radius + t]]
            for j in range(cols):
                acc[j] += w * (above[j] + below[j])
        if sharpen:
            for j in range(cols):
                x = image[i, j]
                out[i, j] = x + amount * (x - acc[j])
        else:
            for j in range(cols):
                out[i, j] = acc[j]


def _run(img: NDArray[np.float32], sigma: float, amount: float) -> NDArray[np.float32]:
    weights = _gaussian_weights(sigma)
    radius = (weights.shape[0] - 1) // 2
    rows, cols = img.shape
    tmp = np.empty_like(img)
    _blur_rows(img, weights, _reflect_index(cols, radius), tmp)
    out = np.empty_like(img)
    _blur_cols_unsharp(img, tmp, weights, _reflect_index(rows, radius), np.float32(amount), out)
    return out


@serialized
def gaussian_blur(image: NDArray[Any], sigma: float) -> NDArray[np.float32]:
    """Gaussian blur, as ``scipy.ndimage.gaussian_filter(image, sigma, mode="reflect")``.

    Parameters
    ----------
    image : ndarray, shape (rows, cols)
    sigma : float
        Standard deviation in pixels, > 0; truncated at 4 sigma.

    Returns
    -------
    ndarray of float32, shape (rows, cols)
    """
    img = float_image(image)
    return _run(img, positive_scalar(sigma, "sigma"), float("nan"))


@serialized
def unsharp(image: NDArray[Any], radius: float = 1.0, amount: float = 1.0) -> NDArray[np.float32]:
    """Sharpen edges by unsharp masking (see the module notes).

    Parameters
    ----------
    image : ndarray, shape (rows, cols)
    radius : float
        Standard deviation (pixels) of the Gaussian blur, > 0.
    amount : float
        Gain of the detail (``image - blur``); 0 returns the image unchanged, negative values
        soften.

    Returns
    -------
    ndarray of float32, shape (rows, cols)
        Not clipped.
    """
    img = float_image(image)
    r = positive_scalar(radius, "radius")
    a = real_scalar(amount, "amount")
    return _run(img, r, a)
