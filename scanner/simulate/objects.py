"""Objects as per-material thickness maps in their own frame, and their projection onto a scan.

An :class:`ObjectModel` holds, on a fine grid (default 0.25 mm), the path length of each material
a ray perpendicular to the object's face travels. :func:`splat` rotates it in-plane, tilts it out of
plane (foreshortening one axis by ``cos(tilt)`` and scaling path lengths by ``1/cos(tilt)``, capped
when the object stands edge-on), and resamples it onto the scan's pixel grid with anti-aliasing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from scanner.simulate._raster import Canvas
from scanner.simulate.enums import Category
from scanner.simulate.materials import Material

__all__ = ["ObjectModel", "Placed", "Sheet", "splat"]

F32 = NDArray[np.float32]


@dataclass
class ObjectModel:
    """An object's material thickness maps in its own frame.

    Attributes
    ----------
    category : Category or None
        Contraband class, ``None`` for distractors.
    kind : str
        Sub-type (``"smartphone"``, ``"belt_buckle"``…).
    res : float
        Grid spacing (mm).
    layers : dict of Material to ndarray of float32, shape (h, w)
        Path length (mm) through each material, face-on; rows run along the object's length.
    envelope : ndarray of float32, shape (h, w)
        Full physical thickness (mm) including internal air; what the object displaces.
    """

    category: Category | None
    kind: str
    res: float
    layers: dict[Material, F32]
    envelope: F32

    @property
    def shape(self) -> tuple[int, int]:
        """Fine grid shape (h, w)."""
        return (int(self.envelope.shape[0]), int(self.envelope.shape[1]))

    @property
    def size_mm(self) -> tuple[float, float]:
        """(length, width) in mm."""
        return (self.shape[0] * self.res, self.shape[1] * self.res)

    @property
    def thickness(self) -> float:
        """Maximum physical thickness (mm)."""
        return float(self.envelope.max())


class Sheet:
    """Drawing helper: a fine grid of ``length`` x ``width`` mm centred on the object's centre."""

    def __init__(self, length: float, width: float, res: float = 0.25) -> None:
        self.res = res
        self.h = max(2, math.ceil(length / res))
        self.w = max(2, math.ceil(width / res))
        self.v = ((np.arange(self.h, dtype=np.float32) + 0.5) * res - self.h * res / 2)[:, None]
        self.u = ((np.arange(self.w, dtype=np.float32) + 0.5) * res - self.w * res / 2)[None, :]
        self.layers: dict[Material, F32] = {}
        self.envelope = np.zeros((self.h, self.w), dtype=np.float32)

    # shapes (return float32 maps: 1 inside, 0 outside, or chord profiles)
    def rrect(self, cu: float, cv: float, width: float, length: float, r: float = 0.0) -> F32:
        """Rounded rectangle centred at (cu, cv) mm."""
        du = np.maximum(np.abs(self.u - cu) - (width / 2 - r), 0)
        dv = np.maximum(np.abs(self.v - cv) - (length / 2 - r), 0)
        if r <= 0:
            return ((du <= 0) & (dv <= 0)).astype(np.float32)
        return (du * du + dv * dv <= r * r).astype(np.float32)

    def ellipse(self, cu: float, cv: float, a: float, b: float) -> F32:
        """Filled ellipse with semi-axes ``a`` (across) and ``b`` (along)."""
        return (((self.u - cu) / a) ** 2 + ((self.v - cv) / b) ** 2 <= 1).astype(np.float32)

    def dome(self, cu: float, cv: float, a: float, b: float) -> F32:
        """Ellipsoid profile (0…1) over an ellipse: multiply by the full thickness."""
        q = 1 - ((self.u - cu) / a) ** 2 - ((self.v - cv) / b) ** 2
        return np.sqrt(np.maximum(q, 0)).astype(np.float32)

    def rod(self, cu: float, cv: float, r: float, length: float, along: bool = True) -> F32:
        """Chord (mm) through a cylinder of radius ``r`` lying in the plane (along the length)."""
        d = (self.u - cu) if along else (self.v - cv)
        span = np.abs(self.v - cv) if along else np.abs(self.u - cu)
        chord = 2 * np.sqrt(np.maximum(r * r - d * d, 0))
        return np.where(span <= length / 2, chord, 0).astype(np.float32)

    def add(self, material: Material, mask: F32, thickness: float = 1.0) -> None:
        """Add ``thickness * mask`` mm of ``material``."""
        m = self.layers.get(material)
        val = (mask * np.float32(thickness)).astype(np.float32)
        self.layers[material] = val if m is None else m + val

    def body(self, mask: F32, thickness: float) -> None:
        """Set the physical envelope (outer thickness) where ``mask`` > 0."""
        np.maximum(self.envelope, mask * np.float32(thickness), out=self.envelope)

    def model(self, category: Category | None, kind: str) -> ObjectModel:
        """Finish drawing."""
        total = sum(self.layers.values(), np.zeros_like(self.envelope))
        # wherever there is material the object is present, even outside its declared body
        env = np.where(self.envelope > 0, self.envelope, total)
        return ObjectModel(category, kind, self.res, self.layers, env.astype(np.float32))


