"""Platt calibration maths."""

from __future__ import annotations

import numpy as np
import pytest

from detect.calibration import (
    calibrate,
    calibrate_labels,
    fit_platt,
    fit_size_prior,
    logit,
    sigmoid,
    size_adjust,
)
from detect.errors import InputError
from models.manifest import Calibration, CalibrationMethod, PlattParams, SizePrior


def test_identity_parameters_keep_scores() -> None:
    """a=1, b=0 returns the raw score."""
    raw = np.array([0.01, 0.3, 0.5, 0.97])
    np.testing.assert_allclose(calibrate(raw, PlattParams()), raw, rtol=1e-9)


def test_known_value() -> None:
    """sigmoid(2 * logit(0.8) - 1) computed by hand."""
    expected = 1.0 / (1.0 + np.exp(-(2.0 * np.log(0.8 / 0.2) - 1.0)))
    got = calibrate([0.8], PlattParams(a=2.0, b=-1.0))
    assert got[0] == pytest.approx(expected, rel=1e-12)


def test_extremes_stay_finite_and_ordered() -> None:
    """Raw 0 and 1 map to finite probabilities in [0, 1] and order is preserved for a > 0."""
    got = calibrate([0.0, 0.5, 1.0], PlattParams(a=3.0, b=0.5))
    assert np.isfinite(got).all()
    assert 0.0 < got[0] < got[1] < got[2] <= 1.0


def test_sigmoid_logit_inverse() -> None:
    """sigmoid(logit(p)) == p away from the clip."""
    p = np.linspace(0.01, 0.99, 50)
    np.testing.assert_allclose(sigmoid(logit(p)), p, rtol=1e-10)
    assert sigmoid(np.array([-1000.0, 1000.0])).tolist() == [0.0, 1.0]


def test_per_class_parameters_applied_by_label() -> None:
    """Each peak uses its own class's parameters; classes without any are left as is."""
    classes = ["phone", "blade"]
    cal = Calibration(per_class={"phone": PlattParams(a=1.0, b=1.0)})
    got = calibrate_labels([0.5, 0.5], [0, 1], classes, cal)
    assert got[0] == pytest.approx(1 / (1 + np.exp(-1.0)))
    assert got[1] == pytest.approx(0.5)
    none = Calibration(method=CalibrationMethod.NONE, per_class=cal.per_class)
    np.testing.assert_allclose(calibrate_labels([0.5, 0.5], [0, 1], classes, none), [0.5, 0.5])


def test_fit_platt_recovers_parameters() -> None:
    """Labels drawn from a known Platt model give back its parameters."""
    rng = np.random.default_rng(0)
    raw = rng.uniform(0.02, 0.98, 20000)
    true = PlattParams(a=1.8, b=-0.7)
    y = rng.uniform(size=raw.size) < calibrate(raw, true)
    fit = fit_platt(raw, y, l2=0.0)
    assert fit.a == pytest.approx(true.a, abs=0.08)
    assert fit.b == pytest.approx(true.b, abs=0.08)


def test_fit_platt_rejects_bad_input() -> None:
    """Arrays of different lengths are refused."""
    with pytest.raises(InputError, match="equally long"):
        fit_platt([0.5, 0.6], [True])


def test_size_adjust_lowers_only_boxes_shorter_than_the_limit() -> None:
    """A class's prior adds slope * ln(long / min_long_mm) to the raw logit of boxes whose longer
    side is under the limit; longer boxes and other classes keep their scores."""
    classes = ["phone", "blade"]
    cal = Calibration(size_prior={"phone": SizePrior(slope=0.8, min_long_mm=45.0)})
    sizes = np.array([[47.0, 21.0], [20.0, 30.0], [30.0, 20.0], [20.0, 30.0]])
    got = size_adjust([0.4, 0.4, 0.4, 0.4], [0, 0, 0, 1], sizes, classes, cal)
    assert got[0] == pytest.approx(0.4)  # a mini phone's box keeps its score
    want = sigmoid(logit(0.4) + 0.8 * np.log(30.0 / 45.0))
    assert got[1] == pytest.approx(float(want)) and got[2] == pytest.approx(float(want))
    assert got[3] == pytest.approx(0.4)
    none = Calibration(method=CalibrationMethod.NONE, size_prior=cal.size_prior)
    np.testing.assert_allclose(size_adjust([0.4], [0], [[20.0, 30.0]], classes, none), [0.4])


def test_size_adjust_rejects_missing_sizes() -> None:
    """One size per peak, or a clear error."""
    cal = Calibration(size_prior={"phone": SizePrior(slope=0.3)})
    with pytest.raises(InputError, match="one size per peak"):
        size_adjust([0.4, 0.5], [0, 0], [[10.0, 10.0]], ["phone"], cal)


def test_fit_size_prior_recovers_the_slope() -> None:
    """Labels drawn from a known logistic model in score and shortfall give back its slope."""
    rng = np.random.default_rng(1)
    n = 40000
    raw = rng.uniform(0.02, 0.98, n)
    sizes = rng.uniform(10.0, 80.0, (n, 2))  # a quarter of the boxes under 45 mm
    a, c, b = 2.0, 1.5, -0.4
    shortfall = np.minimum(0.0, np.log(sizes.max(axis=1) / 45.0))
    y = rng.uniform(size=n) < sigmoid(a * logit(raw) + c * shortfall + b)
    prior = fit_size_prior(raw, sizes, y, l2=0.0)
    assert prior.slope == pytest.approx(c / a, abs=0.12) and prior.min_long_mm == 45.0
    # Platt scaling of the adjusted scores then recovers the whole model
    cal = Calibration(size_prior={"phone": prior})
    adjusted = size_adjust(raw, np.zeros(n, np.int64), sizes, ["phone"], cal)
    platt = fit_platt(adjusted, y, l2=0.0)
    assert platt.a == pytest.approx(a, abs=0.1)
    assert platt.b == pytest.approx(b, abs=0.1)


def test_fit_size_prior_without_size_effect_is_flat() -> None:
    """Sizes that say nothing give a slope near zero."""
    rng = np.random.default_rng(2)
    raw = rng.uniform(0.02, 0.98, 40000)
    sizes = rng.uniform(10.0, 80.0, (raw.size, 2))
    y = rng.uniform(size=raw.size) < raw
    assert abs(fit_size_prior(raw, sizes, y).slope) < 0.15


def test_fit_size_prior_rejects_bad_input() -> None:
    """Arrays of different lengths, and scores that do not rank peaks, are refused."""
    with pytest.raises(InputError, match="equally long"):
        fit_size_prior([0.5, 0.6], [[10.0, 10.0]], [True, False])
    rng = np.random.default_rng(3)
    raw = rng.uniform(0.02, 0.98, 5000)
    reversed_ = rng.uniform(size=raw.size) < sigmoid(-2.0 * logit(raw))
    with pytest.raises(InputError, match="not positive"):
        fit_size_prior(raw, rng.uniform(10.0, 150.0, (raw.size, 2)), reversed_)
