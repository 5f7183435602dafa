"""Minimal stand-ins for ``kernels.resample`` and ``kernels.destripe``.

Used only while the numba kernels are not importable; the behaviour is close but not identical,
so a model must be trained and served with the same implementation.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage


def resample(
    image: NDArray[np.float32], spacing: tuple[float, float], target_pitch: float
) -> NDArray[np.float32]:
    """Area-weighted resampling of ``image`` (rows, cols) to square ``target_pitch`` mm pixels."""
    rows, cols = image.shape
    out_rows = max(1, round(rows * spacing[0] / target_pitch))
    out_cols = max(1, round(cols * spacing[1] / target_pitch))
    fr, fc = rows / out_rows, cols / out_cols
    smoothed = image
    if fr > 1.0 or fc > 1.0:
        smoothed = ndimage.uniform_filter(
            image, size=(max(1, round(fr)), max(1, round(fc))), mode="nearest"
        )
    r = (np.arange(out_rows, dtype=np.float64) + 0.5) * fr - 0.5
    c = (np.arange(out_cols, dtype=np.float64) + 0.5) * fc - 0.5
    coords = np.meshgrid(r, c, indexing="ij")
    out = ndimage.map_coordinates(smoothed, coords, order=1, mode="nearest")
    return np.ascontiguousarray(out, dtype=np.float32)


def destripe(image: NDArray[np.float32]) -> NDArray[np.float32]:
    """Remove per-column (detector channel) offsets: subtract each column's median high-pass."""
    high = image - ndimage.uniform_filter1d(image, size=9, axis=1, mode="nearest")
    profile = np.median(high, axis=0)
    return np.ascontiguousarray(image - profile[None, :], dtype=np.float32)


def body_mask(image: NDArray[np.float32]) -> NDArray[np.bool_]:
    """Largest connected region clearly above air, holes filled; shape of ``image``."""
    smooth = ndimage.uniform_filter(np.asarray(image, dtype=np.float32), size=5)
    mask = smooth > 0.15
    labels, n = ndimage.label(mask)
    if n == 0:
        return mask
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    largest = labels == int(np.argmax(sizes))
    return np.asarray(ndimage.binary_fill_holes(largest), dtype=bool)


def window_level(
    image: NDArray[np.float32],
    window: float,
    level: float,
    invert: bool = False,
    gamma: float = 1.0,
) -> NDArray[np.uint8]:
    """Linear window/level to uint8 (``level ± window / 2`` → 0..255), optional inversion."""
    x = (np.asarray(image, dtype=np.float32) - (level - window / 2.0)) / max(window, 1e-6)
    x = np.clip(x, 0.0, 1.0)
    if gamma != 1.0:
        x = x**gamma
    if invert:
        x = 1.0 - x
    return np.asarray(np.round(x * 255.0), dtype=np.uint8)
