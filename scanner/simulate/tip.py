"""Threat image projection (TIP): insert a simulated object into an existing scan.

The object is composited in the log (line-integral) domain at the scan's own pixel spacing:

1. the scan's attenuation ``p`` at each pixel is converted to an equivalent soft-tissue thickness
   with the polychromatic beam, and the object's extra line integral ``Δp`` is computed on top of
   that background (beam hardening included), so contrast follows the physics;
2. the scan's own noise is measured: the high-pass residual variance as a function of
   attenuation, fitted as ``v(p) = a·exp(p) + b`` (quantum + electronic), and its spatial
   correlation;
3. noise with the variance the extra attenuation adds, ``a·exp(p)·(exp(Δp) − 1)``, and the same
   correlation is added under the object, so the insertion has no seam.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import os
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage, optimize

from scanner.scan import Scan
from scanner.simulate._raster import Canvas
from scanner.simulate.contraband import make_contraband
from scanner.simulate.enums import Category
from scanner.simulate.errors import ProjectionError
from scanner.simulate.materials import Material
from scanner.simulate.objects import ObjectModel, splat
from scanner.simulate.simulator import SimObject
from scanner.simulate.spectrum import Beam, make_beam

__all__ = [
    "NoiseModel",
    "Projection",
    "estimate_noise",
    "project_model",
    "project_threat",
    "write_projection",
]

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())

F32 = NDArray[np.float32]
CATEGORY_NAMES = frozenset(c.value for c in Category)
_SIGMAS = (0.0, 0.3, 0.45, 0.6, 0.8, 1.0, 1.3, 1.7)


@dataclass(frozen=True)
class NoiseModel:
    """Noise of a scan in the log domain.

    Attributes
    ----------
    a, b : float
        Residual variance ``v(p) = a·exp(p) + b`` of ``p - box3(p)`` at attenuation ``p``.
    sigma : (float, float)
        Gaussian kernel (rows, cols) in pixels that reproduces the noise correlation.
    """

    a: float
    b: float
    sigma: tuple[float, float]

    def residual_var(self, p: NDArray[np.floating]) -> NDArray[np.float64]:
        """Predicted residual variance at attenuation ``p``."""
        return self.a * np.exp(np.asarray(p, dtype=np.float64)) + self.b


def _residual(img: NDArray[np.floating]) -> NDArray[np.float32]:
    x = np.asarray(img, dtype=np.float32)
    return (x - ndimage.uniform_filter(x, 3, mode="reflect")).astype(np.float32)


@lru_cache(maxsize=64)
def _noise_stats(sr: float, sc: float) -> tuple[float, float, float]:
    """Lag-1 correlations (rows, cols) and std of the residual of unit white noise blurred by
    (sr, sc), normalised to unit std before the residual."""
    white = np.random.default_rng(1234).standard_normal((384, 384)).astype(np.float32)
    n = ndimage.gaussian_filter(white, (sr, sc), mode="wrap") if max(sr, sc) > 0 else white
    n /= n.std()
    r = _residual(n)[8:-8, 8:-8]
    var = float(np.mean(r * r))
    rho_r = float(np.mean(r[1:, :] * r[:-1, :]) / var)
    rho_c = float(np.mean(r[:, 1:] * r[:, :-1]) / var)
    return rho_r, rho_c, math.sqrt(var)


def estimate_noise(image: NDArray[np.floating]) -> NoiseModel:
    """Fit the scan's noise model.

    Parameters
    ----------
    image : ndarray, shape (rows, cols)
        Line integral ``-ln(I / I_air)``.

    Returns
    -------
    NoiseModel
    """
    p = np.asarray(image, dtype=np.float32)
    if p.ndim != 2 or min(p.shape) < 16:
        raise ProjectionError(f"scan image must be 2-D and at least 16x16 pixels, got {p.shape}")
    r = _residual(p)
    smooth = ndimage.uniform_filter(p, 5, mode="reflect")
    grad = np.hypot(*np.gradient(smooth))
    # the flattest half of the body and of the air, judged separately (air may be clipped flat)
    in_body = smooth > 0.25
    flat = np.zeros(p.shape, dtype=bool)
    for region in (in_body, ~in_body):
        if region.any():
            flat |= region & (grad <= np.percentile(grad[region], 55))
    edges = np.arange(-0.25, float(np.percentile(p, 99.5)) + 0.25, 0.25)
    xs, vs, ws = [], [], []
    for lo, hi in itertools.pairwise(edges):
        sel = flat & (smooth >= lo) & (smooth < hi)
        count = int(sel.sum())
        if count < 100:
            continue
        vals = r[sel]
        mad = float(np.median(np.abs(vals - np.median(vals))))
        xs.append(float(np.median(smooth[sel])))
        vs.append((1.4826 * mad) ** 2)
        ws.append(math.sqrt(count))
    if len(xs) < 2:
        raise ProjectionError(
            "cannot measure the scan's noise: too few flat regions; use a full-body scan with "
            "air beside the body"
        )
    w = np.asarray(ws)
    design = np.stack([np.exp(np.asarray(xs)), np.ones(len(xs))], axis=1) * w[:, None]
    (a, b), _ = optimize.nnls(design, np.asarray(vs) * w)
    # correlation: pick the blur whose residual correlation matches the scan's (flat body area)
    body = flat & (smooth > 0.3)
    if body.sum() < 500:
        body = flat
    rr = r * body
    var = float(np.mean(rr * rr)) or 1.0
    rho_r = float(np.mean(rr[1:, :] * rr[:-1, :])) / var
    rho_c = float(np.mean(rr[:, 1:] * rr[:, :-1])) / var

    def best(rho: float, axis: int) -> float:
        def miss(s: float) -> float:
            return abs(_noise_stats(*((s, 0.0) if axis == 0 else (0.0, s)))[axis] - rho)

        return min(_SIGMAS, key=miss)

    return NoiseModel(float(a), float(b), (best(rho_r, 0), best(rho_c, 1)))


@dataclass
class Projection:
    """The result of inserting one object.

    Attributes
    ----------
    image : ndarray of float32, shape (rows, cols)
        New line-integral image.
    object : SimObject
        Label with the box in the scan's pixel grid.
    delta : ndarray of float32
        Noise-free line integral added, on ``object.window``.
    noise : ndarray of float32
        Noise added, on ``object.window``.
    noise_model : NoiseModel
    """

    image: F32
    object: SimObject
    delta: F32
    noise: F32
    noise_model: NoiseModel


def _tissue_table(beam: Beam) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    lengths = np.concatenate([np.linspace(0, 100, 51), np.linspace(104, 1200, 275)])
    mu = beam.mu_of(Material.TISSUE)
    p = -np.log(np.exp(-np.outer(lengths, mu)) @ beam.weights)
    return p, lengths


def project_model(
    scan: Scan,
    model: ObjectModel,
    centre_px: tuple[float, float],
    angle_deg: float,
    tilt_deg: float = 0.0,
    tilt_axis: int = 0,
    *,
    rng: np.random.Generator,
    beam: Beam | None = None,
    noise_model: NoiseModel | None = None,
    location: str = "projected",
) -> Projection:
    """Insert ``model`` into ``scan`` at pixel ``centre_px`` = (col, row).

    Parameters
    ----------
    scan : Scan
    model : ObjectModel
    centre_px : (float, float)
        Object centre as (column, row) in the scan's pixels.
    angle_deg, tilt_deg : float
        In-plane rotation and out-of-plane tilt (0–90).
    tilt_axis : int
        0: tilt about the object's width axis, 1: about its length axis.
    rng : numpy.random.Generator
        Draws the added noise.
    beam : Beam, optional
        Polychromatic beam; default from the scan's kVp (140 kVp when unknown), 2.5 mm Al,
        0.5 mm Cu, 2 mm CsI.
    noise_model : NoiseModel, optional
        Measured from the scan when omitted.
    location : str
        Written to the label.

    Returns
    -------
    Projection
    """
    p = np.asarray(scan.image, dtype=np.float32)
    rows, cols = p.shape
    cx, cy = centre_px
    if not (0 <= cx < cols and 0 <= cy < rows):
        raise ProjectionError(
            f"object centre (x={cx}, y={cy}) is outside the {cols}x{rows} image; give --x in "
            f"0..{cols - 1} and --y in 0..{rows - 1}"
        )
    if not 0 <= tilt_deg <= 90:
        raise ProjectionError(f"tilt={tilt_deg}° must be in 0..90")
    if beam is None:
        kvp = float(scan.metadata.kvp) if scan.metadata.kvp else 140.0
        beam = make_beam(float(np.clip(kvp, 60, 200)))
    nm = noise_model or estimate_noise(p)
    cv = Canvas((rows, cols), (float(scan.spacing[0]), float(scan.spacing[1])))
    placed = splat(cv, model, ((cx + 0.5) * cv.pitch[1], (cy + 0.5) * cv.pitch[0]),
                   math.radians(angle_deg), math.radians(tilt_deg), tilt_axis)  # fmt: skip
    if placed is None:
        raise ProjectionError("the object does not overlap the image; move it inside")
    win = placed.window
    # equivalent tissue background, then the object's extra polychromatic line integral
    p_tab, l_tab = _tissue_table(beam)
    bg = np.clip(p[win].astype(np.float64), 0.0, p_tab[-1])
    l_t = np.interp(bg, p_tab, l_tab)
    extra = np.zeros((beam.weights.size, *bg.shape))
    for patch in cv.patches:
        mu = beam.mu_of(patch.material)
        extra += mu[:, None, None] * patch.path[None, :, :]
    mu_t = beam.mu_of(Material.TISSUE)
    base = np.exp(-mu_t[:, None, None] * l_t[None])
    t0 = np.tensordot(beam.weights, base, axes=1)
    t1 = np.tensordot(beam.weights, base * np.exp(-extra), axes=1)
    delta = (np.log(t0) - np.log(np.maximum(t1, 1e-300))).astype(np.float32)
    # noise matching the extra quantum noise, with the scan's correlation
    dvar = nm.a * np.exp(p[win].astype(np.float64)) * np.expm1(delta.astype(np.float64))
    dvar = np.maximum(dvar, 0.0)
    pad = 6
    h, w = delta.shape
    white = rng.standard_normal((h + 2 * pad, w + 2 * pad)).astype(np.float32)
    sr, sc = nm.sigma
    field = ndimage.gaussian_filter(white, (sr, sc)) if max(sr, sc) > 0 else white
    field = field[pad:-pad, pad:-pad]
    field_std = math.sqrt(_noise_gain(sr, sc))
    _, _, k = _noise_stats(sr, sc)
    noise = (field / field_std / k * np.sqrt(dvar)).astype(np.float32)
    out = p.copy()
    out[win] += delta + noise
    obj = SimObject(
        category=model.category.value if model.category else "distractor",
        kind=model.kind,
        bbox=placed.bbox,
        concealment="clothing",
        location=location,
        angle_deg=angle_deg % 360.0,
        tilt_deg=tilt_deg,
        window=win,
        coverage=placed.coverage,
    )
    return Projection(out, obj, delta, noise, nm)


@lru_cache(maxsize=64)
def _noise_gain(sr: float, sc: float) -> float:
    """Variance of unit white noise after the Gaussian blur (sr, sc)."""
    if max(sr, sc) <= 0:
        return 1.0
    white = np.random.default_rng(99).standard_normal((256, 256)).astype(np.float32)
    return float(ndimage.gaussian_filter(white, (sr, sc), mode="wrap").var())


def _random_centre(p: NDArray[np.float32], rng: np.random.Generator) -> tuple[float, float]:
    body = ndimage.uniform_filter(p, 9) > max(0.5, float(np.percentile(p, 50)) * 0.5)
    rr, cc = np.nonzero(body)
    if rr.size == 0:
        raise ProjectionError("no body found in the scan to place the object on; give --x/--y")
    i = int(rng.integers(rr.size))
    return float(cc[i]), float(rr[i])


def project_threat(
    scan: Scan,
    category: Category | str = Category.PHONE,
    kind: str | None = None,
    *,
    x: float | None = None,
    y: float | None = None,
    angle_deg: float | None = None,
    tilt_deg: float | None = None,
    seed: int | np.random.Generator | None = None,
) -> Projection:
    """Insert a simulated contraband object into ``scan``.

    Parameters
    ----------
    scan : Scan
        Any scan read with :func:`scanner.read_scan`.
    category : Category or str
        ``"phone"``, ``"power_bank"``, ``"battery"``, ``"sim_card"``, ``"blade"`` or
        ``"drug_package"``.
    kind : str, optional
        Sub-kind (for phones ``"smartphone"``, ``"feature_phone"``, ``"mini_phone"``).
    x, y : float, optional
        Object centre in pixels (column, row); random on the body when omitted.
    angle_deg, tilt_deg : float, optional
        Rotation and out-of-plane tilt; random when omitted.
    seed : int or Generator, optional

    Returns
    -------
    Projection
    """
    try:
        cat = Category(category)
    except ValueError:
        raise ProjectionError(
            f"unknown object {category!r}; use one of {[c.value for c in Category]}"
        ) from None
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    model = make_contraband(rng, cat, kind)
    p = np.asarray(scan.image, dtype=np.float32)
    if (x is None) != (y is None):
        raise ProjectionError("give both x and y (pixels), or neither for a random position")
    if x is None or y is None:
        x, y = _random_centre(p, rng)
    angle = float(rng.uniform(0, 360)) if angle_deg is None else float(angle_deg)
    tilt = float(min(abs(rng.normal(0, 25)), 90)) if tilt_deg is None else float(tilt_deg)
    return project_model(scan, model, (float(x), float(y)), angle, tilt, rng=rng)


def _default_log() -> Any:
    """LOG, larger = denser, MONOCHROME2, 16 bit, DX For Presentation (non-DICOM sources)."""
    from scanner.encoding import Encoding

    return Encoding("LOG", -1, "MONOCHROME2", 16, sop_class="DX-presentation")


def _encoding_of(scan: Scan) -> Any:
    """The scan's own encoding where it can be recovered, else a LOG preset."""
    from pydicom.uid import (
        ExplicitVRLittleEndian,
        JPEG2000Lossless,
        JPEGLSLossless,
        RLELossless,
    )

    from scanner import encoding as enc_mod

    norm = scan.normalisation
    if norm.source_format != "DICOM" or norm.pixel_intensity_relationship not in ("LIN", "LOG"):
        return _default_log()
    ts = next(
        (
            uid
            for uid in (ExplicitVRLittleEndian, RLELossless, JPEGLSLossless, JPEG2000Lossless)
            if uid.name == norm.transfer_syntax
        ),
        ExplicitVRLittleEndian,
    )
    sop = next(
        (s for s in enc_mod.SopClass if s.uid == scan.metadata.sop_class_uid),
        enc_mod.SopClass.DX_PROCESSING,
    )
    spacing_tag = {
        "PixelSpacing": "PixelSpacing",
        "ImagerPixelSpacing": "ImagerPixelSpacing",
    }.get(str(scan.spacing_source.value), "none")
    try:
        return enc_mod.Encoding(
            norm.pixel_intensity_relationship,
            int(norm.pixel_intensity_relationship_sign or -1),
            norm.photometric_interpretation or "MONOCHROME2",
            int(norm.bits_stored or 16),
            norm.rescale_slope,
            norm.rescale_intercept,
            spacing_tag,
            ts,
            sop,
        )
    except ValueError as exc:
        logger.warning("cannot reproduce the scan's encoding (%s); writing LOG 16 bit", exc)
        return _default_log()


