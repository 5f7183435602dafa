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

from kernels._config import jit, pjit, serialized
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


@jit
def _blur_row(row, col_src, weights, padded, out):  # type: ignore[no-untyped-def]
    """Convolve one row with the symmetric ``weights`` ("reflect" edges via ``col_src``)."""
    cols = out.shape[0]
    radius = weights.shape[0] // 2
    padded[radius : radius + cols] = row  # contiguous copy; only the margins are gathered
    for p in range(radius):
        padded[p] = row[col_src[p]]
        padded[radius + cols + p] = row[col_src[radius + cols + p]]
    # Slices, not padded[j + k]: an index Numba cannot prove >= 0 gets a wraparound check that
    # stops the loop from vectorising.
    w0 = weights[radius]
    mid = padded[radius : radius + cols]
    for j in range(cols):
        out[j] = w0 * mid[j]
    for t in range(1, radius + 1):
        w = weights[radius + t]
        left = padded[radius - t : radius - t + cols]
        right = padded[radius + t : radius + t + cols]
        for j in range(cols):
            out[j] += w * (left[j] + right[j])


@pjit
def _gaussian_unsharp(image, weights, col_src, row_src, amount, n_chunks, out):  # type: ignore[no-untyped-def]
    """Separable Gaussian blur, then ``image + amount * (image - blur)`` (the blur if nan).

    Each chunk of rows keeps its row-blurred rows in a ring of ``2 * radius + 1`` rows, so the
    intermediate image never goes through main memory.
    """
    rows, cols = image.shape
    radius = weights.shape[0] // 2
    taps = 2 * radius + 1
    sharpen = not np.isnan(amount)
    chunk = (rows + n_chunks - 1) // n_chunks
    for c in prange(n_chunks):
        r0 = c * chunk
        r1 = min(rows, r0 + chunk)
        ring = np.empty((taps, cols), dtype=np.float32)
        padded = np.empty(col_src.shape[0], dtype=np.float32)
        acc = np.empty(cols, dtype=np.float32)
        # Padded row p (source row row_src[p]) lives in ring slot p % taps; output row i needs
        # padded rows i .. i + 2 * radius.
        if r1 <= r0:
            continue
        for p in range(r0, r0 + 2 * radius):
            _blur_row(image[row_src[p]], col_src, weights, padded, ring[p % taps])
        for i in range(r0, r1):
            p = i + 2 * radius
            _blur_row(image[row_src[p]], col_src, weights, padded, ring[p % taps])
            w0 = weights[radius]
            centre = ring[(i + radius) % taps]
            for j in range(cols):
                acc[j] = w0 * centre[j]
            for t in range(1, radius + 1):
                w = weights[radius + t]
                above = ring[(i + radius - t) % taps]
                below = ring[(i + radius + t) % taps]
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
    out = np.empty_like(img)
    n_chunks = max(1, min(16, rows // 128))
    _gaussian_unsharp(
        img,
        weights,
        _reflect_index(cols, radius),
        _reflect_index(rows, radius),
        np.float32(amount),
        n_chunks,
        out,
    )
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
