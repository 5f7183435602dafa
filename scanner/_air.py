"""Air level of raw-count images (numpy; the reference the ``kernels`` package accelerates).

The air level ``I_air`` is the count of unattenuated beam. A standing person leaves air on both
sides and above the head, so the estimator looks there first:

1. candidates are the left and right 5 % of columns and the top 5 % of rows;
2. their 99th percentile is found (fewer than 1 % hot pixels cannot move it) and candidates below
   half of it (body, dead channels) are dropped;
3. the median of the rest is refined twice, keeping pixels within 3 robust standard deviations
   (1.4826 * MAD) of it, which drops thin body parts (hands, hair) at the edges.

If the borders hold no bright region (a scan cropped to the body) the whole image is used the same
way; if that fails too, :class:`AirLevelError` is raised.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

#: Smallest transmission before the logarithm: attenuation is capped at -ln(1e-6) = 13.8.
EPSILON = 1e-6
_BORDER = 0.05
_HIGH_QUANTILE = 0.99
_AIR_FRACTION = 0.5
_AIR_SIGMAS = 3.0


class AirLevelError(ValueError):
    """No unattenuated region could be found."""


def _border_sample(arr: NDArray[np.float64]) -> NDArray[np.float64]:
    rows, cols = arr.shape
    k = max(1, round(_BORDER * cols))
    t = max(1, round(_BORDER * rows))
    if 2 * k >= cols or t >= rows:
        return arr.ravel()
    return np.concatenate([arr[:, :k].ravel(), arr[:, cols - k :].ravel(), arr[:t, k:-k].ravel()])


def _bright_mode(sample: NDArray[np.float64]) -> float | None:
    high = float(np.quantile(sample, _HIGH_QUANTILE))
    if not high > 0.0:
        return None
    cand = sample[sample >= _AIR_FRACTION * high]
    level = float(np.median(cand))
    for _ in range(2):
        spread = 1.4826 * float(np.median(np.abs(cand - level)))
        if spread == 0.0:
            break
        kept = cand[np.abs(cand - level) <= _AIR_SIGMAS * spread]
        if kept.size == 0:
            break
        level = float(np.median(kept))
    return level


def estimate_air_level(counts: NDArray[np.floating] | NDArray[np.integer]) -> float:
    """Estimate the unattenuated count level of a raw scan (see the module docstring).

    Parameters
    ----------
    counts : ndarray, shape (rows, cols)
        Linear counts, larger = brighter.

    Returns
    -------
    float
        The air level, in the units of ``counts``.

    Raises
    ------
    AirLevelError
        When every count is <= 0.
    """
    arr = np.asarray(counts, dtype=np.float64)
    level = _bright_mode(_border_sample(arr))
    if level is None:
        level = _bright_mode(arr.ravel())
    if level is None or not level > 0.0:
        raise AirLevelError("no unattenuated (air) region found: all counts are <= 0")
    return level


def counts_to_attenuation(
    counts: NDArray[np.floating] | NDArray[np.integer], air_level: float
) -> NDArray[np.float32]:
    """``-ln(max(counts / air_level, EPSILON))`` as float32, shape of ``counts``."""
    t = np.asarray(counts, dtype=np.float64) / float(air_level)
    return (-np.log(np.maximum(t, EPSILON))).astype(np.float32)
