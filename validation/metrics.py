"""Scan-level statistics: ROC, Pd at a false-alarm rate, decision rates, calibration, bootstrap.

Definitions (repeated in every report):

* **Pd at x false alarms per scan** -- the threshold ``t`` is the smallest value such that the
  fraction of negative scans whose score *exceeds* ``t`` is at most ``x`` (with ``N`` negative
  scores sorted high to low, ``t`` is the ``floor(x N) + 1``-th of them); Pd is the fraction of
  positive scans whose score exceeds ``t``.
* **Decision Pd / Pfa** -- Pd = positive scans decided ALARM / positive scans; Pfa = negative
  scans decided ALARM / negative scans. INCONCLUSIVE counts as *not* alarming in both (neither a
  detection nor a false alarm) and is reported on its own as a rate.
* **ECE** -- expected calibration error of the scan score against "scan holds a phone":
  ``sum_b n_b / N * |mean score_b - fraction positive_b|`` over ``n_bins`` equal-width bins of
  [0, 1] (the last bin includes 1).
* **Bootstrap 95 % CI** -- percentile interval over resamples drawn with replacement separately
  from the positive and the negative scans (the set's prevalence is kept), fixed seed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from detect.result import Decision

#: False-alarm rates (per scan) at which Pd is reported.
FA_RATES: tuple[float, ...] = (0.01, 0.02, 0.05, 0.1)
#: Bins of the calibration (reliability) analysis.
DEFAULT_N_BINS = 10


def _arrays(scores: ArrayLike, labels: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    y = np.asarray(labels, dtype=bool).reshape(-1)
    if s.shape != y.shape:
        raise ValueError(f"scores ({s.size}) and labels ({y.size}) must have the same length")
    return s, y


def roc_auc(scores: ArrayLike, labels: ArrayLike) -> float | None:
    """Area under the ROC curve of scan scores (shape (n,)) vs labels (None without both classes).

    Ties count one half (Mann-Whitney), as in scikit-learn.
    """
    from sklearn.metrics import roc_auc_score

    s, y = _arrays(scores, labels)
    if y.all() or not y.any():
        return None
    return float(roc_auc_score(y, s))


def roc_points(
    scores: ArrayLike, labels: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """ROC curve as (false-alarm rate, Pd) arrays of shape (n_points,) (empty if undefined)."""
    from sklearn.metrics import roc_curve

    s, y = _arrays(scores, labels)
    if y.all() or not y.any():
        return np.zeros(0), np.zeros(0)
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    return fpr.astype(np.float64), tpr.astype(np.float64)


def threshold_at_fa(negative_scores: ArrayLike, fa: float) -> float:
    """Smallest threshold ``t`` with at most a fraction ``fa`` of ``negative_scores`` above it.

    Returns ``-inf`` when every negative may alarm (``floor(fa N) >= N``).
    """
    neg = np.sort(np.asarray(negative_scores, dtype=np.float64).reshape(-1))[::-1]
    if not 0.0 <= fa <= 1.0:
        raise ValueError(f"fa must be a fraction in [0, 1], got {fa}")
    allowed = math.floor(fa * neg.size + 1e-9)
    if allowed >= neg.size:
        return -math.inf
    return float(neg[allowed])


def pd_at_fa(scores: ArrayLike, labels: ArrayLike, fa: float) -> float | None:
    """Fraction of positive scans scoring above :func:`threshold_at_fa` of the negatives.

    None when the set lacks positive or negative scans.
    """
    s, y = _arrays(scores, labels)
    if y.all() or not y.any():
        return None
    t = threshold_at_fa(s[~y], fa)
    return float(np.mean(s[y] > t))


#: Scan-score thresholds of the operating-point table.
OPERATING_THRESHOLDS: tuple[float, ...] = (0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def operating_points(
    scores: ArrayLike, labels: ArrayLike, thresholds: Sequence[float] = OPERATING_THRESHOLDS
) -> list[dict[str, float | None]]:
    """Pd and Pfa if the alarm threshold were ``t`` (alarm when score >= t, as the decision rule).

    Returns one ``{"threshold", "pd", "pfa"}`` per threshold (rates None without that class).
    """
    s, y = _arrays(scores, labels)
    out: list[dict[str, float | None]] = []
    for t in thresholds:
        alarm = s >= t
        out.append(
            {
                "threshold": float(t),
                "pd": float(alarm[y].mean()) if y.any() else None,
                "pfa": float(alarm[~y].mean()) if (~y).any() else None,
            }
        )
    return out


def decision_rates(decisions: Sequence[Decision | str], labels: ArrayLike) -> dict[str, object]:
    """Counts of each decision and the Pd / Pfa / inconclusive rates of the decision rule.

    Parameters
    ----------
    decisions : sequence of Decision or str, length n
    labels : array_like of bool, shape (n,)
        True for scans holding a phone.

    Returns
    -------
    dict
        ``alarm``, ``clear``, ``inconclusive`` (counts), ``pd``, ``pfa``, ``inconclusive_rate``
        (over all scans), ``inconclusive_rate_positive`` and ``inconclusive_rate_negative``;
        a rate is None when its denominator is 0.
    """
    d = np.asarray([Decision(x).value for x in decisions], dtype=object)
    y = np.asarray(labels, dtype=bool).reshape(-1)
    if d.size != y.size:
        raise ValueError(f"decisions ({d.size}) and labels ({y.size}) must have the same length")
    alarm = d == Decision.ALARM.value
    inconclusive = d == Decision.INCONCLUSIVE.value

    def rate(mask: NDArray[np.bool_], within: NDArray[np.bool_]) -> float | None:
        n = int(within.sum())
        return float((mask & within).sum() / n) if n else None

    everyone = np.ones_like(y)
    return {
        "alarm": int(alarm.sum()),
        "clear": int((d == Decision.CLEAR.value).sum()),
        "inconclusive": int(inconclusive.sum()),
        "pd": rate(alarm, y),
        "pfa": rate(alarm, ~y),
        "inconclusive_rate": rate(inconclusive, everyone),
        "inconclusive_rate_positive": rate(inconclusive, y),
        "inconclusive_rate_negative": rate(inconclusive, ~y),
    }


@dataclass(frozen=True)
class Calibration:
    """Reliability of scan scores.

    Attributes
    ----------
    ece : float or None
        Expected calibration error (None for an empty set).
    n_bins : int
    edges : ndarray of float64, shape (n_bins + 1,)
    count : ndarray of int64, shape (n_bins,)
    mean_score, frac_positive : ndarray of float64, shape (n_bins,)
        NaN in empty bins.
    """

    ece: float | None
    n_bins: int
    edges: NDArray[np.float64]
    count: NDArray[np.int64]
    mean_score: NDArray[np.float64]
    frac_positive: NDArray[np.float64]


def calibration(scores: ArrayLike, labels: ArrayLike, n_bins: int = DEFAULT_N_BINS) -> Calibration:
    """Equal-width reliability bins and ECE of scores in [0, 1] (shape (n,)) vs labels."""
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    s, y = _arrays(scores, labels)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.clip(np.floor(s * n_bins).astype(np.int64), 0, n_bins - 1)
    count = np.bincount(idx, minlength=n_bins).astype(np.int64)
    sum_s = np.bincount(idx, weights=s, minlength=n_bins)
    sum_y = np.bincount(idx, weights=y.astype(np.float64), minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_s = np.where(count > 0, sum_s / np.maximum(count, 1), np.nan)
        frac_y = np.where(count > 0, sum_y / np.maximum(count, 1), np.nan)
    ece = None
    if s.size:
        gaps = np.abs(np.nan_to_num(mean_s) - np.nan_to_num(frac_y))
        ece = float(np.sum(count / s.size * gaps))
    return Calibration(ece, n_bins, edges, count, mean_s, frac_y)


def exact_interval(k: int, n: int, level: float = 0.95) -> dict[str, float | int | None]:
    """Clopper-Pearson interval of a proportion ``k / n`` (bounds None when ``n`` is 0)."""
    from scipy.stats import beta

    if n <= 0:
        return {"low": None, "high": None, "k": k, "n": n}
    alpha = 1.0 - level
    low = 0.0 if k == 0 else float(beta.ppf(alpha / 2, k, n - k + 1))
    high = 1.0 if k == n else float(beta.ppf(1 - alpha / 2, k + 1, n - k))
    return {"low": low, "high": high, "k": k, "n": n}


def percentiles(values: ArrayLike, qs: Sequence[float] = (50.0, 95.0)) -> list[float | None]:
    """Percentiles (linear interpolation) of ``values`` (shape (n,)); None for an empty array."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if v.size == 0:
        return [None for _ in qs]
    return [float(x) for x in np.percentile(v, qs)]


