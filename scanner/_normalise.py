"""Array half of the normalisation: rescaled DICOM values (or image values) to attenuation.

The rules are listed in :mod:`scanner._dicom`; these functions apply them to arrays and append a
human-readable line per step to ``steps``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

import kernels
from scanner.conformance import Conformance
from scanner.encoding import LOG_RANGE
from scanner.errors import UnsupportedScanError

#: Largest air offset (natural-log units) a calibrated LOG image is corrected for.
AIR_OFFSET_LIMIT = 0.25
#: Largest plausible span of natural-log attenuation in one image (exp(-30) ~ 1e-13).
MAX_LOG_RANGE = 30.0
#: Median attenuation of the body (pixels above :data:`BODY_FLOOR`) in a full-body scan: 2.38
#: on average over 40 simulated scans of 100-160 kVp and every body (SD 10 %, range 1.99-2.87).
BODY_MEDIAN = 2.4
#: Attenuation above which a pixel counts as body for :data:`BODY_MEDIAN`.
BODY_FLOOR = 0.3
#: A LOG image whose body median lies outside this range is not in natural-log units: the
#: lower end sits 25 % below the simulator's lowest body median (1.99) and above the base-10
#: values of any simulated scan (0.86-1.25); the upper end is twice the typical median.
PLAUSIBLE_BODY_MEDIAN = (1.5, 5.0)


def lin_to_attenuation(
    name: str,
    values: NDArray[np.float64],
    sign: int,
    slope: float,
    intercept: float,
    max_stored: int,
    steps: list[str],
) -> tuple[NDArray[np.float32], float]:
    if sign == -1:
        values = (slope * max_stored + intercept) + intercept - values
        steps.append("sign -1: flipped the values within the stored range")
    try:
        air = kernels.estimate_air_level(values)
        att = kernels.counts_to_attenuation(values, air)
    except kernels.KernelInputError as exc:
        raise UnsupportedScanError(
            f"{name}: LIN image without any bright (air) region ({exc}); check Pixel Intensity "
            "Relationship (0028,1040) and its Sign, or that the scanner exported raw counts"
        ) from exc
    steps.append(
        f"LIN counts: attenuation = -ln(I / I_air), air level I_air = {air:.6g} estimated "
        "from the unattenuated region beside the body"
    )
    return att, air


def log_to_attenuation(
    values: NDArray[np.float64],
    sign: int,
    slope: float,
    max_stored: int,
    conformance: Conformance,
    steps: list[str],
) -> NDArray[np.float32]:
    att = values if sign == -1 else -values
    steps.append(
        "LOG: rescaled value is the natural-log line integral"
        + ("" if sign == -1 else " negated (sign +1: higher = more intensity)")
    )
    span = float(np.ptp(att)) if att.size else 0.0
    fix = "Write Rescale Slope/Intercept so the rescaled value is -ln(I / I_air)"
    if span > MAX_LOG_RANGE:
        scale = (LOG_RANGE[1] - LOG_RANGE[0]) / (abs(slope) * max_stored)
        shifted = subtract_air_offset(att * scale, conformance, steps, always=True)
        problem = (
            f"LOG values span {span:.4g} units after rescale, more than any natural-log image "
            f"can ({MAX_LOG_RANGE:g}); the vendor's log scale is unknown"
        )
        return scale_to_body(shifted, scale, conformance, steps, problem=problem, fix=fix)
    shifted = subtract_air_offset(att, conformance, steps, always=False)
    return check_log_scale(shifted, conformance, steps, fix=fix)


def scale_to_body(
    att: NDArray[np.floating],
    assumed: float,
    conformance: Conformance,
    steps: list[str],
    *,
    problem: str,
    fix: str,
) -> NDArray[np.float32]:
    """Set an unknown log scale from the body; ``att`` is already at the ``assumed`` scale
    (the stored range spanning :data:`LOG_RANGE`) with air at 0. Without a body, it stays."""
    body = body_scale(att)
    if body is None:
        conformance.report(
            f"{problem}; assumed the stored range spans {LOG_RANGE[1] - LOG_RANGE[0]:g} "
            f"natural-log units. {fix}"
        )
        steps.append(f"unknown log scale: multiplied by the assumed {assumed:.6g}")
        return np.asarray(att, dtype=np.float32)
    conformance.report(
        f"{problem}, so the image was scaled to give the body the median attenuation of a "
        f"full-body scan ({BODY_MEDIAN:g}). {fix}"
    )
    steps.append(
        f"unknown log scale: multiplied by {assumed * body:.6g}, the body's median "
        f"attenuation set to {BODY_MEDIAN:g}"
    )
    return (att * body).astype(np.float32)


def check_log_scale(
    att: NDArray[np.floating], conformance: Conformance, steps: list[str], *, fix: str
) -> NDArray[np.float32]:
    """Rescale (and report) log attenuation whose body median is not a full-body scan's."""
    body = body_scale(att)
    if body is not None:
        median = BODY_MEDIAN / body
        lo, hi = PLAUSIBLE_BODY_MEDIAN
        if not lo <= median <= hi:
            conformance.report(
                f"the body's median attenuation is {median:.3g}, outside the {lo:g}-{hi:g} "
                "natural-log units of a full-body scan: the values are not -ln(I / I_air) "
                f"(log10? another unit?); scaled by {body:.4g} to the typical {BODY_MEDIAN:g}. "
                f"{fix}"
            )
            steps.append(f"log scale off (body median {median:.3g}): multiplied by {body:.4g}")
            return (att * body).astype(np.float32)
    return np.asarray(att, dtype=np.float32)


