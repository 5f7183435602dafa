"""Analytic path-length primitives evaluated on the pixel grid, and the canvas that collects them.

Coordinates are in mm: ``x`` across the image (columns), ``y`` down the image (rows). Each
primitive is evaluated only inside its bounding box, vectorised with numpy, and returns the chord
length (mm) that a ray parallel to the beam (perpendicular to the image) travels inside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy.interpolate import PchipInterpolator

from scanner.simulate.materials import BODY_MATERIALS, Material

F32 = NDArray[np.float32]
Window = tuple[slice, slice]


@dataclass
class Patch:
    """A small map of one material's path length (mm) placed at ``window`` of the image."""

    material: Material
    window: Window
    path: F32


@dataclass
class Canvas:
    """Per-material path-length maps for one scan.

    Body materials (:data:`BODY_MATERIALS`) are full images; everything else is stored as patches.

    Attributes
    ----------
    shape : (rows, cols)
    pitch : (row, col) pixel spacing in mm
    origin : (y0, x0) mm coordinate of the top-left pixel's outer corner
    """

    shape: tuple[int, int]
    pitch: tuple[float, float]
    origin: tuple[float, float] = (0.0, 0.0)
    maps: dict[Material, F32] = field(default_factory=dict)
    patches: list[Patch] = field(default_factory=list)

    def __post_init__(self) -> None:
        for m in BODY_MATERIALS:
            self.maps[m] = np.zeros(self.shape, dtype=np.float32)

    # --- coordinates -------------------------------------------------------------------
    def to_px(self, x: float, y: float) -> tuple[float, float]:
        """Continuous (col, row) pixel coordinate of point (x, y) mm (pixel i spans [i, i+1))."""
        return ((x - self.origin[1]) / self.pitch[1], (y - self.origin[0]) / self.pitch[0])

    def window(
        self, x0: float, x1: float, y0: float, y1: float
    ) -> tuple[Window, NDArray[np.float32], NDArray[np.float32]] | None:
        """Pixel window covering the mm box, with pixel-centre coordinates.

        Returns ``None`` when the box misses the image; otherwise ``(window, X, Y)`` with ``X`` of
        shape (1, w) and ``Y`` of shape (h, 1) in mm.
        """
        pr, pc = self.pitch
        c0 = max(int(np.floor((x0 - self.origin[1]) / pc)), 0)
        c1 = min(int(np.ceil((x1 - self.origin[1]) / pc)), self.shape[1])
        r0 = max(int(np.floor((y0 - self.origin[0]) / pr)), 0)
        r1 = min(int(np.ceil((y1 - self.origin[0]) / pr)), self.shape[0])
        if c1 <= c0 or r1 <= r0:
            return None
        xs = (self.origin[1] + (np.arange(c0, c1, dtype=np.float32) + 0.5) * pc)[None, :]
        ys = (self.origin[0] + (np.arange(r0, r1, dtype=np.float32) + 0.5) * pr)[:, None]
        return (slice(r0, r1), slice(c0, c1)), xs.astype(np.float32), ys.astype(np.float32)

    # --- accumulation ------------------------------------------------------------------
    def add(self, material: Material, window: Window, path: F32, scale: float = 1.0) -> None:
        """Add ``scale * path`` (mm) of ``material`` at ``window`` (negative removes)."""
        if scale != 1.0:
            path = path * np.float32(scale)
        if material in self.maps:
            self.maps[material][window] += path
        else:
            self.patches.append(Patch(material, window, path.astype(np.float32, copy=False)))

    def displace(self, window: Window, path: F32, material: Material = Material.TISSUE) -> None:
        """Remove ``path`` mm of body ``material`` (something else occupies that volume)."""
        self.maps[material][window] -= path

    def finish(self) -> None:
        """Clip body maps to non-negative path lengths (after displacements)."""
        for m in self.maps.values():
            np.maximum(m, 0.0, out=m)


# --- primitives ------------------------------------------------------------------------
def _sqrt_pos(a: NDArray[np.float32]) -> NDArray[np.float32]:
    np.maximum(a, 0.0, out=a)
    return np.sqrt(a, out=a)


