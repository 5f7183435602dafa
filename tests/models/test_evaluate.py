"""Tests of calibration fitting, threshold choice and metrics."""

from __future__ import annotations

import numpy as np
import pytest

from models.manifest import Calibration, Thresholds
from models.training.evaluate import (
    ScanPrediction,
    _match,
    average_precision,
    choose_thresholds,
    compute_metrics,
    fit_calibration,
)


def _scan(raw: list[float], gt: bool, hit: bool = True) -> ScanPrediction:
    boxes = np.array([[10.0, 10.0, 20.0, 40.0]] * len(raw)).reshape(-1, 4)
    if not hit:
        boxes = boxes + 100.0
    gt_boxes = np.array([[10.0, 10.0, 20.0, 40.0]]) if gt else np.zeros((0, 4))
    pred = ScanPrediction(
        boxes=boxes,
        labels=np.zeros(len(raw), np.int64),
        raw=np.array(raw, float),
        gt_boxes=gt_boxes,
        gt_labels=np.zeros(len(gt_boxes), np.int64),
        objects=[{"kind": "smartphone", "concealment": "clothing"}] * len(gt_boxes),
        meta={"encoding": "lin"},
    )
    _match(pred)
    return pred


def test_ap_perfect_and_half() -> None:
    """AP is 1 when every detection is right, and about 0.5 when half the objects are missed."""
    assert average_precision(np.array([0.9, 0.8]), np.array([True, True]), 2) == pytest.approx(1.0)
    assert average_precision(np.array([0.9]), np.array([True]), 2) == pytest.approx(51 / 101)


def test_match_counts_duplicates_as_false() -> None:
    """Only the best-scoring of two peaks on one object matches it."""
    pred = _scan([0.9, 0.5], gt=True)
    assert pred.matched.tolist() == [True, False]
    assert pred.gt_hit_by.tolist() == [0]


def test_calibration_and_thresholds_separate_scans() -> None:
    """With separable scores the thresholds alarm on phones and clear the others."""
    rng = np.random.default_rng(0)
    preds = [_scan([float(rng.uniform(0.6, 0.95))], gt=True) for _ in range(60)]
    preds += [_scan([float(rng.uniform(0.03, 0.3))], gt=False) for _ in range(60)]
    cal = fit_calibration(preds)
    assert "phone" in cal.per_class and cal.per_class["phone"].a > 0
    th = choose_thresholds(preds, cal)
    assert th.clear_below <= th.alarm
    m = compute_metrics(preds, cal, th, n_boot=20)
    assert m["pd_at_alarm"]["value"] >= 0.98
    assert m["pfa_at_alarm"]["value"] <= 0.02
    assert m["ap50_phone"]["value"] == pytest.approx(1.0)
    assert m["n_scans"] == 120 and m["n_positive"] == 60
    assert m["phone_recall_by_kind"]["smartphone"]["n"] == 60


def test_metrics_count_misses() -> None:
    """A phone scan whose only peak is elsewhere counts as a miss and a false detection."""
    preds = [_scan([0.9], gt=True, hit=False), _scan([0.9], gt=True)]
    m = compute_metrics(preds, Calibration(), Thresholds(alarm=0.5, clear_below=0.2), n_boot=0)
    assert m["ap50_phone"]["value"] < 1.0
    assert m["false_phone_detections_per_scan_at_alarm"]["value"] == pytest.approx(0.5)
    assert m["phone_recall_by_kind"]["smartphone"]["value"] == pytest.approx(0.5)


def test_ap_agrees_with_pycocotools() -> None:
    """The bootstrap AP matches pycocotools' AP50 on a mixed set of hits, misses and negatives."""
    rng = np.random.default_rng(3)
    preds = [
        _scan([float(rng.uniform(0.2, 0.9))], gt=True, hit=bool(rng.random() < 0.7))
        for _ in range(30)
    ]
    preds += [_scan([float(rng.uniform(0.05, 0.6))], gt=False) for _ in range(20)]
    m = compute_metrics(preds, Calibration(), Thresholds(), n_boot=0)
    assert m["ap50_phone"]["value"] == pytest.approx(m["ap50_phone_pycocotools"], abs=0.01)
