"""CenterNet decoding and class-wise NMS."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from detect.errors import InferenceError
from detect.postprocess import Detections, box_iou, decode, nms


def _maps(h: int = 16, w: int = 20, c: int = 2):
    return (
        np.zeros((c, h, w), np.float32),
        np.zeros((2, h, w), np.float32),
        np.zeros((2, h, w), np.float32),
    )


def _decode(heat, wh, off, **kw):
    args: dict[str, Any] = dict(
        stride=4,
        scale=(1.0, 1.0),
        valid_shape=(heat.shape[1] * 4, heat.shape[2] * 4),
        image_shape=(heat.shape[1] * 4, heat.shape[2] * 4),
        top_k=50,
        peak_min_score=0.05,
    )
    args.update(kw)
    return decode(heat, wh, off, **args)


def test_single_peak_gives_exact_box() -> None:
    """A peak at cell (5, 7) with offset (0.25, 0.75) and wh (10, 6) decodes to the exact box."""
    heat, wh, off = _maps()
    heat[0, 5, 7] = 0.9
    heat[0, 4:7, 6:9] = np.maximum(heat[0, 4:7, 6:9], 0.5)
    heat[0, 5, 7] = 0.9
    wh[:, 5, 7] = (10.0, 6.0)
    off[:, 5, 7] = (0.25, 0.75)
    dets = _decode(heat, wh, off)
    assert len(dets) == 1
    cx, cy = (7 + 0.25) * 4, (5 + 0.75) * 4
    np.testing.assert_allclose(dets.boxes[0], [cx - 5, cy - 3, 10, 6])
    assert dets.labels[0] == 0
    assert dets.scores[0] == pytest.approx(0.9)


def test_stride2_peak_and_padding_in_cells_of_two_pixels() -> None:
    """At stride 2 a cell is 2 input pixels: centres and the valid region scale with it."""
    heat, wh, off = _maps(h=32, w=40)
    heat[1, 11, 15] = 0.8
    heat[1, 30, 2] = 0.9  # in the padding below a valid height of 50 px (25 cells)
    wh[:, 11, 15] = (8.0, 12.0)
    off[:, 11, 15] = (0.5, 0.25)
    dets = _decode(heat, wh, off, stride=2, valid_shape=(50, 80), image_shape=(50, 80))
    assert len(dets) == 1 and dets.labels[0] == 1
    cx, cy = (15 + 0.5) * 2, (11 + 0.25) * 2
    np.testing.assert_allclose(dets.boxes[0], [cx - 4, cy - 6, 8, 12])


def test_anisotropic_scale_maps_to_original_pixels() -> None:
    """Working-pixel boxes are scaled per axis back to original pixels (rows x2.5, cols x2)."""
    heat, wh, off = _maps()
    heat[1, 3, 4] = 0.7
    wh[:, 3, 4] = (8.0, 12.0)
    off[:, 3, 4] = (0.5, 0.5)
    dets = _decode(heat, wh, off, scale=(2.5, 2.0), image_shape=(1000, 1000))
    cx, cy = 4.5 * 4, 3.5 * 4
    np.testing.assert_allclose(dets.boxes[0], [(cx - 4) * 2.0, (cy - 6) * 2.5, 8 * 2.0, 12 * 2.5])
    assert dets.labels[0] == 1


def test_boxes_clipped_to_image() -> None:
    """A box reaching past the top-left corner is clipped to the image."""
    heat, wh, off = _maps()
    heat[0, 0, 0] = 0.8
    wh[:, 0, 0] = (20.0, 30.0)
    dets = _decode(heat, wh, off, image_shape=(40, 50))
    np.testing.assert_allclose(dets.boxes[0], [0.0, 0.0, 10.0, 15.0])


def test_peaks_in_padding_are_ignored() -> None:
    """Peaks in output cells that lie wholly in the zero padding are not decoded."""
    heat, wh, off = _maps()
    heat[0, 2, 2] = 0.6
    heat[0, 12, 15] = 0.9
    wh[:] = 4.0
    dets = _decode(heat, wh, off, valid_shape=(40, 40))
    assert len(dets) == 1
    assert dets.scores[0] == pytest.approx(0.6)


def test_only_local_maxima_above_threshold_and_top_k() -> None:
    """Non-maxima and sub-threshold peaks are dropped; top_k keeps the highest, descending."""
    heat, wh, off = _maps()
    heat[0, 2, 2], heat[0, 2, 3] = 0.9, 0.8  # 0.8 is next to a higher cell: no peak
    heat[0, 8, 8] = 0.7
    heat[1, 12, 12] = 0.6
    heat[1, 14, 2] = 0.04  # below peak_min_score
    wh[:] = 4.0
    dets = _decode(heat, wh, off)
    np.testing.assert_allclose(dets.scores, [0.9, 0.7, 0.6], rtol=1e-6)
    assert list(dets.labels) == [0, 0, 1]
    top2 = _decode(heat, wh, off, top_k=2)
    np.testing.assert_allclose(top2.scores, [0.9, 0.7], rtol=1e-6)


def test_empty_heatmap_gives_no_detections() -> None:
    """An all-zero heatmap decodes to nothing."""
    dets = _decode(*_maps())
    assert len(dets) == 0
    assert dets.boxes.shape == (0, 4)


def test_mismatched_outputs_raise() -> None:
    """Outputs of disagreeing spatial shape are refused with a clear error."""
    heat, wh, off = _maps()
    with pytest.raises(InferenceError, match="disagree in shape"):
        _decode(heat, wh[:, :5], off)


def test_core_keeps_only_centres_inside_it() -> None:
    """With a core (tiled inference) only peaks whose centre lies in it are kept."""
    heat, wh, off = _maps()
    heat[0, 2, 2] = 0.9  # centre (row 8 + 100, col 8 + 200) in working pixels
    heat[1, 8, 8] = 0.8  # centre (row 32 + 100, col 32 + 200)
    wh[:] = 4.0
    dets = _decode(heat, wh, off, image_shape=(400, 400), origin=(100, 200))
    assert len(dets) == 2
    kept = _decode(
        heat, wh, off, image_shape=(400, 400), origin=(100, 200), core=(100, 120, 200, 220)
    )
    assert len(kept) == 1 and kept.labels[0] == 0
    edge = _decode(
        heat, wh, off, image_shape=(400, 400), origin=(100, 200), core=(100, 200, 200, 208)
    )
    assert len(edge) == 0  # col 208 is the core's exclusive end


def test_concat_sorts_by_score() -> None:
    """Detections of several tiles merge into one set in descending score order."""
    a = Detections(np.ones((2, 4)), np.array([0, 1]), np.array([0.9, 0.3]))
    b = Detections(np.full((1, 4), 2.0), np.array([2]), np.array([0.5]))
    merged = Detections.concat([a, Detections.empty(), b])
    np.testing.assert_array_equal(merged.scores, [0.9, 0.5, 0.3])
    np.testing.assert_array_equal(merged.labels, [0, 2, 1])
    assert merged.boxes[1, 0] == 2.0
    assert len(Detections.concat([])) == 0


def test_box_iou_known_values() -> None:
    """IoU of identical, half-overlapping and disjoint boxes."""
    box = np.array([0.0, 0.0, 10.0, 10.0])
    others = np.array([[0, 0, 10, 10], [5, 0, 10, 10], [20, 20, 5, 5]], dtype=float)
    np.testing.assert_allclose(box_iou(box, others), [1.0, 50 / 150, 0.0])


def test_nms_is_class_wise() -> None:
    """Overlapping boxes suppress within a class but not across classes."""
    boxes = np.array([[0, 0, 10, 10], [1, 0, 10, 10], [1, 1, 10, 10], [50, 50, 5, 5]], float)
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    labels = np.array([0, 0, 1, 0])
    keep = nms(boxes, scores, labels, iou_threshold=0.5)
    assert list(keep) == [0, 2, 3]


def test_local_maxima_match_maximum_filter() -> None:
    """Peaks equal those of scipy's 3 x 3 maximum filter, plateaus and borders included."""
    from scipy import ndimage

    from detect.postprocess import _local_maxima

    rng = np.random.default_rng(5)
    heat = rng.uniform(0, 1, (3, 23, 17)).astype(np.float32)
    heat[0, 4:6, 4:6] = 1.0  # plateau: all four cells are peaks
    heat = np.round(heat, 1)  # many ties
    pooled = ndimage.maximum_filter(heat, size=(1, 3, 3), mode="constant", cval=-np.inf)
    expected = np.nonzero((heat == pooled) & (heat >= 0.3))
    got = _local_maxima(heat, 0.3)
    order = np.lexsort(got[::-1])
    assert all(np.array_equal(g[order], e) for g, e in zip(got, expected, strict=True))
