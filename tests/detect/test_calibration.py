"""Platt calibration maths."""

from __future__ import annotations

import numpy as np
import pytest

from detect.calibration import calibrate, calibrate_labels, fit_platt, logit, sigmoid
from detect.errors import InputError
from models.manifest import Calibration, CalibrationMethod, PlattParams


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