def write_projection(
    scan: Scan,
    projection: Projection,
    out_dir: str | os.PathLike[str],
    file_name: str,
    *,
    source: str = "",
) -> tuple[Path, Path]:
    """Write the projected scan as DICOM (in the scan's own encoding) and add its COCO entry.

    Parameters
    ----------
    scan : Scan
        The original scan.
    projection : Projection
    out_dir : path
        Created if missing; ``annotations.json`` there is created or extended.
    file_name : str
        Name of the DICOM file to write.
    source : str
        Original file name, recorded in the image entry.

    Returns
    -------
    (pathlib.Path, pathlib.Path)
        The DICOM file and ``annotations.json``.
    """
    from pydicom.uid import generate_uid

    from scanner import encoding as enc_mod
    from scanner.simulate.dataset import coco_categories, object_annotation

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    enc = _encoding_of(scan)
    obj = projection.object
    entropy = [scan.metadata.sop_instance_uid or source, obj.kind, repr(obj.bbox), file_name]
    meta = replace(
        scan.metadata,
        sop_instance_uid=str(generate_uid(entropy_srcs=[*entropy, "instance"])),
        series_instance_uid=str(generate_uid(entropy_srcs=[*entropy, "series"])),
    )
    transmission = np.exp(-np.clip(projection.image.astype(np.float64), -1.0, 50.0))
    air = scan.normalisation.air_level
    kwargs: dict[str, Any] = {}
    if enc.relationship == "LIN" and air is not None:
        slope, intercept = enc.slope_intercept()
        if intercept < air <= slope * enc.max_stored + intercept:
            kwargs["air_counts"] = float(air)
    ds = enc_mod.encode_dicom(transmission, scan.spacing, enc, meta, **kwargs)
    path = out / file_name
    ds.save_as(path, enforce_file_format=True)
    ann_path = out / "annotations.json"
    if ann_path.exists():
        coco = json.loads(ann_path.read_text())
    else:
        coco = {"info": {"description": "ScanGuard threat image projection"}, "licenses": [],
                "categories": coco_categories(), "images": [], "annotations": []}  # fmt: skip
    coco["images"] = [im for im in coco["images"] if im["file_name"] != file_name]
    kept = {im["id"] for im in coco["images"]}
    coco["annotations"] = [a for a in coco["annotations"] if a["image_id"] in kept]
    image_id = max(kept, default=0) + 1
    rows, cols = projection.image.shape
    coco["images"].append(
        {
            "id": image_id,
            "file_name": file_name,
            "width": cols,
            "height": rows,
            "has_phone": obj.category == Category.PHONE.value,
            "kvp": scan.metadata.kvp,
            "pitch_mm": [float(scan.spacing[0]), float(scan.spacing[1])],
            "dose_uGy": None,
            "encoding": enc.describe(),
            "manufacturer": scan.metadata.manufacturer,
            "source": source,
            "tip": True,
        }
    )
    if obj.category in CATEGORY_NAMES:
        coco["annotations"].append(
            {
                "id": max((a["id"] for a in coco["annotations"]), default=0) + 1,
                "image_id": image_id,
                **object_annotation(obj),
            }
        )
    ann_path.write_text(json.dumps(coco, indent=1))
    return path, ann_path
