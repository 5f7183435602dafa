"""Scan score and decision thresholds."""

from __future__ import annotations

import numpy as np
import pytest

from detect.decision import decide, scan_score
from detect.result import Decision
from models.manifest import PlattParams, Thresholds

CLASSES = ["phone", "blade"]


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        (0.0, Decision.CLEAR),
        (0.2499, Decision.CLEAR),
        (0.25, Decision.INCONCLUSIVE),
        (0.5999, Decision.INCONCLUSIVE),
        (0.6, Decision.ALARM),
        (1.0, Decision.ALARM),
    ],
)
def test_thresholds(score: float, expected: Decision) -> None:
    """ALARM at >= alarm, CLEAR below clear_below, INCONCLUSIVE between."""
    assert decide(score, Thresholds(alarm=0.6, clear_below=0.25)) is expected


def test_equal_thresholds_leave_no_inconclusive_band() -> None:
    """With clear_below == alarm every score is ALARM or CLEAR."""
    th = Thresholds(alarm=0.5, clear_below=0.5)
    assert decide(0.4999, th) is Decision.CLEAR
    assert decide(0.5, th) is Decision.ALARM


def test_thresholds_out_of_order_are_refused() -> None:
    """clear_below above alarm is a manifest error."""
    with pytest.raises(ValueError, match="must not exceed"):
        Thresholds(alarm=0.3, clear_below=0.5)


def test_scan_score_is_max_phone_confidence() -> None:
    """Only phone peaks count; no phone peak gives 0."""
    assert scan_score([0.4, 0.9, 0.7], [0, 1, 0], CLASSES) == pytest.approx(0.7)
    assert scan_score([0.9], [1], CLASSES) == 0.0
    assert scan_score([], [], CLASSES) == 0.0


def test_scan_score_applies_the_scan_calibration() -> None:
    """The scan-level Platt maps the highest phone confidence; no phone peak still gives 0."""
    params = PlattParams(a=2.0, b=1.0)
    expected = 1.0 / (1.0 + np.exp(-(2.0 * np.log(0.7 / 0.3) + 1.0)))
    assert scan_score([0.4, 0.7], [0, 0], CLASSES, params) == pytest.approx(expected)
    assert scan_score([0.9], [1], CLASSES, params) == 0.0
    assert scan_score([0.7], [0], CLASSES, PlattParams()) == pytest.approx(0.7)
