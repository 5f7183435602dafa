"""Fixtures for the scanner tests: a synthetic body-like scan with air margins."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

#: Pixel spacing (row, column) in mm of the synthetic scan.
SPACING = (2.0, 1.5)


def body_attenuation(rows: int = 160, cols: int = 96) -> NDArray[np.float32]:
    """Noise-free line integral of a standing figure, shape (rows, cols), values 0..~5.

    Head, torso and legs are ellipses of smoothly varying thickness, with a denser spine, a
    phone-like rectangle at the waist and air (0) margins on both sides.
    """
    r, c = np.mgrid[0:rows, 0:cols].astype(np.float64)
    rn, cn = r / rows, (c - cols / 2) / cols
    att = np.zeros((rows, cols))

    def ellipse(r0: float, c0: float, rr: float, rc: float, peak: float) -> None:
        d = ((rn - r0) / rr) ** 2 + ((cn - c0) / rc) ** 2
        np.maximum(att, peak * np.sqrt(np.clip(1.0 - d, 0.0, None)), out=att)

    ellipse(0.10, 0.0, 0.07, 0.10, 2.5)  # head
    ellipse(0.42, 0.0, 0.27, 0.28, 3.8)  # torso
    ellipse(0.78, -0.10, 0.22, 0.09, 3.0)  # legs
    ellipse(0.78, 0.10, 0.22, 0.09, 3.0)
    spine = (np.abs(cn) < 0.02) & (rn > 0.18) & (rn < 0.62)
    att[spine] += 0.9
    phone = (rn > 0.55) & (rn < 0.62) & (cn > 0.05) & (cn < 0.14)
    att[phone] += 0.45
    return att.astype(np.float32)


@pytest.fixture(scope="session")
def attenuation() -> NDArray[np.float32]:
    """The synthetic attenuation map (noise-free)."""
    return body_attenuation()


@pytest.fixture(scope="session")
def transmission(attenuation: NDArray[np.float32]) -> NDArray[np.float32]:
    """``exp(-attenuation)``: the transmission the encoders take."""
    return np.exp(-attenuation.astype(np.float64)).astype(np.float32)