def ellipsoid(
    cv: Canvas, cx: float, cy: float, rx: float, ry: float, rz: float, angle: float = 0.0
) -> tuple[Window, F32] | None:
    """Chord through an ellipsoid with in-plane semi-axes (rx, ry) rotated by ``angle`` (rad)."""
    if abs(angle) > 1e-6:
        c, s = abs(np.cos(angle)), abs(np.sin(angle))
        ex, ey = rx * c + ry * s, rx * s + ry * c
    else:
        ex, ey = rx, ry
    win = cv.window(cx - ex, cx + ex, cy - ey, cy + ey)
    if win is None or rx <= 0 or ry <= 0 or rz <= 0:
        return None
    w, xs, ys = win
    dx, dy = xs - np.float32(cx), ys - np.float32(cy)
    if abs(angle) > 1e-6:
        c, s = np.float32(np.cos(angle)), np.float32(np.sin(angle))
        u, v = dx * c + dy * s, -dx * s + dy * c
    else:
        u, v = dx, dy
    q = np.float32(1.0) - (u / np.float32(rx)) ** 2 - (v / np.float32(ry)) ** 2
    return w, (np.float32(2 * rz) * _sqrt_pos(q.astype(np.float32))).astype(np.float32)


def segment(
    cv: Canvas,
    p0: tuple[float, float],
    p1: tuple[float, float],
    r0: float,
    r1: float,
    depth: float = 1.0,
    caps: bool = True,
    fade: float = 0.0,
) -> tuple[Window, F32] | None:
    """Chord through a tapered cylinder from ``p0`` to ``p1`` (radii ``r0``→``r1``).

    The cross-section is an ellipse with in-plane radius ``r`` and depth radius ``depth * r``;
    ``caps`` adds ellipsoidal end caps (a capsule), otherwise the ends are flat. ``fade`` (mm)
    ramps the chord in linearly from ``p0`` (and drops the cap there), blending a limb into the
    segment it joins without doubling the overlap.
    """
    (x0, y0), (x1, y1) = p0, p1
    rmax = max(r0, r1)
    if rmax <= 0:
        return None
    win = cv.window(min(x0, x1) - rmax, max(x0, x1) + rmax, min(y0, y1) - rmax, max(y0, y1) + rmax)
    if win is None:
        return None
    w, xs, ys = win
    ax, ay = x1 - x0, y1 - y0
    length2 = max(ax * ax + ay * ay, 1e-9)
    t = (
        (xs - np.float32(x0)) * np.float32(ax) + (ys - np.float32(y0)) * np.float32(ay)
    ) / np.float32(length2)
    inside = (t >= 0) & (t <= 1)
    tc = np.clip(t, 0.0, 1.0)
    px = np.float32(x0) + tc * np.float32(ax)
    py = np.float32(y0) + tc * np.float32(ay)
    d2 = (xs - px) ** 2 + (ys - py) ** 2
    r = np.float32(r0) + tc * np.float32(r1 - r0)
    q = (r * r - d2).astype(np.float32)
    chord = np.float32(2 * depth) * _sqrt_pos(q)
    if not caps:
        chord = np.where(inside, chord, np.float32(0.0))
    if fade > 0:
        ramp = np.clip(t * np.float32(np.sqrt(length2) / fade), 0.0, 1.0)
        chord = chord * ramp
    return w, chord.astype(np.float32)


def profiled_cylinder(
    cv: Canvas,
    cx: float,
    ys_ctrl: NDArray[np.floating] | list[float],
    half_w: NDArray[np.floating] | list[float],
    half_d: NDArray[np.floating] | list[float],
    grow: float = 0.0,
) -> tuple[Window, F32] | None:
    """Chord through a vertical elliptic cylinder whose half-width and half-depth vary with ``y``.

    ``ys_ctrl``, ``half_w``, ``half_d`` are control points (mm, increasing ``y``), joined by a
    monotone cubic; ``grow`` is added to both radii (for fat and clothing shells).
    """
    ysc = np.asarray(ys_ctrl, dtype=np.float32)
    hw = np.asarray(half_w, dtype=np.float32) + np.float32(grow)
    hd = np.asarray(half_d, dtype=np.float32) + np.float32(grow)
    ext = float(hw.max())
    win = cv.window(cx - ext, cx + ext, float(ysc[0]), float(ysc[-1]))
    if win is None:
        return None
    w, xs, ys = win
    # shape-preserving cubic through the control points: a smooth outline without overshoot
    a = PchipInterpolator(ysc, hw, extrapolate=False)(ys[:, 0]).astype(np.float32)[:, None]
    d = PchipInterpolator(ysc, hd, extrapolate=False)(ys[:, 0]).astype(np.float32)[:, None]
    a, d = np.nan_to_num(a), np.nan_to_num(d)
    a = np.maximum(a, np.float32(1e-3))
    q = (np.float32(1.0) - ((xs - np.float32(cx)) / a) ** 2).astype(np.float32)
    return w, (np.float32(2.0) * np.maximum(d, 0) * _sqrt_pos(q)).astype(np.float32)


