"""Tests of the failure analysis of held-out predictions."""

from __future__ import annotations

import numpy as np

from models.training.evaluate import ScanPrediction, match_peaks
from models.training.failures import NO_OBJECT, PHONE_BOX, phone_failures


def _scan(
    boxes: list[list[float]],
    labels: list[int],
    raw: list[float],
    gt_boxes: list[list[float]],
    gt_labels: list[int],
    objects: list[dict[str, str]],
) -> ScanPrediction:
    pred = ScanPrediction(
        np.array(boxes, float).reshape(-1, 4),
        np.array(labels, np.int64),
        np.array(raw, float),
        np.array(gt_boxes, float).reshape(-1, 4),
        np.array(gt_labels, np.int64),
        objects,
        {},
    )
    match_peaks(pred)
    return pred


def test_phone_failures_split_unseen_phones_from_false_findings() -> None:
    """Phones with no peak are counted by kind and location; false findings by what they hit."""
    mini = {"kind": "mini_phone", "location": "shoe"}
    smart = {"kind": "smartphone", "location": "pocket"}
    bank = {"kind": "power_bank", "location": "pocket"}
    scans = [
        # the smartphone is found (low score), the mini phone in the shoe has no peak at all;
        # a confident phone peak sits on the power bank and another on bare body
        _scan(
            [[100, 100, 30, 60], [300, 100, 30, 50], [10, 10, 20, 20], [102, 104, 20, 40]],
            [0, 0, 0, 0],
            [0.05, 0.9, 0.8, 0.7],
            [[100, 100, 30, 60], [500, 900, 10, 24], [300, 100, 30, 50]],
            [0, 0, 1],
            [smart, mini, bank],
        ),
        # a scan without objects and without peaks
        _scan([], [], [], [], [], []),
    ]
    conf = [np.array([0.05, 0.9, 0.8, 0.7]), np.zeros(0)]
    out = phone_failures(scans, conf, level=0.1)
    assert out["phones"] == 2 and out["with_peak"] == 1
    assert out["without_peak_by_kind"] == {"mini_phone": 1}
    assert out["without_peak_by_location"] == {"shoe": 1}
    assert out["false_findings"] == {"power_bank": 1, NO_OBJECT: 1, PHONE_BOX: 1}
    assert out["false_findings_level"] == 0.1
    # below the level, unmatched peaks are not findings
    assert phone_failures(scans, conf, level=0.95)["false_findings"] == {}