def body_scale(att: NDArray[np.floating]) -> float | None:
    """Factor that gives the body the median attenuation :data:`BODY_MEDIAN`.

    The body is the pixels above :data:`BODY_FLOOR` once scaled, so the factor is refined until
    it settles (at most six times). Returns None when fewer than 2 % of the pixels (sampled) are
    body at any step: the image is not a body scan, or its air is not 0.
    """
    flat = np.asarray(kernels.grid_sample(att, 1 << 15), dtype=np.float64).ravel()
    flat = flat[np.isfinite(flat)]
    factor = 1.0
    for _ in range(6):
        body = flat[flat * factor > BODY_FLOOR]
        if body.size < 0.02 * max(1, flat.size):
            return None
        new = BODY_MEDIAN / float(np.median(body))
        settled = abs(new - factor) <= 1e-3 * factor
        factor = new
        if settled:
            break
    return factor


def subtract_air_offset(
    att: NDArray[np.float64],
    conformance: Conformance,
    steps: list[str],
    *,
    always: bool,
) -> NDArray[np.float32]:
    """Shift log attenuation so the air region beside the body is 0.

    The air offset is the attenuation of the region :func:`kernels.estimate_air_level` finds
    (run on ``exp(-att)``). A calibrated image has an offset near 0 (noise, flat-field residue):
    it is subtracted when within :data:`AIR_OFFSET_LIMIT`, so every encoding maps air to the same
    0. A larger offset means the image has no air margin (cropped to the body) or offset values:
    it is then left alone and reported, unless ``always`` (log scale unknown: the offset is the
    only reference there is).
    """
    try:
        air_t = kernels.estimate_air_level(np.exp(-np.clip(att, -50.0, 50.0)))
    except kernels.KernelInputError:
        steps.append("no air region found: no air offset subtracted")
        return att.astype(np.float32)
    offset = -float(np.log(air_t))
    if not always and abs(offset) > AIR_OFFSET_LIMIT:
        conformance.report(
            f"the brightest region beside the body has attenuation {offset:.3g}, not ~0: the "
            "image has no air margin or its log values are offset; values kept as stored. "
            "Send uncropped scans calibrated so air is 0"
        )
        steps.append(f"air offset {offset:.4g} too large to be air: not subtracted")
        return att.astype(np.float32)
    steps.append(f"subtracted the air offset {offset:.4g} (attenuation of the air region)")
    return (att - offset).astype(np.float32)
