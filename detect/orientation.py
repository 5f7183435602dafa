"""Scans stored turned or upside down: stood upright for the detector, results turned back.

The detector was trained on people standing head up. A scan whose person lies on its side or
stands on its head (:func:`scanner.stature.upright_turn` finds the quarter turns that stand
them up; where the image cannot tell, :func:`scanner.stature.stated_turn` reads the turn from
the file's Patient Orientation) is detected in its upright form, and every box is mapped back
to the stored image's frame, so findings always refer to the image as the file holds it. Body
zones are those of the upright person.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from detect.result import Finding, Result
from scanner.scan import Scan

__all__ = ["turn_back", "turned"]


def turned(scan: Scan, turn: int) -> Scan:
    """``scan`` turned by ``turn`` counter-clockwise quarter turns (``numpy.rot90``).

    The image is turned and, for an odd ``turn``, the row and column spacings swap; the stored
    shape and metadata stay those of the file.
    """
    sr, sc = scan.spacing
    return dataclasses.replace(
        scan,
        image=np.ascontiguousarray(np.rot90(scan.image, turn)),
        spacing=(sc, sr) if turn % 2 else (sr, sc),
    )


def box_back(
    box: tuple[float, float, float, float], shape: tuple[int, int], turn: int
) -> tuple[float, float, float, float]:
    """A box ``[x, y, w, h]`` in ``numpy.rot90(image, turn)`` mapped to ``image`` (of ``shape``).

    Continuous pixel coordinates (corners, not centres), so a box covering pixels maps to a
    box covering the same pixels.
    """
    rows, cols = shape
    x, y, w, h = box
    corners = [(y, x), (y + h, x + w)]
    k = turn % 4
    if k == 1:
        mapped = [(c, cols - r) for r, c in corners]
    elif k == 2:
        mapped = [(rows - r, cols - c) for r, c in corners]
    elif k == 3:
        mapped = [(rows - c, r) for r, c in corners]
    else:
        mapped = corners
    r0, r1 = sorted(p[0] for p in mapped)
    c0, c1 = sorted(p[1] for p in mapped)
    return (float(c0), float(r0), float(c1 - c0), float(r1 - r0))


def turn_back(result: Result, stored: Scan, turn: int) -> Result:
    """``result`` of the turned scan, with boxes and geometry in ``stored``'s frame."""
    sr, sc = (float(v) for v in stored.spacing)
    findings = []
    for f in result.findings:
        x, y, w, h = box_back(f.bbox_px, stored.shape, turn)
        findings.append(
            Finding(
                label=f.label,
                confidence=f.confidence,
                bbox_px=(x, y, w, h),
                bbox_mm=(x * sc, y * sr, w * sc, h * sr),
                zone=f.zone,
            )
        )
    image = result.image.model_copy(
        update={
            "rows": stored.shape[0],
            "cols": stored.shape[1],
            "spacing_mm": (sr, sc),
            "upright_turns": turn % 4,
        }
    )
    return result.model_copy(update={"findings": findings, "image": image})