@dataclass
class Placed:
    """An object after projection onto a scan.

    Attributes
    ----------
    bbox : list of float
        COCO box [x, y, w, h] in pixels (pixel ``i`` spans [i, i+1)): the exact extent of the
        projected footprint, in fractional pixels, at least 1 pixel wide.
    window : tuple of slice
        Image window of the patches.
    coverage : ndarray of float32
        Fraction of each pixel of ``window`` covered by the object's footprint.
    """

    model: ObjectModel
    centre_mm: tuple[float, float]
    angle_deg: float
    tilt_deg: float
    bbox: list[float]
    window: tuple[slice, slice]
    coverage: F32 = field(repr=False)


def splat(
    cv: Canvas,
    model: ObjectModel,
    centre: tuple[float, float],
    angle: float,
    tilt: float = 0.0,
    tilt_axis: int = 0,
    internal: bool = False,
    supersample: int = 2,
) -> Placed | None:
    """Project ``model`` onto the canvas.

    Parameters
    ----------
    cv : Canvas
    model : ObjectModel
    centre : (x, y)
        Position of the object's centre in mm (canvas coordinates).
    angle : float
        In-plane rotation (rad) of the object's length axis from the image's row axis.
    tilt : float
        Out-of-plane tilt (rad, 0 face-on … pi/2 edge-on).
    tilt_axis : int
        0: tilt about the width axis (length foreshortened), 1: about the length axis.
    internal : bool
        The object is inside the body: it displaces soft tissue by its envelope.
    supersample : int
        Samples per output pixel along each axis.

    Returns
    -------
    Placed or None
        ``None`` when the object falls outside the image.
    """
    length, width = model.size_mm
    extent = (length, width)[tilt_axis]
    pr, pc = cv.pitch
    cos_eff = max(abs(math.cos(tilt)), min(1.0, model.thickness / max(extent, 1e-6)))
    # more sub-samples for footprints thinner than a pixel (edge-on SIMs and blades); a footprint
    # still thinner than 1.5 sub-samples is widened with its path scaled down (same line integral)
    thin = max(min(length if tilt_axis == 1 else width, extent * cos_eff), 1e-3)
    ss = int(np.clip(math.ceil(2 * max(pr, pc) / thin), max(1, int(supersample)), 8))
    cos_eff = max(cos_eff, min(1.0, 1.5 * min(pr, pc) / ss / max(extent, 1e-6)))
    path_scale = 1.0 / cos_eff
    s_v = cos_eff if tilt_axis == 0 else 1.0  # scale of the object's length axis
    s_u = cos_eff if tilt_axis == 1 else 1.0
    ca, sa = math.cos(angle), math.sin(angle)
    hl, hw = length * s_v / 2, width * s_u / 2
    ex = abs(sa) * hl + abs(ca) * hw
    ey = abs(ca) * hl + abs(sa) * hw
    win = cv.window(centre[0] - ex - pc, centre[0] + ex + pc, centre[1] - ey - pr,
                    centre[1] + ey + pr)  # fmt: skip
    if win is None:
        return None
    window, _, _ = win
    rs, cs = window
    # sub-sample centres in mm
    rows = cv.origin[0] + (np.arange(rs.start * ss, rs.stop * ss, dtype=np.float64) + 0.5) * pr / ss
    cols = cv.origin[1] + (np.arange(cs.start * ss, cs.stop * ss, dtype=np.float64) + 0.5) * pc / ss
    dy = (rows - centre[1])[:, None]
    dx = (cols - centre[0])[None, :]
    # image (dx, dy) -> object (u across, v along); the length axis points along +y at angle 0
    v = (dx * sa + dy * ca) / s_v
    u = (dx * ca - dy * sa) / s_u
    fi = v / model.res + model.shape[0] / 2 - 0.5
    fj = u / model.res + model.shape[1] / 2 - 0.5
    coords = np.stack([np.broadcast_to(fi, (rows.size, cols.size)),
                       np.broadcast_to(fj, (rows.size, cols.size))])  # fmt: skip
    # anti-aliasing: pre-blur the fine maps to the sub-sample spacing
    step = min(pr, pc) / ss
    sig = max(0.0, 0.42 * step / model.res - 0.3)

    def sample(img: F32) -> F32:
        src = ndimage.gaussian_filter(img, sig, mode="constant") if sig > 0.05 else img
        out = ndimage.map_coordinates(src, coords, order=1, mode="constant", cval=0.0)
        h, w = rs.stop - rs.start, cs.stop - cs.start
        return out.reshape(h, ss, w, ss).mean(axis=(1, 3)).astype(np.float32)

    for material, layer in model.layers.items():
        cv.add(material, window, sample(layer), path_scale)
    support = (model.envelope > 0).astype(np.float32)
    coverage = sample(support)
    if internal:
        cv.displace(window, sample(model.envelope) * np.float32(path_scale))
    if not coverage.any():
        return None
    bbox = _footprint_box(model, cv, centre, ca, sa, s_u, s_v)
    return Placed(model, centre, math.degrees(angle), math.degrees(tilt), bbox, window, coverage)


