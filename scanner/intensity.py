"""How stored values relate to beam intensity, read from the image when the file does not say.

A DICOM file states it in Pixel Intensity Relationship (0028,1040, ``LIN`` or ``LOG``) and its
Sign (0028,1041); many CR and Secondary Capture files leave both out, and the Photometric
Interpretation, a display setting, is a poor guess (a LIN file shown MONOCHROME2 and a LOG file
shown MONOCHROME2 need opposite readings). A full-body transmission scan answers both questions
itself, because it has air beside the person:

1. **Sign.** The columns at the left and right edges (:data:`BORDER_FRACTION` of the width on
   each side) are air: flat, and at one end of the image's value range. If their median lies
   nearer the image's high end (99.5th percentile) than its low end (0.5th), higher values mean
   more intensity (sign ``+1``), otherwise less (``-1``).
2. **Relationship.** With the values turned so that higher = more intensity, the densest part of
   the body is compared with air and the image's darkest level: ``u = (q5 - q0.5) /
   (air - q0.5)``, where q5 is the 5th percentile (the torso, pelvis and bones). In linear
   counts a body several attenuation lengths thick transmits a few per cent of the air level,
   so ``u`` is small (0.005-0.06 on 40 simulated scans of every dose, kVp and body); in log
   values the same body lies a third of the way or more from the darkest level to air
   (0.22-0.48). ``u`` below :data:`LIN_BELOW` reads as ``LIN``, above :data:`LOG_ABOVE` as
   ``LOG``; between, the relationship is left undecided.

The reading is refused (``None``) when the edge columns are not air: their spread is more than
:data:`MAX_BORDER_SPREAD` of the image's range (a scan cropped to the body), or their median is
not near either end of it (:data:`MAX_AIR_MARGIN`).

Padding (pixels that are not image, e.g. a collimated border) is left out of the reading. A file
marks it with Pixel Padding Value (0028,0120); where it does not, :func:`find_frame` finds a
frame of edge rows and columns that all hold one value that is not air: exactly constant lines
do not occur in a measured image (air carries quantum noise), except where the detector
saturates, and saturated air has the value of the air beside the person. :func:`fill_padding`
then gives padded pixels the air's value, so no level estimated afterwards sees them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from kernels import grid_sample

__all__ = [
    "BORDER_FRACTION",
    "FRAME_CONTRAST",
    "LIN_BELOW",
    "LOG_ABOVE",
    "MAX_AIR_MARGIN",
    "MAX_BORDER_SPREAD",
    "MAX_FRAME_FRACTION",
    "Frame",
    "IntensityReading",
    "fill_padding",
    "find_frame",
    "read_intensity",
]

#: Fraction of the image width, on each side, taken as the air beside the person.
BORDER_FRACTION = 0.05
#: The edge columns' interquartile range must be at most this fraction of the image's range.
MAX_BORDER_SPREAD = 0.08
#: The edge columns' median must lie within this fraction of the image's range from one end
#: of it, measured against the distance from the other end.
MAX_AIR_MARGIN = 0.15
#: ``u`` below this: linear counts; above :data:`LOG_ABOVE`: log values; between: undecided.
LIN_BELOW = 0.12
LOG_ABOVE = 0.18
#: A constant edge is padding when its value lies this fraction of the image's range or more
#: from the air beside the person, or outside the image's range.
FRAME_CONTRAST = 0.2
#: A frame side takes at most this fraction of the image's height or width.
MAX_FRAME_FRACTION = 0.25
#: Largest number of pixels sampled for the percentiles.
_MAX_SAMPLES = 1 << 13


@dataclass(frozen=True)
class IntensityReading:
    """What the image says about its own encoding.

    Attributes
    ----------
    sign : int
        ``+1`` when higher values mean more beam intensity (air bright in value), ``-1`` when
        they mean more attenuation; DICOM's Pixel Intensity Relationship Sign convention.
    relationship : str or None
        ``"LIN"`` (values proportional to intensity), ``"LOG"`` (values linear in attenuation)
        or ``None`` when the image does not tell them apart.
    dense_level : float
        ``u``, the densest body level as a fraction of the way from the darkest level to air.
    air_margin : float
        Distance of the air level from its end of the range over the distance from the other.
    """

    sign: int
    relationship: str | None
    dense_level: float
    air_margin: float

    def describe(self) -> str:
        """One line for a conformance report or a normalisation step."""
        rel = self.relationship or "undecided between LIN and LOG"
        return (
            f"the air beside the person is at the {'high' if self.sign > 0 else 'low'} end of "
            f"the values (sign {self.sign:+d}); its densest part lies {self.dense_level:.2f} of "
            f"the way from the darkest level to air ({rel})"
        )


def _sample(values: NDArray[Any], padding: NDArray[np.bool_] | None) -> NDArray[np.float64]:
    """The finite, unpadded values of an even grid of at most :data:`_MAX_SAMPLES` pixels."""
    sample = np.asarray(grid_sample(values, _MAX_SAMPLES), dtype=np.float64).ravel()
    keep = np.isfinite(sample)
    if padding is not None:
        keep &= ~np.asarray(grid_sample(padding, _MAX_SAMPLES)).ravel()
    return sample[keep]


def _edges(values: NDArray[Any], padding: NDArray[np.bool_] | None) -> NDArray[np.float64]:
    """Sampled unpadded values of the left and right edge columns of the image: the first and
    last :data:`BORDER_FRACTION` of the columns that are not all padding (inside a frame)."""
    cols = values.shape[1]
    content = np.arange(cols) if padding is None else np.flatnonzero(~padding.all(axis=0))
    if content.size < 4:
        return np.empty(0)
    width = max(2, round(content.size * BORDER_FRACTION))
    sides = tuple(
        slice(int(idx[0]), int(idx[-1]) + 1) if idx[-1] - idx[0] + 1 == idx.size else idx
        for idx in (content[:width], content[-width:])
    )
    if padding is None:
        return np.concatenate([_sample(values[:, side], None) for side in sides])
    return np.concatenate([_sample(values[:, side], padding[:, side]) for side in sides])


def read_intensity(
    values: NDArray[Any], padding: NDArray[np.bool_] | None = None
) -> IntensityReading | None:
    """Read the sign and the LIN/LOG relationship of a full-body scan from its values.

    Parameters
    ----------
    values : ndarray, shape (rows, cols)
        Rescaled pixel values (any units, any offset), head at the top.
    padding : ndarray of bool, shape (rows, cols), optional
        True on pixels that are not image (DICOM Pixel Padding Value): left out of the reading.

    Returns
    -------
    IntensityReading or None
        None when the image has no air at its left and right edges to read from, or is flat.
    """
    arr = np.asarray(values)
    if arr.ndim != 2 or min(arr.shape) < 16:
        return None
    pad = padding if padding is not None and padding.shape == arr.shape else None
    border = _edges(arr, pad)
    sample = _sample(arr, pad)
    if border.size < 16 or sample.size < 256:
        return None
    lo, hi = np.percentile(sample, [0.5, 99.5])
    span = float(hi - lo)
    if not span > 0:
        return None
    q25, air, q75 = np.percentile(border, [25, 50, 75])
    if (q75 - q25) > MAX_BORDER_SPREAD * span:
        return None
    below, above = float(air - lo), float(hi - air)
    margin = min(below, above) / max(below, above, 1e-300)
    if margin > MAX_AIR_MARGIN:
        return None
    sign = 1 if above < below else -1
    turned = sample * sign
    darkest = float(np.percentile(turned, 0.5))
    dense = float(np.percentile(turned, 5.0))
    air_turned = float(air) * sign
    if not air_turned > darkest:
        return None
    u = (dense - darkest) / (air_turned - darkest)
    relationship = "LIN" if u < LIN_BELOW else "LOG" if u > LOG_ABOVE else None
    return IntensityReading(sign, relationship, float(u), float(margin))


@dataclass(frozen=True)
class Frame:
    """Edge lines of one constant value that is not air: padding the file does not mark.

    Attributes
    ----------
    value : float
        The frame's value, in the units of the values searched.
    top, bottom, left, right : int
        Rows or columns of frame on each side (0 where that side has none).
    """

    value: float
    top: int
    bottom: int
    left: int
    right: int

    def mask(self, shape: tuple[int, int]) -> NDArray[np.bool_]:
        """True on the frame's pixels, shape ``shape`` (rows, cols)."""
        mask = np.zeros(shape, dtype=np.bool_)
        rows, cols = shape
        mask[: self.top] = True
        mask[rows - self.bottom :] = True
        mask[:, : self.left] = True
        mask[:, cols - self.right :] = True
        return mask

    def describe(self) -> str:
        """One line for a normalisation step."""
        sides = ", ".join(
            f"{name} {n} px"
            for name, n in (
                ("top", self.top),
                ("bottom", self.bottom),
                ("left", self.left),
                ("right", self.right),
            )
            if n
        )
        return f"a frame of constant value {self.value:g} at the image's edges ({sides})"


