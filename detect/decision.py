"""Scan score and scan decision from calibrated peak confidences."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from detect.calibration import calibrate
from detect.result import Decision
from models.manifest import SCORE_CLASS, PlattParams, Thresholds

__all__ = ["decide", "scan_score"]


def scan_score(
    confidences: ArrayLike,
    labels: ArrayLike,
    classes: list[str],
    calibration: PlattParams | None = None,
) -> float:
    """Probability that the scan holds a phone, from its highest ``phone`` confidence.

    Parameters
    ----------
    confidences : array_like, shape (N,)
        Calibrated confidence of each peak.
    labels : array_like of int, shape (N,)
        Class index of each peak.
    classes : list of str
        Class names in channel order.
    calibration : PlattParams, optional
        Scan-level Platt parameters (``Calibration.scan``) applied to the highest phone
        confidence; None: that confidence is the score.

    Returns
    -------
    float
        In [0, 1]; 0 when there is no phone peak.
    """
    conf = np.asarray(confidences, dtype=np.float64)
    lab = np.asarray(labels, dtype=np.int64)
    sel = conf[lab == classes.index(SCORE_CLASS)]
    if not sel.size:
        return 0.0
    top = float(np.clip(sel.max(), 0.0, 1.0))
    if calibration is None:
        return top
    return float(calibrate([top], calibration)[0])


def decide(score: float, thresholds: Thresholds) -> Decision:
    """ALARM when ``score >= alarm``, CLEAR when ``score < clear_below``, else INCONCLUSIVE."""
    if score >= thresholds.alarm:
        return Decision.ALARM
    if score < thresholds.clear_below:
        return Decision.CLEAR
    return Decision.INCONCLUSIVE
