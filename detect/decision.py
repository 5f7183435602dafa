"""Scan score and scan decision from calibrated peak confidences."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from detect.result import Decision
from models.manifest import SCORE_CLASS, Thresholds

__all__ = ["decide", "scan_score"]


def scan_score(confidences: ArrayLike, labels: ArrayLike, classes: list[str]) -> float:
    """Maximum calibrated ``phone`` confidence over all peaks (0 when there is none).

    Parameters
    ----------
    confidences : array_like, shape (N,)
        Calibrated confidence of each peak.
    labels : array_like of int, shape (N,)
        Class index of each peak.
    classes : list of str
        Class names in channel order.
    """
    conf = np.asarray(confidences, dtype=np.float64)
    lab = np.asarray(labels, dtype=np.int64)
    sel = conf[lab == classes.index(SCORE_CLASS)]
    return float(np.clip(sel.max(), 0.0, 1.0)) if sel.size else 0.0


def decide(score: float, thresholds: Thresholds) -> Decision:
    """ALARM when ``score >= alarm``, CLEAR when ``score < clear_below``, else INCONCLUSIVE."""
    if score >= thresholds.alarm:
        return Decision.ALARM
    if score < thresholds.clear_below:
        return Decision.CLEAR
    return Decision.INCONCLUSIVE
