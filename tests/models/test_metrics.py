"""Tests of the held-out metrics: AP50, misses and false detections."""

from __future__ import annotations

import numpy as np
import pytest

from models.manifest import Calibration, Thresholds
from models.training.metrics import average_precision, compute_metrics, pd_at_pfa
from tests.models.conftest import scan_prediction


def test_ap_perfect_and_half() -> None:
    """AP is 1 when every detection is right, and about 0.5 when half the objects are missed."""
    assert average_precision(np.array([0.9, 0.8]), np.array([True, True]), 2) == pytest.approx(1.0)
    assert average_precision(np.array([0.9]), np.array([True]), 2) == pytest.approx(51 / 101)


def test_metrics_count_misses() -> None:
    """A phone scan whose only peak is elsewhere counts as a miss and a false detection."""
    preds = [scan_prediction([0.9], gt=True, hit=False), scan_prediction([0.9], gt=True)]
    m = compute_metrics(preds, Calibration(), Thresholds(alarm=0.5, clear_below=0.2), n_boot=0)
    assert m["ap50_phone"]["value"] < 1.0
    assert m["false_phone_detections_per_scan_at_alarm"]["value"] == pytest.approx(0.5)
    assert m["phone_recall_by_kind"]["smartphone"]["value"] == pytest.approx(0.5)


def test_ap_agrees_with_pycocotools() -> None:
    """The bootstrap AP matches pycocotools' AP50 on a mixed set of hits, misses and negatives."""
    rng = np.random.default_rng(3)
    preds = [
        scan_prediction([float(rng.uniform(0.2, 0.9))], gt=True, hit=bool(rng.random() < 0.7))
        for _ in range(30)
    ]
    preds += [scan_prediction([float(rng.uniform(0.05, 0.6))], gt=False) for _ in range(20)]
    m = compute_metrics(preds, Calibration(), Thresholds(), n_boot=0)
    assert m["ap50_phone"]["value"] == pytest.approx(m["ap50_phone_pycocotools"], abs=0.01)


def test_pd_at_pfa_allows_the_stated_share_of_false_alarms() -> None:
    """With 2 of 100 phone-free scans allowed to alarm, the threshold sits on the third highest
    phone-free score: phone scans must score above it; with none allowed, above the highest."""
    neg = [0.1] * 97 + [0.5, 0.7, 0.8]
    pos = [0.4, 0.5, 0.6, 0.9]
    scores = np.array(neg + pos)
    positive = np.array([False] * len(neg) + [True] * len(pos))
    assert pd_at_pfa(scores, positive, 0.02) == pytest.approx(0.5)
    assert pd_at_pfa(scores, positive, 0.0) == pytest.approx(0.25)
    assert pd_at_pfa(scores, positive, 1.0) == pytest.approx(1.0)