def _footprint_box(
    model: ObjectModel,
    cv: Canvas,
    centre: tuple[float, float],
    ca: float,
    sa: float,
    s_u: float,
    s_v: float,
) -> list[float]:
    """Exact [x, y, w, h] (pixels, clipped to the image) of the projected support."""
    support = model.envelope > 0
    rows = np.flatnonzero(support.any(axis=1))
    first = support[rows].argmax(axis=1)
    last = support.shape[1] - 1 - support[rows, ::-1].argmax(axis=1)
    res = model.res
    h, w = model.shape
    v = np.concatenate([rows, rows, rows, rows]).astype(np.float64)
    v = (v + np.repeat([0.0, 1.0, 0.0, 1.0], rows.size)) * res - h * res / 2
    j = np.concatenate([first, first, last + 1, last + 1]).astype(np.float64)
    u = j * res - w * res / 2
    dx = u * s_u * ca + v * s_v * sa
    dy = -u * s_u * sa + v * s_v * ca
    x0 = (centre[0] + dx.min() - cv.origin[1]) / cv.pitch[1]
    x1 = (centre[0] + dx.max() - cv.origin[1]) / cv.pitch[1]
    y0 = (centre[1] + dy.min() - cv.origin[0]) / cv.pitch[0]
    y1 = (centre[1] + dy.max() - cv.origin[0]) / cv.pitch[0]
    # a footprint thinner than a pixel still darkens a whole pixel: boxes are >= 1 px
    if x1 - x0 < 1.0:
        x0, x1 = (x0 + x1) / 2 - 0.5, (x0 + x1) / 2 + 0.5
    if y1 - y0 < 1.0:
        y0, y1 = (y0 + y1) / 2 - 0.5, (y0 + y1) / 2 + 0.5
    x0, x1 = max(x0, 0.0), min(x1, float(cv.shape[1]))
    y0, y1 = max(y0, 0.0), min(y1, float(cv.shape[0]))
    return [
        round(float(x0), 2),
        round(float(y0), 2),
        round(float(x1 - x0), 2),
        round(float(y1 - y0), 2),
    ]
