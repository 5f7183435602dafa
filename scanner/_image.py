"""PNG / TIFF half of :func:`scanner.read_scan` (through scikit-image).

A plain image carries no physics, so the caller states it: ``pixel_spacing`` (row, column) in mm
and ``polarity`` (:class:`scanner.scan.Polarity`):

* ``COUNTS``: linear counts, bright = air; ``-ln(I / I_air)`` with the estimated air level.
* ``ATTENUATION``: log attenuation, larger = denser. Floating-point values are natural-log units;
  integer values are divided by ``log_scale`` (stored units per natural-log unit) or, when it is
  not given, the full integer range is assumed to span ``scanner.encoding.LOG_RANGE``.
* ``INVERTED_ATTENUATION``: as ``ATTENUATION`` but larger = less attenuation (a display image).
* ``AUTO``: one of the three, read from the image by :func:`scanner.intensity.read_intensity`
  (where the air beside the person lies in the value range, how far the densest body part lies
  from it); an image that does not tell (no air at its edges) is refused with the choices.

A log image whose scale is unknown (integer values without ``log_scale``) is scaled so that the
body has the median attenuation of a full-body scan; one whose body median is implausible for
natural-log units is rescaled alike and reported (:func:`scanner._normalise.check_log_scale`).

For both log polarities the air offset (attenuation of the region beside the body) is then
subtracted so air is 0, under the rule of :func:`scanner._normalise.subtract_air_offset` (always for
inverted images and assumed scales, whose zero is arbitrary).
"""

from __future__ import annotations

import io
import logging
from typing import Any

import numpy as np
import skimage.io
from numpy.typing import NDArray

import kernels
from scanner._dicom import MAX_SIDE, MIN_SIDE
from scanner._normalise import check_log_scale, scale_to_body, subtract_air_offset
from scanner.conformance import Conformance
from scanner.encoding import LOG_RANGE
from scanner.errors import ImageParametersError, NotDicomError, UnsupportedScanError
from scanner.intensity import fill_padding, find_frame, read_intensity
from scanner.scan import Normalisation, Polarity, Scan, ScanMetadata, SpacingSource

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def image_format(data: bytes) -> str | None:
    """``"PNG"``, ``"TIFF"`` or None from the first bytes."""
    if data.startswith(PNG_MAGIC):
        return "PNG"
    if data[:4] in TIFF_MAGICS:
        return "TIFF"
    return None


def _read_pixels(data: bytes, fmt: str, name: str) -> NDArray[Any]:
    try:
        arr = np.asarray(skimage.io.imread(io.BytesIO(data)))
    except Exception as exc:
        raise NotDicomError(
            f"{name} looks like a {fmt} image but could not be decoded ({type(exc).__name__}: "
            f"{exc}); the file is damaged or truncated: export it again"
        ) from exc
    if arr.ndim > 2:
        raise UnsupportedScanError(
            f"{name} is a colour or multi-page {fmt} image (shape {arr.shape}); ScanGuard "
            "needs one grayscale transmission image: export a single 16-bit grayscale page"
        )
    if arr.ndim != 2:
        raise UnsupportedScanError(f"{name} decoded to shape {arr.shape}, not a 2-D image")
    rows, cols = arr.shape
    if not (MIN_SIDE <= rows <= MAX_SIDE and MIN_SIDE <= cols <= MAX_SIDE):
        raise UnsupportedScanError(
            f"{name} has an implausible image size of {rows} x {cols} pixels; a full-body scan "
            f"has {MIN_SIDE} to {MAX_SIDE} rows and columns"
        )
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise UnsupportedScanError(
            f"{name} has {arr.dtype} pixels; export integer (16-bit) or floating-point values"
        )
    if np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
        raise UnsupportedScanError(f"{name} contains NaN or infinite pixels; clean the export")
    return arr


def _parameters(
    name: str, fmt: str, pixel_spacing: Any, polarity: Polarity | str | None
) -> tuple[tuple[float, float], Polarity]:
    if pixel_spacing is None or polarity is None:
        missing = " and ".join(
            p for p, v in (("pixel_spacing", pixel_spacing), ("polarity", polarity)) if v is None
        )
        raise ImageParametersError(
            f"{name} is a {fmt} image, which carries no physical information: pass {missing} "
            "to read_scan (e.g. pixel_spacing=(1.0, 1.0), polarity='counts'); choices for "
            f"polarity: {', '.join(p.value for p in Polarity)}"
        )
    try:
        pol = Polarity(polarity)
    except ValueError:
        raise ImageParametersError(
            f"polarity {polarity!r} is not one of {', '.join(p.value for p in Polarity)}"
        ) from None
    return check_spacing(pixel_spacing), pol


