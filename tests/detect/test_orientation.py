"""Scans stored turned: boxes of the upright scan mapped back to the stored frame."""

from __future__ import annotations

import numpy as np
import pytest

from detect.orientation import box_back, turned
from tests.detect.conftest import make_scan


def _bbox(mask: np.ndarray) -> tuple[float, float, float, float]:
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return (
        float(cols[0]),
        float(rows[0]),
        float(cols[-1] + 1 - cols[0]),
        float(rows[-1] + 1 - rows[0]),
    )


@pytest.mark.parametrize("turn", [0, 1, 2, 3])
def test_box_maps_back_to_the_same_pixels(turn: int) -> None:
    """The box of a pixel block in the turned image maps to its box in the stored image."""
    stored = np.zeros((37, 23), bool)
    stored[5:12, 14:21] = True
    box = box_back(_bbox(np.rot90(stored, turn)), stored.shape, turn)
    assert box == pytest.approx(_bbox(stored))


def test_turned_scan_swaps_spacing_on_quarter_turns() -> None:
    """A quarter turn swaps row and column spacing; a half turn keeps it; metadata stays."""
    scan = make_scan(np.arange(12, dtype=np.float32).reshape(3, 4), (1.0, 2.0))
    side = turned(scan, 1)
    assert side.image.shape == (4, 3) and side.spacing == (2.0, 1.0)
    assert side.stored_shape == scan.stored_shape
    assert turned(scan, 2).spacing == (1.0, 2.0)
    np.testing.assert_array_equal(turned(turned(scan, 1), 3).image, scan.image)