Statistic = Callable[[NDArray[np.intp]], Mapping[str, float | None]]


def bootstrap_ci(
    statistic: Statistic,
    labels: ArrayLike,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, dict[str, float | int | None]]:
    """Stratified percentile bootstrap of several statistics at once.

    Parameters
    ----------
    statistic : callable
        ``statistic(index)`` with ``index`` an int array of shape (n,) of drawn scan positions
        returns ``{name: value or None}`` (None: undefined on that resample, left out).
    labels : array_like of bool, shape (n,)
        Strata: positives and negatives are drawn separately, each to its own size.
    n_boot : int
        Resamples.
    seed : int
        Seed of the generator (reports are reproducible).
    level : float
        Coverage of the interval.

    Returns
    -------
    dict
        ``{name: {"low", "high", "n_valid"}}``; bounds None when no resample defined the value.
    """
    if n_boot < 0:
        raise ValueError(f"n_boot must be >= 0, got {n_boot}")
    y = np.asarray(labels, dtype=bool).reshape(-1)
    rng = np.random.default_rng(seed)
    pos = np.flatnonzero(y)
    neg = np.flatnonzero(~y)
    draws: dict[str, list[float]] = {}
    names: set[str] = set()
    for _ in range(n_boot):
        index = np.concatenate(
            [
                rng.choice(pos, size=pos.size, replace=True) if pos.size else pos,
                rng.choice(neg, size=neg.size, replace=True) if neg.size else neg,
            ]
        )
        for name, value in statistic(index).items():
            names.add(name)
            if value is not None and math.isfinite(value):
                draws.setdefault(name, []).append(float(value))
    alpha = (1.0 - level) / 2.0 * 100.0
    out: dict[str, dict[str, float | int | None]] = {}
    for name in sorted(names):
        values = np.asarray(draws.get(name, []))
        if values.size:
            low, high = np.percentile(values, [alpha, 100.0 - alpha])
            out[name] = {"low": float(low), "high": float(high), "n_valid": int(values.size)}
        else:
            out[name] = {"low": None, "high": None, "n_valid": 0}
    return out
