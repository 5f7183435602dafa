"""Platt calibration of raw heatmap peak scores: ``p = sigmoid(a * logit(raw) + b)``."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from detect.errors import InputError
from models.manifest import Calibration, PlattParams

__all__ = ["calibrate", "calibrate_labels", "fit_platt", "logit", "sigmoid", "uncalibrate"]

#: Raw scores are clipped to ``[EPS, 1 - EPS]`` before the logit.
EPS = 1e-6


def logit(p: ArrayLike) -> NDArray[np.float64]:
    """``log(p / (1 - p))`` with ``p`` clipped to ``[EPS, 1 - EPS]``; any shape."""
    q = np.clip(np.asarray(p, dtype=np.float64), EPS, 1.0 - EPS)
    return np.asarray(np.log(q) - np.log1p(-q), dtype=np.float64)


def sigmoid(z: ArrayLike) -> NDArray[np.float64]:
    """Numerically stable logistic function; any shape."""
    z = np.asarray(z, dtype=np.float64)
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


def calibrate(raw: ArrayLike, params: PlattParams) -> NDArray[np.float64]:
    """Calibrated probabilities of raw peak scores of one class.

    Parameters
    ----------
    raw : array_like, shape (N,)
        Raw heatmap peak scores in [0, 1].
    params : PlattParams
        Platt ``a`` and ``b`` of the class.

    Returns
    -------
    ndarray of float64, shape (N,)
        ``sigmoid(a * logit(raw) + b)``.
    """
    return sigmoid(params.a * logit(raw) + params.b)


def uncalibrate(p: ArrayLike, params: PlattParams) -> NDArray[np.float64]:
    """Raw scores that :func:`calibrate` maps to ``p`` (its inverse; needs ``params.a > 0``).

    Parameters
    ----------
    p : array_like, shape (N,)
        Calibrated probabilities.
    params : PlattParams

    Returns
    -------
    ndarray of float64, shape (N,)
        ``sigmoid((logit(p) - b) / a)``.

    Raises
    ------
    InputError
        If ``params.a`` is not positive (the mapping is then not increasing).
    """
    if not params.a > 0:
        raise InputError(f"Platt parameter a={params.a} is not positive: no increasing inverse")
    return sigmoid((logit(p) - params.b) / params.a)


def calibrate_labels(
    raw: ArrayLike, labels: ArrayLike, classes: list[str], calibration: Calibration
) -> NDArray[np.float64]:
    """Calibrate peaks of mixed classes.

    Parameters
    ----------
    raw : array_like, shape (N,)
        Raw peak scores.
    labels : array_like of int, shape (N,)
        Class index of each peak (into ``classes``).
    classes : list of str
        Class names, in heatmap channel order.
    calibration : Calibration
        Calibration section of the manifest.

    Returns
    -------
    ndarray of float64, shape (N,)
    """
    raw = np.asarray(raw, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    out = np.empty_like(raw)
    for idx in np.unique(labels):
        sel = labels == idx
        out[sel] = calibrate(raw[sel], calibration.params(classes[int(idx)]))
    return out


def fit_platt(
    raw: ArrayLike, positive: ArrayLike, *, l2: float = 1e-3, max_iter: int = 100
) -> PlattParams:
    """Fit Platt parameters on held-out peaks by Newton's method on the log loss.

    Parameters
    ----------
    raw : array_like, shape (N,)
        Raw peak scores.
    positive : array_like of bool, shape (N,)
        Whether each peak is a true detection.
    l2 : float
        Ridge penalty on ``a - 1`` and ``b`` (keeps the fit finite on separable data).
    max_iter : int
        Newton iterations at most.

    Returns
    -------
    PlattParams

    Raises
    ------
    InputError
        If the arrays differ in length or are empty.
    """
    x = logit(raw).ravel()
    y = np.asarray(positive, dtype=np.float64).ravel()
    if x.size == 0 or x.size != y.size:
        raise InputError(
            f"fit_platt needs equally long, non-empty raw and positive arrays, got {x.size} "
            f"and {y.size}"
        )
    theta = np.array([1.0, 0.0])
    prior = np.array([1.0, 0.0])
    design = np.stack([x, np.ones_like(x)], axis=1)
    for _ in range(max_iter):
        p = sigmoid(design @ theta)
        grad = design.T @ (p - y) + l2 * x.size * (theta - prior)
        hess = (design * (p * (1 - p))[:, None]).T @ design + l2 * x.size * np.eye(2)
        step = np.linalg.solve(hess, grad)
        theta -= step
        if np.abs(step).max() < 1e-9:
            break
    return PlattParams(a=float(theta[0]), b=float(theta[1]))
