"""Scan-level statistics against hand-worked values."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detect.result import Decision
from validation import metrics


class TestPdAtFa:
    """Pd at a false-alarm rate and its threshold."""

    NEG = np.arange(10) / 10  # 0.0 .. 0.9
    POS = np.array([0.95, 0.85, 0.8, 0.75, 0.2])

    def test_threshold_allows_floor_of_rate_times_negatives(self) -> None:
        """10 negatives: x = 0.1 allows 1 alarm -> t = 2nd highest (0.8); x < 0.1 -> t = 0.9."""
        assert metrics.threshold_at_fa(self.NEG, 0.1) == pytest.approx(0.8)
        assert metrics.threshold_at_fa(self.NEG, 0.05) == pytest.approx(0.9)
        assert metrics.threshold_at_fa(self.NEG, 0.3) == pytest.approx(0.6)

    def test_pd_counts_positives_strictly_above(self) -> None:
        """t = 0.8 at x = 0.1: positives 0.95, 0.85 exceed it (0.8 does not): Pd = 2/5."""
        scores = np.r_[self.POS, self.NEG]
        labels = np.r_[np.ones(5, bool), np.zeros(10, bool)]
        assert metrics.pd_at_fa(scores, labels, 0.1) == pytest.approx(2 / 5)
        assert metrics.pd_at_fa(scores, labels, 0.05) == pytest.approx(1 / 5)
        assert metrics.pd_at_fa(scores, labels, 0.3) == pytest.approx(4 / 5)

    def test_ties_at_threshold(self) -> None:
        """Negatives (0.5, 0.5, 0.1, 0.1): x = 0.25 allows 1 alarm, but the tie makes t = 0.5."""
        assert metrics.threshold_at_fa([0.5, 0.5, 0.1, 0.1], 0.25) == pytest.approx(0.5)
        assert metrics.threshold_at_fa([0.5, 0.5, 0.1, 0.1], 0.5) == pytest.approx(0.1)

    def test_everything_allowed(self) -> None:
        """x = 1 lets every negative alarm: t = -inf and every positive counts."""
        assert metrics.threshold_at_fa([0.2, 0.3], 1.0) == -math.inf
        assert metrics.pd_at_fa([0.0, 0.2, 0.3], [True, False, False], 1.0) == 1.0

    def test_undefined_without_both_classes(self) -> None:
        """No negatives (or no positives): None."""
        assert metrics.pd_at_fa([0.3, 0.4], [True, True], 0.1) is None
        assert metrics.roc_auc([0.3, 0.4], [False, False]) is None

    def test_bad_rate(self) -> None:
        """A rate outside [0, 1] is refused."""
        with pytest.raises(ValueError, match="fa must be a fraction"):
            metrics.threshold_at_fa([0.1], 1.5)


def test_roc_auc_with_ties() -> None:
    """pos (0.8, 0.4), neg (0.4, 0.1): pairs 1 + 1 + 0.5 (tie) + 1 = 3.5 of 4."""
    assert metrics.roc_auc([0.8, 0.4, 0.4, 0.1], [1, 1, 0, 0]) == pytest.approx(3.5 / 4)


def test_decision_rates() -> None:
    """pos: ALARM, INCONCLUSIVE; neg: ALARM, CLEAR, CLEAR -> Pd 1/2, Pfa 1/3, inconclusive 1/5."""
    d = metrics.decision_rates(
        [Decision.ALARM, "INCONCLUSIVE", "ALARM", "CLEAR", Decision.CLEAR],
        [True, True, False, False, False],
    )
    assert (d["alarm"], d["clear"], d["inconclusive"]) == (2, 2, 1)
    assert d["pd"] == pytest.approx(0.5)
    assert d["pfa"] == pytest.approx(1 / 3)
    assert d["inconclusive_rate"] == pytest.approx(0.2)
    assert d["inconclusive_rate_positive"] == pytest.approx(0.5)
    assert d["inconclusive_rate_negative"] == 0.0


def test_decision_rates_rejects_unknown_decision() -> None:
    """A string that is no Decision raises ValueError."""
    with pytest.raises(ValueError, match="MAYBE"):
        metrics.decision_rates(["MAYBE"], [True])


class TestCalibration:
    """Equal-width reliability bins and ECE."""

    def test_shared_bin(self) -> None:
        """Scores 0.12, 0.18 (labels 1, 0) share bin 1: |0.15 - 0.5| = 0.35; 0.95 (1) in bin 9:
        |0.95 - 1| = 0.05. ECE = (2 * 0.35 + 0.05) / 3 = 0.25."""
        cal = metrics.calibration([0.12, 0.18, 0.95], [1, 0, 1])
        assert cal.ece == pytest.approx(0.25)
        assert cal.count[1] == 2 and cal.count[9] == 1
        assert cal.mean_score[1] == pytest.approx(0.15)
        assert np.isnan(cal.mean_score[0])

    def test_one_goes_in_last_bin(self) -> None:
        """A score of exactly 1 falls in the last bin."""
        cal = metrics.calibration([1.0], [1], n_bins=4)
        assert cal.count.tolist() == [0, 0, 0, 1] and cal.ece == 0.0

    def test_bad_bins(self) -> None:
        """n_bins below 1 is refused."""
        with pytest.raises(ValueError, match="n_bins"):
            metrics.calibration([0.5], [1], n_bins=0)


class TestBootstrap:
    """Stratified percentile bootstrap."""

    def test_strata_sizes_are_kept(self) -> None:
        """Every resample has as many positives as the set (statistic = fraction positive)."""
        labels = np.array([1, 1, 0, 0, 0], bool)
        ci = metrics.bootstrap_ci(lambda i: {"prev": float(labels[i].mean())}, labels, n_boot=50)
        assert ci["prev"] == {"low": 0.4, "high": 0.4, "n_valid": 50}

    def test_reproducible_and_ordered(self) -> None:
        """Same seed, same interval; low <= high; undefined draws are left out."""
        rng = np.random.default_rng(1)
        scores = rng.random(40)
        labels = rng.random(40) < 0.5

        def stat(i: np.ndarray) -> dict[str, float | None]:
            return {"auc": metrics.roc_auc(scores[i], labels[i]), "never": None}

        a = metrics.bootstrap_ci(stat, labels, n_boot=100, seed=3)
        b = metrics.bootstrap_ci(stat, labels, n_boot=100, seed=3)
        assert a == b
        low, high = a["auc"]["low"], a["auc"]["high"]
        assert low is not None and high is not None and low <= high
        assert a["never"] == {"low": None, "high": None, "n_valid": 0}


def test_percentiles() -> None:
    """p50 and p95 of 1..100 by linear interpolation; None when empty."""
    assert metrics.percentiles(np.arange(1, 101)) == pytest.approx([50.5, 95.05])
    assert metrics.percentiles([]) == [None, None]


def test_exact_interval() -> None:
    """Clopper-Pearson: 0/10 -> [0, 1 - 0.025**(1/10)]; 10/10 -> [0.025**(1/10), 1]; n=0 -> None."""
    zero = metrics.exact_interval(0, 10)
    assert zero["low"] == 0.0 and zero["high"] == pytest.approx(1 - 0.025 ** (1 / 10))
    full = metrics.exact_interval(10, 10)
    assert full["low"] == pytest.approx(0.025 ** (1 / 10)) and full["high"] == 1.0
    half = metrics.exact_interval(5, 10)
    assert half["low"] == pytest.approx(0.187086, abs=1e-6)
    assert half["high"] == pytest.approx(0.812914, abs=1e-6)
    assert metrics.exact_interval(0, 0)["low"] is None


_scores = st.lists(st.floats(0.0, 1.0), min_size=2, max_size=40)


@settings(max_examples=60, deadline=None)
@given(_scores, st.data())
def test_pd_at_fa_properties(scores: list[float], data: st.DataObject) -> None:
    """Pd at FA never decreases with the rate, and the negatives above t never exceed floor(xN)."""
    labels = data.draw(st.lists(st.booleans(), min_size=len(scores), max_size=len(scores)))
    s, y = np.asarray(scores), np.asarray(labels, bool)
    if y.all() or not y.any():
        assert metrics.pd_at_fa(s, y, 0.1) is None
        return
    pds = [metrics.pd_at_fa(s, y, fa) for fa in (0.0, 0.01, 0.1, 0.3, 1.0)]
    assert all(a is not None and b is not None and a <= b for a, b in itertools.pairwise(pds))
    for fa in (0.0, 0.05, 0.25, 0.5):
        t = metrics.threshold_at_fa(s[~y], fa)
        assert np.sum(s[~y] > t) <= math.floor(fa * (~y).sum() + 1e-9)


@settings(max_examples=60, deadline=None)
@given(_scores, st.data())
def test_calibration_properties(scores: list[float], data: st.DataObject) -> None:
    """Bin counts add up to n and ECE lies in [0, 1]."""
    labels = data.draw(st.lists(st.booleans(), min_size=len(scores), max_size=len(scores)))
    cal = metrics.calibration(scores, labels)
    assert int(cal.count.sum()) == len(scores)
    assert cal.ece is not None and 0.0 <= cal.ece <= 1.0
