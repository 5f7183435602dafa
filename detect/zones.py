"""Body zone of a finding, from the body mask and the finding's position.

The body's height runs from the top of the head (the first body row on the body's midline, so
raised hands do not count) to the last body row (the feet). It is split by fractions of
stature from anthropometric tables (chin ~0.13, shoulder ~0.18, hip joint ~0.47, crotch ~0.53,
ankle ~0.96 of stature from the vertex; the feet zone starts at 0.94, taking in a shoe's
upper). Above the legs, a finding whose centre lies outside the
run of body pixels on the midline (the trunk, neck or head in that row) is on an arm or hand, as
is anything above the head or, in the shoulder and chest rows, farther from the midline than
the shoulders reach (arms held out sideways).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from detect.result import BodyZone
from kernels import axis_run, body_mask

__all__ = ["BodyLayout", "ZoneBands", "assign_zone", "body_layout"]

logger = logging.getLogger(__name__)


#: Shoulder (bideltoid) breadth over chest breadth, with room for clothing.
SHOULDER_FACTOR = 1.5


@dataclass(frozen=True)
class ZoneBands:
    """Lower edges of the zones as fractions of body height from the top of the body."""

    head_neck: float = 0.17
    chest: float = 0.34
    abdomen: float = 0.45
    pelvis_groin: float = 0.56
    legs: float = 0.94


@dataclass(frozen=True)
class BodyLayout:
    """Where the body is in a (working-resolution) image.

    Attributes
    ----------
    mask : ndarray of bool, shape (ceil(rows / step), ceil(cols / step))
        Body pixels, on the image subsampled by ``step``.
    top, bottom : int
        Top of the head (first body row on the midline) and last body row of ``mask``
        (inclusive); its whole extent when it is empty.
    midline : float
        Column of ``mask`` on the body's vertical axis (median column of the body pixels).
    step : int
        Image pixels per mask pixel.
    trunk_half_width : float
        Half the chest's width in mask pixels (inf when unknown): in the shoulder and chest
        rows, body farther than :data:`SHOULDER_FACTOR` times this from the midline is arm.
    """

    mask: NDArray[np.bool_]
    top: int
    bottom: int
    midline: float
    step: int = 1
    trunk_half_width: float = float("inf")

    @property
    def height(self) -> int:
        """Body height in rows (at least 1)."""
        return max(1, self.bottom - self.top + 1)


def body_layout(image: NDArray[np.float32], step: int = 1) -> BodyLayout:
    """Body mask, vertical extent and midline of an attenuation image.

    Parameters
    ----------
    image : ndarray of float32, shape (rows, cols)
        Attenuation (air ~ 0), any pixel pitch.
    step : int
        Build the mask on every ``step``-th row and column (zones need no fine detail).

    Returns
    -------
    BodyLayout
        Falls back to the whole image when no body is found.
    """
    sub = np.ascontiguousarray(image[::step, ::step], dtype=np.float32)
    mask: NDArray[np.bool_] = np.asarray(body_mask(sub), dtype=np.bool_)
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        logger.debug("no body found in the scan; zones use the image extent")
        return BodyLayout(mask, 0, mask.shape[0] - 1, (mask.shape[1] - 1) / 2.0, step)
    per_col = np.cumsum(np.count_nonzero(mask, axis=0))
    midline = float(np.searchsorted(per_col, per_col[-1] / 2.0))
    mc = round(midline)
    on_axis = np.flatnonzero(mask[:, max(0, mc - 1) : mc + 2].any(axis=1))
    top = int(on_axis[0]) if on_axis.size else int(rows[0])
    bottom = int(rows[-1])
    height = max(1, bottom - top + 1)
    widths = [
        run[1] - run[0]
        for i in range(top + round(0.24 * height), top + round(ZoneBands().chest * height))
        if i < mask.shape[0] and (run := axis_run(mask[i], mc)) is not None
    ]
    half = float(np.percentile(widths, 25)) / 2.0 if widths else float("inf")
    return BodyLayout(mask, top, bottom, midline, step, half)


def assign_zone(
    layout: BodyLayout,
    center: tuple[float, float],
    bands: ZoneBands = ZoneBands(),
    margin: int = 15,
) -> BodyZone:
    """Body zone of a finding centred at ``center``.

    Parameters
    ----------
    layout : BodyLayout
        Body geometry of the image the centre refers to.
    center : tuple of float
        (row, col) of the finding's centre in that image's pixels.
    bands : ZoneBands
        Zone boundaries as fractions of body height.
    margin : int
        A centre farther than this many image pixels from any body pixel is outside the body.

    Returns
    -------
    BodyZone
    """
    rows, cols = layout.mask.shape
    center = (center[0] / layout.step, center[1] / layout.step)
    margin = max(1, round(margin / layout.step))
    r = int(np.clip(np.floor(center[0]), 0, rows - 1))
    c = int(np.clip(np.floor(center[1]), 0, cols - 1))
    if layout.mask.any():
        r0, r1 = max(0, r - margin), min(rows, r + margin + 1)
        c0, c1 = max(0, c - margin), min(cols, c + margin + 1)
        if not layout.mask[r0:r1, c0:c1].any():
            return BodyZone.OUTSIDE_BODY
    t = (center[0] - layout.top) / layout.height
    if t >= bands.legs:
        return BodyZone.FEET
    if t >= bands.pelvis_groin:
        return BodyZone.LEGS
    if t < 0.0 and layout.mask.any():
        return BodyZone.ARMS_HANDS
    run = axis_run(layout.mask[r], int(np.clip(round(layout.midline), 0, cols - 1)))
    if run is not None and not (run[0] - 1 <= c < run[1] + 1):
        return BodyZone.ARMS_HANDS
    lateral = abs(center[1] - layout.midline)
    if bands.head_neck <= t < bands.chest and lateral > SHOULDER_FACTOR * layout.trunk_half_width:
        return BodyZone.ARMS_HANDS  # arms held out sideways join the trunk at the shoulders
    if t < bands.head_neck:
        return BodyZone.HEAD_NECK
    if t < bands.chest:
        return BodyZone.CHEST
    if t < bands.abdomen:
        return BodyZone.ABDOMEN
    return BodyZone.PELVIS_GROIN
