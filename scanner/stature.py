"""Pixel spacing estimated from the height of the person scanned, for files that state none.

A DICOM file without Pixel Spacing or Imager Pixel Spacing leaves the size of everything in
it unknown; scanners of this kind have pitches from 0.5 to 2 mm, so an assumed 1 mm can be off
by a factor of two, far beyond what a detector trained on true sizes tolerates. A standing
adult, however, measures about :data:`HEAD_TO_SOLE_MM` from the top of the head to the shoe
soles (adult statures of 1.5-2.0 m put most people within about 10 % of it), and a full-body
scan shows exactly that span. :func:`estimate_spacing` finds it in the attenuation image:

1. the body is :func:`kernels.body_mask` (the largest connected region above
   :data:`CONTENT_ATTENUATION` after a small box filter), and must span at least
   :data:`MIN_FILL` of the image's rows (a full-body scan, not a detail);
2. the body's midline is the centre of the widest solid part of the body 40-55 % of the way
   down it (the torso: wider than an arm or a handrail beside it);
3. the top of the head is where the body ends going up the midline from the torso, so hands
   raised above the head (beside it, or above it with air between) do not count; the soles
   are the body's last row;
4. a whole standing body is at least :data:`MIN_SLENDERNESS` times as tall as its torso is
   wide, has a head narrower than the torso (:data:`MAX_HEAD_WIDTH`) with air above it and,
   somewhere 70-95 % of the way from the head to the soles, air on the midline between the
   legs; an image without these (a part of a body, a person lying, a scan stored turned or
   upside down) is left without an estimate.

The estimate is square (the same spacing for rows and columns): a file that leaves the
spacing out says nothing about an anisotropic pitch either.

The same test of a whole standing person tells how a scan is stored: :func:`upright_turn`
finds the quarter turns (``numpy.rot90``) that stand the person up when the file holds them
on their side or upside down, so the detector, trained on people standing head up, can look at
them that way. Where the image alone cannot tell (a part of a body, arms that pass for legs),
:func:`stated_turn` reads the turn from what the file's Patient Orientation (0020,0020) says.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from kernels import DEFAULT_BODY_THRESHOLD, axis_run, body_mask

__all__ = [
    "CONTENT_ATTENUATION",
    "HEAD_TO_SOLE_MM",
    "MAX_HEAD_WIDTH",
    "MIN_FILL",
    "MIN_SLENDERNESS",
    "ORIENTATION_LETTERS",
    "estimate_spacing",
    "stated_turn",
    "upright_turn",
]

#: Height of a standing adult from the top of the head to the shoe soles, in mm (a stature of
#: about 1.70 m, between the adult male and female means, plus the soles).
HEAD_TO_SOLE_MM = 1720.0
#: Attenuation (-ln I/I_air) above which a smoothed pixel is part of the body.
CONTENT_ATTENUATION = DEFAULT_BODY_THRESHOLD
#: The body must span at least this fraction of the image rows.
MIN_FILL = 0.6
#: A standing person's top-to-bottom extent is at least this many times the torso's width
#: (about 4 arms down, 6 arms raised; a scan turned by 90 degrees gives about 1).
MIN_SLENDERNESS = 2.5
#: The head (the top 6 % of the head-to-sole extent) is at most this fraction of the torso's
#: width (about 0.4-0.6).
MAX_HEAD_WIDTH = 0.8
#: Estimates outside this range (mm) are refused: the image is not a full-body scan.
SPACING_RANGE = (0.25, 5.0)
#: The estimate works on images of at most about this many rows (taller ones are strided).
_WORK_ROWS = 1000
#: :func:`upright_turn` works on images of at most about this many rows and columns.
_TURN_ROWS = 400


def estimate_spacing(image: NDArray[np.floating]) -> float | None:
    """Pixel spacing of a full-body scan from the height of the person in it.

    Parameters
    ----------
    image : ndarray of float, shape (rows, cols)
        Attenuation (``-ln I/I_air``, air near 0, head at row 0), as :class:`scanner.Scan`
        holds it.

    Returns
    -------
    float or None
        Spacing in mm (for rows and columns alike), or None when the image does not look like
        a standing person filling the frame vertically (then nothing is known about its size).
    """
    small, step = _strided(image, _WORK_ROWS)
    if small is None:
        return None
    extent = _standing(small)
    if extent is None:
        return None
    head, bottom = extent
    spacing = HEAD_TO_SOLE_MM / ((bottom - head + 1) * step)
    if not SPACING_RANGE[0] <= spacing <= SPACING_RANGE[1]:
        return None
    return float(spacing)


def upright_turn(image: NDArray[np.floating]) -> int | None:
    """Quarter turns that stand the person in a full-body scan upright, head at the top.

    Parameters
    ----------
    image : ndarray of float, shape (rows, cols)
        Attenuation (``-ln I/I_air``, air near 0).

    Returns
    -------
    int or None
        ``k`` such that ``numpy.rot90(image, k)`` shows the person standing head up: 0 when the
        image already does, 2 when it is upside down, 1 or 3 when it is turned on its side
        (``numpy.rot90``'s counter-clockwise quarter turns). None when no turn shows a whole
        standing person (a part of a body, a person lying across the frame, not a body scan),
        or more than one does (raised arms can pass for legs): then the image should be taken
        as it is. An image that already shows a standing person is never turned.
    """
    small, _ = _strided(image, _TURN_ROWS)
    if small is None:
        return None
    if _standing(small) is not None:
        return 0
    turns = [k for k in (1, 2, 3) if _standing(np.rot90(small, k)) is not None]
    return turns[0] if len(turns) == 1 else None


#: Patient Orientation letters: anterior, posterior, right, left, head, feet (PS3.3 C.7.6.1.1.1).
ORIENTATION_LETTERS = frozenset("APRLHF")
#: Quarter turns that stand a person up, by the patient direction along a row and down a column
#: (the dominant, first letter of each).
_STATED_TURNS = {"F": {"col": 0, "row": 3}, "H": {"col": 2, "row": 1}}


def stated_turn(orientation: tuple[str, str] | None) -> int | None:
    """Quarter turns that stand the person upright, as the file's Patient Orientation states.

    Parameters
    ----------
    orientation : tuple of str or None
        Patient Orientation (0020,0020): the patient direction along a row (increasing column)
        and down a column (increasing row), each one or more of ``A P R L H F`` with the
        dominant direction first (``("L", "F")``: a frontal view, head at the top).

    Returns
    -------
    int or None
        ``k`` such that ``numpy.rot90(image, k)`` has the head at the top, as
        :func:`upright_turn` counts them: 0 for feet down the columns, 2 for head down the
        columns, 1 for head along the rows, 3 for feet along the rows. None when the value is
        missing or names head or feet on neither or both axes.
    """
    if orientation is None or len(orientation) != 2:
        return None
    row, col = (str(v).strip().upper()[:1] for v in orientation)
    if (row in _STATED_TURNS) == (col in _STATED_TURNS):
        return None
    if col in _STATED_TURNS:
        return _STATED_TURNS[col]["col"]
    return _STATED_TURNS[row]["row"]


def _strided(image: NDArray[np.floating], rows: int) -> tuple[NDArray[np.float32] | None, int]:
    """The image strided to at most about ``rows`` rows and columns, non-finite values 0."""
    img = np.asarray(image) if np.ndim(image) == 2 else None
    if img is None or min(img.shape) < 16:
        return None, 1
    step = max(1, math.ceil(max(img.shape) / rows))
    small = np.asarray(img[::step, ::step], dtype=np.float32)
    if not np.isfinite(small).any():
        return None, step
    small = np.nan_to_num(small, nan=0.0, posinf=0.0, neginf=0.0)
    return np.ascontiguousarray(small), step


def _standing(small: NDArray[np.float32]) -> tuple[int, int] | None:
    """(head row, sole row) of a whole person standing head up, or None (module docstring)."""
    # holes stay open: the platform under the feet would otherwise close the gap between legs
    body: NDArray[np.bool_] = np.asarray(
        body_mask(np.ascontiguousarray(small), CONTENT_ATTENUATION, fill_holes=False),
        dtype=np.bool_,
    )
    rows = np.flatnonzero(body.any(axis=1))
    if rows.size == 0:
        return None
    top, bottom = int(rows[0]), int(rows[-1])
    if bottom - top + 1 < MIN_FILL * small.shape[0]:
        return None
    span = bottom - top
    torso = body[top + int(0.4 * span) : top + int(0.55 * span) + 1]
    width = max(3, small.shape[1] // 8)
    profile = ndimage.uniform_filter1d(torso.sum(axis=0).astype(np.float32), width)
    widest = np.flatnonzero(profile >= 0.95 * profile.max())
    midline = int(widest[0] + widest[-1]) // 2
    torso_width = _run_width(torso, midline)
    if span < MIN_SLENDERNESS * torso_width:
        return None  # not a standing person (lying, or the image is turned)
    band = max(1, small.shape[1] // 100)
    centre = np.asarray(body[:, max(0, midline - band) : midline + band + 1].any(axis=1))
    head = top + int(0.45 * span)
    if not centre[head]:
        return None
    while head > top and centre[head - 1]:
        head -= 1
    skull = body[head : head + max(2, int(0.06 * (bottom - head)))]
    if _run_width(skull, midline) > MAX_HEAD_WIDTH * torso_width:
        return None  # what tops the midline is as wide as the torso: not a head (upside down?)
    legs = small[head + int(0.7 * (bottom - head)) : head + int(0.95 * (bottom - head)), midline]
    if head == 0 or (legs > CONTENT_ATTENUATION).all():
        return None  # the head touches the top edge, or no air between the legs: not a whole body
    return head, bottom


def _run_width(rows: NDArray[np.bool_], column: int) -> float:
    """Median width of the solid run through ``column`` in each row that has one (0: none)."""
    widths = [run[1] - run[0] for row in rows if (run := axis_run(row, column)) is not None]
    return float(np.median(widths)) if widths else 0.0
