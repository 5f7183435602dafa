"""Tests of CenterNet target generation."""

from __future__ import annotations

import numpy as np
import pytest

from models.training.targets import make_targets


def test_peak_at_box_centre() -> None:
    """The heatmap is 1 at the cell holding the box centre and lower everywhere else."""
    boxes = np.array([[40.0, 20.0, 24.0, 60.0]], np.float32)  # centre (52, 50) px -> cell (13, 12)
    t = make_targets(boxes, np.array([2]), (32, 32), num_classes=6, stride=4)
    iy, ix = np.unravel_index(np.argmax(t.heatmap[2]), t.heatmap[2].shape)
    assert (iy, ix) == (12, 13)
    assert t.heatmap[2, 12, 13] == 1.0
    assert np.count_nonzero(t.heatmap[2] == 1.0) == 1
    assert t.heatmap[[0, 1, 3, 4, 5]].max() == 0.0


def test_regression_targets_at_centre() -> None:
    """log(wh), offset and mask are set only at the centre cell, with the right values."""
    boxes = np.array([[10.0, 6.0, 10.0, 20.0]], np.float32)  # centre (15, 16) -> cell (3.75, 4.0)
    t = make_targets(boxes, np.array([0]), (16, 16), num_classes=1, stride=4)
    assert t.mask.sum() == 1.0 and t.mask[4, 3] == 1.0
    np.testing.assert_allclose(t.offset[:, 4, 3], [0.75, 0.0])
    np.testing.assert_allclose(np.exp(t.log_wh[:, 4, 3]), [10.0, 20.0], rtol=1e-6)


def test_gaussian_follows_box_shape() -> None:
    """A tall box spreads its Gaussian further along rows than along columns."""
    boxes = np.array([[48.0, 16.0, 16.0, 96.0]], np.float32)
    t = make_targets(boxes, np.array([0]), (40, 40), num_classes=1)
    cy, cx = 16, 14
    assert t.heatmap[0, cy + 3, cx] > t.heatmap[0, cy, cx + 3]


@pytest.mark.parametrize("box", [[-50.0, 0.0, 10.0, 10.0], [0.0, 0.0, 0.0, 5.0]])
def test_outside_or_empty_boxes_ignored(box: list[float]) -> None:
    """Boxes centred outside the map or with zero size produce no target."""
    t = make_targets(np.array([box], np.float32), np.array([0]), (8, 8), num_classes=1)
    assert t.heatmap.max() == 0.0 and t.mask.sum() == 0.0
