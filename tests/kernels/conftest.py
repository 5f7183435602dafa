"""Shared fixtures and small synthetic images of the kernel tests."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

#: Shapes every kernel is checked on: single pixels, single rows/columns, odd and even sizes.
SHAPES = [(1, 1), (1, 7), (6, 1), (2, 3), (17, 31), (40, 26)]


def body_phantom(shape: tuple[int, int], rng: np.random.Generator) -> NDArray[np.float32]:
    """Attenuation of a standing body-like ellipse with a dense rectangle, air ~ 0, plus noise."""
    rows, cols = shape
    yy, xx = np.mgrid[0:rows, 0:cols].astype(np.float64)
    cy, cx = (rows - 1) / 2, (cols - 1) / 2
    ry, rx = max(rows * 0.4, 0.5), max(cols * 0.3, 0.5)
    inside = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1.0
    att = np.where(inside, 2.5 * np.sqrt(np.clip(1 - ((xx - cx) / rx) ** 2, 0, 1)), 0.0)
    r0, c0 = int(rows * 0.45), int(cols * 0.45)
    att[r0 : r0 + max(1, rows // 8), c0 : c0 + max(1, cols // 10)] += 0.8
    att += 0.02 * rng.standard_normal(shape)
    return att.astype(np.float32)


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded random generator."""
    return np.random.default_rng(1234)
