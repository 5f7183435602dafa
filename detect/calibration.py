"""Calibration of raw heatmap peak scores.

A class's raw peak score is first lowered where its box is shorter than the class's objects
can be (the manifest's size prior, :func:`size_adjust`), then Platt-scaled:
``p = sigmoid(a * logit(raw) + b)``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from detect.errors import InputError
from models.manifest import MIN_PHONE_LONG_MM, Calibration, PlattParams, SizePrior

__all__ = [
    "calibrate",
    "calibrate_labels",
    "fit_platt",
    "fit_size_prior",
    "logit",
    "sigmoid",
    "size_adjust",
    "uncalibrate",
]

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


def size_adjust(
    raw: ArrayLike,
    labels: ArrayLike,
    sizes_mm: ArrayLike,
    classes: list[str],
    calibration: Calibration,
) -> NDArray[np.float64]:
    """Raw peak scores lowered by the size prior of their class where the box is too short.

    Parameters
    ----------
    raw : array_like, shape (N,)
        Raw peak scores.
    labels : array_like of int, shape (N,)
        Class index of each peak (into ``classes``).
    sizes_mm : array_like, shape (N, 2)
        Box width and height of each peak, in mm.
    classes : list of str
        Class names, in heatmap channel order.
    calibration : Calibration
        Calibration section of the manifest; classes without a size prior keep their scores.

    Returns
    -------
    ndarray of float64, shape (N,)
        ``sigmoid(logit(raw) + slope * min(0, ln(long / min_long_mm)))`` for classes with a
        prior (``long``: the box's longer side), ``raw`` for the others.
    """
    out = np.array(raw, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    sizes = np.asarray(sizes_mm, dtype=np.float64).reshape(-1, 2)
    if sizes.shape[0] != out.shape[0]:
        raise InputError(
            f"size_adjust needs one size per peak, got {sizes.shape[0]} for {out.size} peaks"
        )
    for idx in np.unique(labels):
        prior = calibration.prior(classes[int(idx)])
        if prior is None:
            continue
        sel = labels == idx
        shift = prior.slope * _shortfall(sizes[sel], prior.min_long_mm)
        out[sel] = sigmoid(logit(out[sel]) + shift)
    return out


def _shortfall(sizes_mm: NDArray[np.float64], min_long_mm: float) -> NDArray[np.float64]:
    """``min(0, ln(long / min_long_mm))`` of boxes (long side floored at 1 mm), shape (N,)."""
    longest = np.maximum(sizes_mm.max(axis=1), 1.0)
    return np.asarray(np.minimum(0.0, np.log(longest / min_long_mm)), dtype=np.float64)


def fit_size_prior(
    raw: ArrayLike,
    sizes_mm: ArrayLike,
    positive: ArrayLike,
    *,
    min_long_mm: float = MIN_PHONE_LONG_MM,
    l2: float = 1e-3,
) -> SizePrior:
    """Fit a class's size prior on held-out peaks.

    A logistic model ``sigmoid(a * logit(raw) + c * min(0, ln(long / min_long_mm)) + b)`` is
    fitted on whether each peak is a true detection; the prior keeps ``slope = c / a`` (raw-logit
    units), so that Platt scaling fitted afterwards on the adjusted scores recovers the whole
    model.

    Parameters
    ----------
    raw : array_like, shape (N,)
        Raw peak scores.
    sizes_mm : array_like, shape (N, 2)
        Box width and height of each peak, in mm.
    positive : array_like of bool, shape (N,)
        Whether each peak is a true detection.
    min_long_mm : float
        Boxes at least this long keep their score (default: just under the smallest phone's
        46.7 mm).
    l2 : float
        Ridge penalty towards ``a = 1`` and no size or offset terms.

    Returns
    -------
    SizePrior

    Raises
    ------
    InputError
        If the arrays differ in length or are empty, or the fitted score slope is not positive.
    """
    x = logit(raw).ravel()
    sizes = np.asarray(sizes_mm, dtype=np.float64).reshape(-1, 2)
    y = np.asarray(positive, dtype=np.float64).ravel()
    if x.size == 0 or not x.size == y.size == sizes.shape[0]:
        raise InputError(
            f"fit_size_prior needs equally long, non-empty raw, sizes_mm and positive arrays, "
            f"got {x.size}, {sizes.shape[0]} and {y.size}"
        )
    design = np.column_stack([x, _shortfall(sizes, min_long_mm), np.ones_like(x)])
    theta = _fit_logistic(design, y, np.array([1.0, 0.0, 0.0]), l2)
    if not theta[0] > 0:
        raise InputError(
            f"the fitted score slope {theta[0]:.3g} is not positive: the raw scores do not rank "
            "these peaks; fit the prior on held-out peaks of a trained model"
        )
    return SizePrior(slope=float(theta[1] / theta[0]), min_long_mm=min_long_mm)


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
    design = np.stack([x, np.ones_like(x)], axis=1)
    theta = _fit_logistic(design, y, np.array([1.0, 0.0]), l2, max_iter)
    return PlattParams(a=float(theta[0]), b=float(theta[1]))


def _fit_logistic(
    design: NDArray[np.float64],
    y: NDArray[np.float64],
    prior: NDArray[np.float64],
    l2: float,
    max_iter: int = 100,
) -> NDArray[np.float64]:
    """Ridge logistic regression (penalty towards ``prior``) by Newton's method; (K,) weights."""
    theta = prior.astype(np.float64).copy()
    ridge = l2 * y.size
    for _ in range(max_iter):
        p = sigmoid(design @ theta)
        grad = design.T @ (p - y) + ridge * (theta - prior)
        hess = (design * (p * (1 - p))[:, None]).T @ design + ridge * np.eye(theta.size)
        step = np.linalg.solve(hess, grad)
        theta -= step
        if np.abs(step).max() < 1e-9:
            break
    return theta