def _read_polarity(
    values: NDArray[np.float64],
    padding: NDArray[np.bool_] | None,
    name: str,
    steps: list[str],
) -> Polarity:
    """``polarity='auto'``: the polarity the image shows, or ImageParametersError."""
    reading = read_intensity(values, padding)
    if reading is None or reading.relationship is None:
        choices = ", ".join(p.value for p in Polarity if p is not Polarity.AUTO)
        why = "no air at its left and right edges" if reading is None else reading.describe()
        raise ImageParametersError(
            f"{name}: polarity 'auto' could not read what the values mean ({why}); pass the "
            f"polarity of the export: {choices}"
        )
    if reading.relationship == "LIN":
        pol = Polarity.COUNTS if reading.sign > 0 else None
    else:
        pol = Polarity.INVERTED_ATTENUATION if reading.sign > 0 else Polarity.ATTENUATION
    if pol is None:
        raise ImageParametersError(
            f"{name}: polarity 'auto' read inverted linear counts ({reading.describe()}), which "
            "no polarity describes; export the counts with air bright, or a log image"
        )
    steps.append(f"polarity {pol.value} read from the image ({reading.describe()})")
    return pol


def check_spacing(pixel_spacing: Any) -> tuple[float, float]:
    """Validate a caller's ``pixel_spacing`` (row, column) in mm."""
    try:
        row, col = (float(v) for v in pixel_spacing)
    except (TypeError, ValueError):
        raise ImageParametersError(
            f"pixel_spacing must be two numbers (row, column) in mm, got {pixel_spacing!r}"
        ) from None
    if not (row > 0 and col > 0 and np.isfinite(row) and np.isfinite(col)):
        raise ImageParametersError(
            f"pixel_spacing must be positive and finite (mm), got {pixel_spacing!r}"
        )
    return (row, col)


def scan_from_image(
    data: bytes,
    fmt: str,
    conformance: Conformance,
    *,
    pixel_spacing: Any,
    polarity: Polarity | str | None,
    log_scale: float | None = None,
) -> Scan:
    """Decode and normalise a PNG/TIFF image (policy applied by the caller)."""
    name = conformance.source
    spacing, pol = _parameters(name, fmt, pixel_spacing, polarity)
    arr = _read_pixels(data, fmt, name)
    is_int = np.issubdtype(arr.dtype, np.integer)
    bits = int(arr.dtype.itemsize * 8) if is_int else None
    if is_int and bits is not None and bits < 16:
        conformance.report(
            f"{bits}-bit {fmt} image: too few grey levels for attenuation measurements; "
            "export 16-bit images"
        )
    values = arr.astype(np.float64)
    steps = [f"decoded {arr.shape[0]} x {arr.shape[1]} {arr.dtype} pixels ({fmt})"]
    frame = find_frame(values)
    padding = None
    if frame is not None:  # no level estimated from here on sees the padding
        padding = frame.mask((int(arr.shape[0]), int(arr.shape[1])))
        values = fill_padding(values, padding)
        steps.append(f"{frame.describe()}: taken as padding and set to air")
    if pol is Polarity.AUTO:
        pol = _read_polarity(values, padding, name, steps)
    air: float | None = None
    assumed_scale = False
    fix = "pass log_scale (stored units per natural-log unit)"
    if pol is Polarity.COUNTS:
        try:
            air = kernels.estimate_air_level(values)
            image = kernels.counts_to_attenuation(values, air)
        except kernels.KernelInputError as exc:
            raise UnsupportedScanError(
                f"{name}: counts image without any bright (air) region ({exc}); is it really "
                "raw counts? Pass the polarity that matches the export"
            ) from exc
        steps.append(
            f"counts: attenuation = -ln(I / I_air), air level I_air = {air:.6g} estimated from "
            "the unattenuated region beside the body"
        )
    else:
        if pol is Polarity.INVERTED_ATTENUATION:
            top = float(np.iinfo(arr.dtype).max) if is_int else 0.0
            values = top - values
            steps.append("inverted: larger stored value = less attenuation")
        if log_scale is not None:
            if not (log_scale > 0 and np.isfinite(log_scale)):
                raise ImageParametersError(f"log_scale must be positive, got {log_scale!r}")
            values = values / log_scale
            steps.append(f"divided by log_scale {log_scale:g}")
        elif is_int:
            scale = (LOG_RANGE[1] - LOG_RANGE[0]) / float(np.iinfo(arr.dtype).max)
            values = values * scale
            assumed_scale = True
        # An inverted image's zero is arbitrary (the dtype's top), so its air offset always goes.
        always = assumed_scale or pol is Polarity.INVERTED_ATTENUATION
        image = subtract_air_offset(values, conformance, steps, always=always)
        if assumed_scale:
            problem = "integer log image without log_scale: its log scale is unknown"
            image = scale_to_body(image, scale, conformance, steps, problem=problem, fix=fix)
        else:
            image = check_log_scale(image, conformance, steps, fix=fix)
    if padding is not None:
        image[padding] = 0.0  # not image: shown and analysed as air
    steps.append(f"spacing {spacing[0]:g} x {spacing[1]:g} mm from the caller")
    normalisation = Normalisation(
        source_format=fmt,
        encoding=f"{fmt} {arr.dtype}, polarity {pol.value}",
        bits_stored=bits,
        air_level=air,
        steps=tuple(steps),
    )
    return Scan(
        image=np.ascontiguousarray(image, dtype=np.float32),
        spacing=spacing,
        spacing_source=SpacingSource.CALLER,
        stored_shape=(int(arr.shape[0]), int(arr.shape[1])),
        metadata=ScanMetadata(),
        normalisation=normalisation,
    )
