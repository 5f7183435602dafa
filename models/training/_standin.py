"""A tiny synthetic stand-in for the simulator: rectangles and blobs on a noisy body-like shape.

Only used by the fast tests and for smoke runs (``--source standin``); real training uses
``scanner.simulate``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["standin_scan"]


def standin_scan(
    seed: int, shape: tuple[int, int] = (320, 160), spacing: tuple[float, float] = (2.0, 2.0)
) -> tuple[NDArray[np.float32], tuple[float, float], list[dict[str, Any]]]:
    """Make one stand-in scan.

    Parameters
    ----------
    seed : int
        Random seed; the same seed gives the same scan.
    shape : tuple of int
        (rows, cols) of the image.
    spacing : tuple of float
        Pixel spacing (row, col) in mm.

    Returns
    -------
    tuple
        (attenuation float32 (rows, cols), spacing, objects) where each object is a dict with
        ``category``, ``kind``, ``bbox`` [x, y, w, h] pixels, ``concealment`` and ``location``.
    """
    rng = np.random.default_rng(seed)
    rows, cols = shape
    yy, xx = np.mgrid[0:rows, 0:cols].astype(np.float32)
    body = 1.0 - ((xx - cols / 2) / (0.35 * cols)) ** 2
    att = np.clip(body, 0, None) ** 0.5 * rng.uniform(2.5, 4.0)
    # bone-like bright blobs (distractors)
    for _ in range(rng.integers(1, 4)):
        cy, cx = rng.uniform(0, rows), rng.uniform(0.3 * cols, 0.7 * cols)
        r = rng.uniform(4, 12)
        att += 0.8 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
    objects: list[dict[str, Any]] = []
    n_obj = int(rng.integers(0, 3))
    for _ in range(n_obj):
        category = "phone" if rng.random() < 0.7 else "battery"
        h = float(rng.uniform(20, 60))
        w = float(rng.uniform(10, 30))
        y0 = float(rng.uniform(0, rows - h))
        x0 = float(rng.uniform(0.2 * cols, 0.8 * cols - w))
        iy0, iy1, ix0, ix1 = int(y0), int(y0 + h), int(x0), int(x0 + w)
        att[iy0:iy1, ix0:ix1] += rng.uniform(0.8, 1.5)
        att[iy0 + 2 : iy1 - 2, ix0 + 2 : ix1 - 2] += 0.3  # internal structure
        objects.append(
            {
                "category": category,
                "kind": "smartphone" if category == "phone" else category,
                "bbox": [float(ix0), float(iy0), float(ix1 - ix0), float(iy1 - iy0)],
                "concealment": "clothing",
                "location": "pocket",
            }
        )
    att += rng.normal(0.0, 0.05, size=att.shape)
    return np.clip(att, 0, None).astype(np.float32), spacing, objects