def _constant_run(lines: NDArray[Any], limit: int) -> tuple[int, float]:
    """(count, value) of the leading lines of ``lines`` (shape (n, length)) that all hold the
    value of the first one; (0, nan) when the first is not constant or the run exceeds
    ``limit`` lines."""
    first = lines[0]
    value = first[0]
    if not np.isfinite(value) or not bool(np.all(first == value)):
        return 0, math.nan
    n = 1
    while n < lines.shape[0] and bool(np.all(lines[n] == value)):
        n += 1
        if n > limit:
            return 0, math.nan
    return n, float(value)


def find_frame(values: NDArray[Any]) -> Frame | None:
    """Find padding that the file does not mark: constant edge lines whose value is not air.

    Each side's outermost rows (or columns) that hold exactly one value form a candidate, up to
    :data:`MAX_FRAME_FRACTION` of the image. A candidate is padding when its value lies at
    least :data:`FRAME_CONTRAST` of the range of the image inside all candidates (0.5th to
    99.5th percentile) from the air (the median of that image's left and right edge columns,
    :data:`BORDER_FRACTION` of its width each), or outside that range by 2 % of it (padding
    brighter than air). Saturated air, constant but of the air's value, is not padding.

    Parameters
    ----------
    values : ndarray, shape (rows, cols)
        Stored or rescaled pixel values.

    Returns
    -------
    Frame or None
        None when no side has padding. Sides whose candidates are not padding count 0.
    """
    arr = np.asarray(values)
    if arr.ndim != 2 or min(arr.shape) < 16:
        return None
    rows, cols = arr.shape
    row_limit, col_limit = int(rows * MAX_FRAME_FRACTION), int(cols * MAX_FRAME_FRACTION)
    runs = {
        "top": _constant_run(arr, row_limit),
        "bottom": _constant_run(arr[::-1], row_limit),
        "left": _constant_run(arr.T, col_limit),
        "right": _constant_run(arr.T[::-1], col_limit),
    }
    if not any(n for n, _ in runs.values()):
        return None
    top, bottom, left, right = (runs[k][0] for k in ("top", "bottom", "left", "right"))
    inner = arr[top : rows - bottom, left : cols - right]
    if min(inner.shape) < 16:
        return None
    sample = _sample(inner, None)
    if sample.size < 256:
        return None
    lo, hi = (float(v) for v in np.percentile(sample, [0.5, 99.5]))
    span = hi - lo
    if not span > 0:
        return None
    air = float(np.median(_edges(inner, None)))
    kept: dict[str, int] = {}
    value = math.nan
    for side, (n, v) in runs.items():
        if not n:
            kept[side] = 0
            continue
        outside = v > hi + 0.02 * span or v < lo - 0.02 * span
        padding = abs(v - air) >= FRAME_CONTRAST * span or outside
        if padding and not (math.isnan(value) or v == value):
            padding = False  # one frame, one value: another constant edge is left alone
        if padding:
            value = v
        kept[side] = n if padding else 0
    if not any(kept.values()):
        return None
    return Frame(value, kept["top"], kept["bottom"], kept["left"], kept["right"])


def fill_padding(values: NDArray[Any], padding: NDArray[np.bool_]) -> NDArray[np.float64]:
    """A copy of ``values`` (shape (rows, cols)) with padded pixels set to the air's value: the
    median of the unpadded pixels of the left and right edge columns (:data:`BORDER_FRACTION`
    of the width each), or of all unpadded pixels where the edges are all padding."""
    out = np.array(values, dtype=np.float64)
    if padding.shape != out.shape or not padding.any():
        return out
    edges = _edges(out, padding)
    if edges.size == 0:
        edges = _sample(out, padding)
    if edges.size:
        out[padding] = float(np.median(edges))
    return out
