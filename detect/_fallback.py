"""Minimal stand-ins for kernels not yet in this build (``destripe``, ``body_mask``).

Used only while the numba kernels are not importable; the behaviour is close but not identical,
so a model must be trained and served with the same implementation.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage


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
