"""Resampling to a working pixel pitch, anti-aliased when shrinking.

The result equals ``skimage.transform.resize(image, shape, order=1, anti_aliasing=True,
mode="reflect")`` (Gaussian pre-filter with ``sigma = max(0, (factor - 1) / 2)`` per axis, truncated
at 4 sigma, then bilinear interpolation on pixel centres, mirror boundaries) up to float32 rounding.
Both steps are linear and separable, so each axis becomes one small banded weight matrix and the
kernel applies the two matrices in two passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from numba import prange
from numpy.typing import ArrayLike, NDArray

from kernels._config import pjit, serialized
from kernels._validate import float_image, pair
from kernels.errors import KernelDtypeError, KernelInputError

__all__ = ["Resampled", "resample", "resize"]

_TRUNCATE = 4.0


@pjit
def _resample_cols(image, index, weight, out):  # type: ignore[no-untyped-def]
    """out[i, o] = sum_m weight[o, m] * image[i, index[o, m]]."""
    rows = image.shape[0]
    n_out, taps = index.shape
    for i in prange(rows):
        for o in range(n_out):
            acc = np.float32(0.0)
            for m in range(taps):
                acc += weight[o, m] * image[i, index[o, m]]
            out[i, o] = acc


@pjit
def _resample_rows(image, index, weight, out):  # type: ignore[no-untyped-def]
    """out[o, j] = sum_m weight[o, m] * image[index[o, m], j]."""
    cols = image.shape[1]
    n_out, taps = index.shape
    for o in prange(n_out):
        for j in range(cols):
            out[o, j] = 0.0
        for m in range(taps):
            w = weight[o, m]
            r = index[o, m]
            for j in range(cols):
                out[o, j] += w * image[r, j]


def _mirror(index: NDArray[np.int64], n: int) -> NDArray[np.int64]:
    """Map any integer index into [0, n) by mirroring about the end pixels (c b | a b c | b a)."""
    if n == 1:
        return np.zeros_like(index)
    period = 2 * n - 2
    k = np.mod(index, period)
    return np.where(k >= n, period - k, k)


@lru_cache(maxsize=64)
def _axis_weights(n_in: int, n_out: int) -> tuple[NDArray[np.intp], NDArray[np.float32]]:
    """Banded weights (index, weight), each (n_out, taps), of one axis: Gaussian then linear."""
    factor = n_in / n_out
    sigma = max(0.0, (factor - 1.0) / 2.0)
    if sigma > 1e-15:
        radius = int(_TRUNCATE * sigma + 0.5)
        t = np.arange(-radius, radius + 1, dtype=np.float64)
        g = np.exp(-0.5 * (t / sigma) ** 2)
        g /= g.sum()
    else:
        radius = 0
        g = np.ones(1)
    centre = (np.arange(n_out, dtype=np.float64) + 0.5) * factor - 0.5
    base = np.floor(centre)
    frac = centre - base
    # Linear interpolation between base and base + 1 of the Gaussian-filtered signal is one
    # filter of 2 * radius + 2 taps starting at base - radius.
    taps = 2 * radius + 2
    weight = np.zeros((n_out, taps), dtype=np.float64)
    weight[:, :-1] += (1.0 - frac)[:, None] * g[None, :]
    weight[:, 1:] += frac[:, None] * g[None, :]
    index = base.astype(np.int64)[:, None] - radius + np.arange(taps)[None, :]
    index = _mirror(index, n_in)
    idx = np.ascontiguousarray(index, dtype=np.intp)
    w = np.ascontiguousarray(weight, dtype=np.float32)
    idx.flags.writeable = False
    w.flags.writeable = False
    return idx, w


def _shape(value: Any) -> tuple[int, int]:
    try:
        items = [int(v) for v in value]
    except (TypeError, ValueError) as exc:
        raise KernelDtypeError(f"shape must be a (rows, cols) pair of ints, got {value!r}") from exc
    if len(items) != 2 or min(items) < 1:
        raise KernelInputError(f"shape must be two positive ints (rows, cols), got {value!r}")
    return (items[0], items[1])


# Relative cost of one tap of the column pass (a gather) and of the row pass (vectorised).
_GATHER_COST = 8.0


def _resize(img: NDArray[np.float32], shape: tuple[int, int]) -> NDArray[np.float32]:
    rows, cols = img.shape
    out_rows, out_cols = shape
    col_w = _axis_weights(cols, out_cols) if out_cols != cols else None
    row_w = _axis_weights(rows, out_rows) if out_rows != rows else None
    cols_first = True
    if col_w is not None and row_w is not None:
        # Both orders give the same result up to rounding; run the expensive pass on the
        # smaller image.
        tx = col_w[0].shape[1] * _GATHER_COST
        ty = row_w[0].shape[1]
        cost_cols_first = rows * out_cols * tx + out_rows * out_cols * ty
        cost_rows_first = out_rows * cols * ty + out_rows * out_cols * tx
        cols_first = cost_cols_first <= cost_rows_first
    if cols_first and col_w is not None:
        tmp = np.empty((rows, out_cols), dtype=np.float32)
        _resample_cols(img, col_w[0], col_w[1], tmp)
        img = tmp
    if row_w is not None:
        out = np.empty((out_rows, img.shape[1]), dtype=np.float32)
        _resample_rows(img, row_w[0], row_w[1], out)
        img = out
    if not cols_first and col_w is not None:
        tmp = np.empty((out_rows, out_cols), dtype=np.float32)
        _resample_cols(img, col_w[0], col_w[1], tmp)
        img = tmp
    return img


@serialized
def resize(image: NDArray[Any], shape: tuple[int, int]) -> NDArray[np.float32]:
    """Resize an image to ``shape``, anti-aliased when shrinking (see the module notes).

    Parameters
    ----------
    image : ndarray, shape (rows, cols)
    shape : (int, int)
        Output (rows, cols), each >= 1.

    Returns
    -------
    ndarray of float32, shape ``shape``
        A new array (a copy even when the shape does not change).
    """
    img = float_image(image)
    out = _resize(img, _shape(shape))
    return out.copy() if out is img else out


@dataclass(frozen=True, eq=False)
class Resampled:
    """A resampled image and the exact mapping back to the original pixel grid.

    Attributes
    ----------
    image : ndarray of float32, shape (rows, cols)
    spacing : tuple of float
        Exact (row, col) spacing in mm of ``image`` (``input spacing * input size / output size``,
        which differs from the requested pitch by the rounding of the output size).
    scale : tuple of float
        (row, col) output pixels per input pixel, ``output size / input size``.
    input_shape : tuple of int
        (rows, cols) of the original image.
    """

    image: NDArray[np.float32]
    spacing: tuple[float, float]
    scale: tuple[float, float]
    input_shape: tuple[int, int]

    def boxes_to_original(self, boxes: ArrayLike) -> NDArray[np.float64]:
        """Map ``[x, y, w, h]`` boxes (pixel-edge coordinates) from this image to the original.

        Parameters
        ----------
        boxes : array-like, shape (n, 4) or (4,)

        Returns
        -------
        ndarray of float64, same shape
        """
        arr = np.asarray(boxes, dtype=np.float64)
        if arr.shape[-1:] != (4,):
            raise KernelInputError(f"boxes must have shape (n, 4) [x, y, w, h], got {arr.shape}")
        factors = np.array([self.scale[1], self.scale[0], self.scale[1], self.scale[0]])
        return arr / factors

    def boxes_to_resampled(self, boxes: ArrayLike) -> NDArray[np.float64]:
        """Map ``[x, y, w, h]`` boxes from the original image to this one (inverse of the above)."""
        arr = np.asarray(boxes, dtype=np.float64)
        if arr.shape[-1:] != (4,):
            raise KernelInputError(f"boxes must have shape (n, 4) [x, y, w, h], got {arr.shape}")
        factors = np.array([self.scale[1], self.scale[0], self.scale[1], self.scale[0]])
        return arr * factors


@serialized
def resample(
    image: NDArray[Any],
    spacing: tuple[float, float] | float,
    target_pitch: tuple[float, float] | float,
) -> Resampled:
    """Resample an image with any (anisotropic) spacing to a target pixel pitch.

    Parameters
    ----------
    image : ndarray, shape (rows, cols)
    spacing : float or (float, float)
        Input (row, col) pixel spacing in mm.
    target_pitch : float or (float, float)
        Wanted (row, col) pitch in mm. The output size is ``max(1, round(size * spacing /
        pitch))`` per axis; the exact resulting spacing is returned.

    Returns
    -------
    Resampled
        The image, its exact spacing and the scale to map boxes back.
    """
    img = float_image(image)
    sp = pair(spacing, "spacing")
    pitch = pair(target_pitch, "target_pitch")
    rows, cols = img.shape
    shape = (
        max(1, round(rows * sp[0] / pitch[0])),
        max(1, round(cols * sp[1] / pitch[1])),
    )
    out = _resize(img, shape)
    if out is img:
        out = img.copy()
    return Resampled(
        image=out,
        spacing=(rows * sp[0] / shape[0], cols * sp[1] / shape[1]),
        scale=(shape[0] / rows, shape[1] / cols),
        input_shape=(int(rows), int(cols)),
    )