def arc_band(
    cv: Canvas,
    cx: float,
    cy: float,
    a: float,
    b: float,
    width: float,
    thickness: float,
    upper: bool = True,
    gap: float = 0.0,
    edge_gain: float = 1.5,
) -> tuple[Window, F32] | None:
    """A curved band along half an ellipse (ribs, mandible, iliac crest).

    Path length ``thickness`` (mm) at the band centre line, rounded profile across the band,
    growing by ``1 + edge_gain * (x/a)^4`` towards the sides (tangential rays). ``upper`` selects
    the half above the centre; ``gap`` blanks ``|x - cx| < gap``.
    """
    half = width / 2
    y0, y1 = (cy - b - half, cy + half) if upper else (cy - half, cy + b + half)
    win = cv.window(cx - a - half, cx + a + half, y0, y1)
    if win is None:
        return None
    w, xs, ys = win
    u, v = (xs - np.float32(cx)) / np.float32(a), (ys - np.float32(cy)) / np.float32(b)
    rn = np.sqrt(u * u + v * v)
    dist = (rn - np.float32(1.0)) * np.float32(min(a, b) + (max(a, b) - min(a, b)) * 0.5)
    prof = _sqrt_pos((np.float32(1.0) - (dist / np.float32(half)) ** 2).astype(np.float32))
    side = (v <= 0) if upper else (v >= 0)
    keep = side & (np.abs(xs - np.float32(cx)) >= np.float32(gap))
    gain = np.float32(1.0) + np.float32(edge_gain) * np.minimum(u * u, 1.0) ** 2
    return w, np.where(keep, np.float32(thickness) * prof * gain, np.float32(0.0)).astype(
        np.float32
    )


def box(
    cv: Canvas, x0: float, x1: float, y0: float, y1: float, depth: float
) -> tuple[Window, F32] | None:
    """Constant path ``depth`` (mm) over an axis-aligned box with partial-pixel coverage."""
    win = cv.window(x0, x1, y0, y1)
    if win is None:
        return None
    w, xs, ys = win
    pr, pc = cv.pitch
    fx = np.clip((np.minimum(xs + pc / 2, x1) - np.maximum(xs - pc / 2, x0)) / pc, 0, 1)
    fy = np.clip((np.minimum(ys + pr / 2, y1) - np.maximum(ys - pr / 2, y0)) / pr, 0, 1)
    return w, (np.float32(depth) * fy * fx).astype(np.float32)


def put(
    cv: Canvas,
    material: Material,
    prim: tuple[Window, F32] | None,
    scale: float = 1.0,
    displace: bool = False,
) -> None:
    """Add a primitive's chord to ``material`` (and optionally displace the same tissue path)."""
    if prim is None:
        return
    window, chord = prim
    cv.add(material, window, chord, scale)
    if displace:
        cv.displace(window, chord * np.float32(scale) if scale != 1.0 else chord)


def shell(
    outer: tuple[Window, F32] | None,
    inner: tuple[Window, F32] | None,
) -> tuple[Window, F32] | None:
    """``outer - inner`` on the outer window (the inner solid must lie inside the outer one)."""
    if outer is None:
        return None
    if inner is None:
        return outer
    (ro, co), a = outer
    (ri, ci), b = inner
    out = a.copy()
    r0, c0 = max(ri.start, ro.start), max(ci.start, co.start)
    r1, c1 = min(ri.stop, ro.stop), min(ci.stop, co.stop)
    if r1 > r0 and c1 > c0:
        out[r0 - ro.start : r1 - ro.start, c0 - co.start : c1 - co.start] -= b[
            r0 - ri.start : r1 - ri.start, c0 - ci.start : c1 - ci.start
        ]
    np.maximum(out, 0.0, out=out)
    return outer[0], out
