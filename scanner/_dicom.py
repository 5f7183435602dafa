"""DICOM half of :func:`scanner.read_scan`: parse, check, decode and normalise one dataset.

The normalisation rules are the ones :mod:`scanner.encoding` documents (and writes):

* Rescale Slope / Intercept (or a Modality LUT Sequence) is applied first.
* Padding: stored values equal to Pixel Padding Value (0028,0120), or up to Pixel Padding Range
  Limit (0028,0121); without the tag, a frame of edge rows and columns holding one value that is
  not the air's (:func:`scanner.intensity.find_frame`). Padded pixels are given the air's value
  before anything is estimated (:func:`scanner.intensity.fill_padding`) and are air (0) in the
  attenuation image.
* Pixel Intensity Relationship (0028,1040) ``LIN``: the rescaled value is proportional to the
  beam intensity; with Sign (0028,1041) ``-1`` it is first flipped within the stored range. It
  becomes ``-ln(I / I_air)`` with the air level ``I_air`` estimated by
  :func:`kernels.estimate_air_level`: candidates are the left and right 5 % of columns and the
  top 5 % of rows (air beside and above a standing person); their 99th percentile is found and
  candidates below half of it (body, dead channels) are dropped; the median of the rest is
  refined twice within 3 robust standard deviations (1.4826 * MAD). Transmission is clamped at
  ``1e-6`` (attenuation at most 13.8).
* ``LOG``: the rescaled value is the natural-log line integral, negated when Sign is ``+1``
  (higher = more intensity). The air offset (the attenuation of the air region, ~0 for a
  flat-fielded image) is then subtracted so air is 0 in every encoding, when it is at most
  ``AIR_OFFSET_LIMIT`` (0.25); a larger one (no air margin, offset values) is kept and
  reported (:func:`scanner._normalise.subtract_air_offset`). If the values span more than
  ``MAX_LOG_RANGE`` (30) natural-log units, the file cannot follow the convention (the
  vendor's log scale is unknown): the image is scaled so that the body's median attenuation is
  that of a full-body scan (``BODY_MEDIAN``, 2.4), or, with no body found, the full stored range
  is assumed to span :data:`scanner.encoding.LOG_RANGE`; a conformance problem is reported. A
  body median outside ``PLAUSIBLE_BODY_MEDIAN`` (1.5-5) means the same (log10 values, another
  unit) and is scaled and reported alike.
* When (0028,1040) or (0028,1041) is missing or invalid, it is read from the image
  (:func:`scanner.intensity.read_intensity`: where the air beside the person lies in the value
  range gives the sign, how far the densest body part lies from air tells LIN from LOG). Only
  when the image cannot tell (no air at its edges) is Photometric Interpretation, a display
  setting, used: LOG is assumed, with sign ``-1`` for MONOCHROME2 and ``+1`` for MONOCHROME1.
  Stated values are kept; an image that contradicts them is reported.
* Spacing: Pixel Spacing, else Imager Pixel Spacing (divided by the Estimated Radiographic
  Magnification Factor when present), else the caller's ``pixel_spacing``, else an estimate
  from the height of the person scanned (:func:`scanner.stature.estimate_spacing`), else
  :data:`scanner._header.ASSUMED_SPACING`; the last two with a conformance problem.
"""

from __future__ import annotations

import io
import logging
from typing import Any

import numpy as np
import pydicom
from numpy.typing import NDArray
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels import get_decoder
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from scanner._header import (
    as_float,
    get,
    get_int,
    get_text,
    intensity_relationship,
    metadata,
    scan_spacing,
)
from scanner._normalise import lin_to_attenuation, log_to_attenuation
from scanner.conformance import Conformance
from scanner.errors import (
    MissingDecoderError,
    MissingPixelDataError,
    NotDicomError,
    TruncatedFileError,
    UnsupportedScanError,
)
from scanner.intensity import fill_padding, find_frame
from scanner.scan import Normalisation, Scan

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())

#: Smallest and largest accepted rows / columns.
MIN_SIDE, MAX_SIDE = 32, 16384

_PIXEL_TAGS = (b"\xe0\x7f\x10\x00", b"\x7f\xe0\x00\x10")  # (7FE0,0010) little / big endian
_PROJECTION_CLASSES = {
    pydicom.uid.DigitalXRayImageStorageForPresentation,
    pydicom.uid.DigitalXRayImageStorageForProcessing,
    pydicom.uid.ComputedRadiographyImageStorage,
    pydicom.uid.SecondaryCaptureImageStorage,
    pydicom.uid.DICOSDigitalXRayImageStorageForPresentation,
    pydicom.uid.DICOSDigitalXRayImageStorageForProcessing,
}
#: Compressed transfer syntaxes that keep every stored value (JPEG 2000 "Lossless" and HTJ2K
#: "Lossless" only; the plain JPEG 2000 syntax may be lossy).
_LOSSLESS = {
    pydicom.uid.RLELossless,
    pydicom.uid.JPEGLSLossless,
    pydicom.uid.JPEGLossless,
    pydicom.uid.JPEGLosslessSV1,
    pydicom.uid.JPEG2000Lossless,
    pydicom.uid.HTJ2KLossless,
    pydicom.uid.HTJ2KLosslessRPCL,
    pydicom.uid.DeflatedExplicitVRLittleEndian,
}
#: pip packages that provide the decoder of a transfer syntax.
_DECODER_PACKAGES = {
    pydicom.uid.RLELossless: "pylibjpeg-rle (or nothing: pydicom decodes RLE natively)",
    pydicom.uid.JPEGLSLossless: "pyjpegls",
    pydicom.uid.JPEGLSNearLossless: "pyjpegls",
    pydicom.uid.JPEG2000Lossless: "pylibjpeg and pylibjpeg-openjpeg",
    pydicom.uid.JPEG2000: "pylibjpeg and pylibjpeg-openjpeg",
    pydicom.uid.JPEGLossless: "pylibjpeg and pylibjpeg-libjpeg",
    pydicom.uid.JPEGLosslessSV1: "pylibjpeg and pylibjpeg-libjpeg",
    pydicom.uid.JPEGBaseline8Bit: "pylibjpeg and pylibjpeg-libjpeg",
    pydicom.uid.JPEGExtended12Bit: "pylibjpeg and pylibjpeg-libjpeg",
}


def parse(data: bytes, conformance: Conformance) -> Dataset:
    """Parse DICOM bytes, mapping every failure to a typed scanner error."""
    name = conformance.source
    ds: Dataset
    try:
        ds = pydicom.dcmread(io.BytesIO(data))
    except InvalidDicomError:
        ds = _parse_bare(data, name)
        conformance.report(
            "no DICOM file header (128-byte preamble and 'DICM'); read as a bare dataset. "
            "Export the file as DICOM Part 10"
        )
    except EOFError as exc:
        raise TruncatedFileError(
            f"{name} ends in the middle of a DICOM element ({exc}); the file is incomplete: "
            "copy or export it again"
        ) from exc
    except Exception as exc:
        raise NotDicomError(
            f"{name} could not be parsed as DICOM ({type(exc).__name__}: {exc}); check that "
            "it is a DICOM file and not damaged"
        ) from exc
    if not _has_pixels(ds):
        if any(tag in data for tag in _PIXEL_TAGS):
            raise TruncatedFileError(
                f"{name} ends inside its Pixel Data: the file is incomplete (was the transfer "
                "interrupted?); copy or export it again"
            )
        if not any(elem.tag.group != 0x0002 for elem in ds):
            raise TruncatedFileError(
                f"{name} ends inside its DICOM header: the file is incomplete; copy or export "
                "it again"
            )
    return ds


def _parse_bare(data: bytes, name: str) -> Dataset:
    """Read a dataset without the Part-10 header, or raise NotDicomError."""
    hint = (
        f"{name} is not a DICOM file (no 'DICM' marker at byte 128) nor a PNG/TIFF image; "
        "give a DICOM Part-10 file, or a 16-bit PNG/TIFF with pixel_spacing and polarity"
    )
    try:
        ds = pydicom.dcmread(io.BytesIO(data), force=True)
        plausible = _has_pixels(ds) or ("Rows" in ds and "Columns" in ds)
    except Exception as exc:
        raise NotDicomError(hint) from exc
    if not plausible:
        raise NotDicomError(hint)
    return ds


def _has_pixels(ds: Dataset) -> bool:
    return any(k in ds for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData"))


def _check_pixel_module(ds: Dataset, name: str) -> None:
    """Refuse what no normalisation can use: no pixels, frames, colour, odd sizes."""
    if "PixelData" not in ds:
        if _has_pixels(ds):
            raise UnsupportedScanError(
                f"{name} holds floating-point pixel data; ScanGuard reads integer radiographs "
                "(Pixel Data 7FE0,0010): export the scan as an integer DX/CR image"
            )
        raise MissingPixelDataError(
            f"{name} has no Pixel Data (7FE0,0010): it is a DICOM object without an image "
            "(a report, a worklist or a structured document?); send the image object"
        )
    frames = get_int(ds, "NumberOfFrames", 1) or 1
    if frames > 1:
        raise UnsupportedScanError(
            f"{name} is a multi-frame image ({frames} frames); ScanGuard reads one projection "
            "per file: export each frame as its own single-frame image"
        )
    samples = get_int(ds, "SamplesPerPixel", 1)
    photometric = str(get(ds, "PhotometricInterpretation", "")).strip().upper()
    if samples != 1 or photometric not in ("MONOCHROME1", "MONOCHROME2", ""):
        raise UnsupportedScanError(
            f"{name} is a colour image (Photometric Interpretation {photometric or '?'}, "
            f"{samples} samples per pixel); ScanGuard needs the grayscale MONOCHROME1/2 "
            "transmission image as the scanner produced it, not a screenshot"
        )
    rows, cols = get_int(ds, "Rows"), get_int(ds, "Columns")
    if rows is None or cols is None:
        raise UnsupportedScanError(
            f"{name} lacks Rows/Columns (0028,0010/0011); the image size is unknown, so the "
            "file cannot be decoded: re-export it from the scanner"
        )
    if not (MIN_SIDE <= rows <= MAX_SIDE and MIN_SIDE <= cols <= MAX_SIDE):
        raise UnsupportedScanError(
            f"{name} has an implausible image size of {rows} x {cols} pixels; a full-body scan "
            f"has {MIN_SIDE} to {MAX_SIDE} rows and columns: check Rows/Columns (0028,0010/0011)"
        )
    allocated = get_int(ds, "BitsAllocated")
    if allocated not in (8, 16):
        raise UnsupportedScanError(
            f"{name} has Bits Allocated {allocated}; ScanGuard reads 8- or 16-bit integer "
            "images: export with 8 to 16 bits stored"
        )


def _transfer_syntax(ds: Dataset, conformance: Conformance) -> UID:
    meta = getattr(ds, "file_meta", None)
    ts = meta.get("TransferSyntaxUID") if meta is not None else None
    if ts:
        return UID(str(ts))
    encoding = getattr(ds, "original_encoding", (None, None))
    implicit = encoding[0] if encoding else None
    ts = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
    if "PixelData" in ds and isinstance(ds.PixelData, bytes | bytearray):
        rows, cols = get_int(ds, "Rows", 0) or 0, get_int(ds, "Columns", 0) or 0
        expected = rows * cols * (get_int(ds, "BitsAllocated", 16) or 16) // 8
        if len(ds.PixelData) < expected:
            raise MissingDecoderError(
                f"{conformance.source} has no Transfer Syntax UID (0002,0010) and its Pixel Data "
                "looks compressed; the codec is unknown: write the file with its file meta header"
            )
    conformance.report(
        f"no Transfer Syntax UID (0002,0010); assumed {ts.name}. Write the file with its "
        "file meta information"
    )
    return ts


def _decode(ds: Dataset, ts: UID, conformance: Conformance) -> NDArray[Any]:
    name = conformance.source
    try:
        decoder = get_decoder(ts)
    except NotImplementedError as exc:
        raise MissingDecoderError(
            f"{name} uses transfer syntax {ts} ({ts.name}), for which no decoder exists; "
            "convert it to an uncompressed or lossless syntax (e.g. 'gdcmconv --raw')"
        ) from exc
    if not decoder.is_available:
        package = _DECODER_PACKAGES.get(ts, "a pydicom pixel-data plug-in for it")
        missing = "; ".join(decoder.missing_dependencies) or "no plug-in installed"
        raise MissingDecoderError(
            f"{name} is compressed with {ts.name} and no decoder is available ({missing}); "
            f"install {package} (pip install scanguard brings them), or convert the file to "
            "an uncompressed transfer syntax"
        )
    if ts.is_compressed and ts not in _LOSSLESS:
        conformance.report(
            f"lossy compression ({ts.name}) alters attenuation values; configure the scanner "
            "to send uncompressed or lossless images"
        )
    rows, cols = get_int(ds, "Rows"), get_int(ds, "Columns")
    if ts.is_encapsulated is False and isinstance(ds.PixelData, bytes | bytearray):
        expected = (rows or 0) * (cols or 0) * (get_int(ds, "BitsAllocated", 16) or 16) // 8
        if len(ds.PixelData) < expected:
            raise TruncatedFileError(
                f"{name} holds {len(ds.PixelData)} bytes of Pixel Data where {rows} x {cols} "
                f"pixels need {expected}: the file is truncated; copy or export it again"
            )
    # Missing Image Pixel attributes with one sensible value for a grayscale radiograph.
    overrides: dict[str, Any] = {}
    for keyword, option, value in (
        ("PhotometricInterpretation", "photometric_interpretation", "MONOCHROME2"),
        ("BitsStored", "bits_stored", get_int(ds, "BitsAllocated")),
        ("PixelRepresentation", "pixel_representation", 0),
        ("SamplesPerPixel", "samples_per_pixel", 1),
    ):
        if get(ds, keyword) in (None, ""):
            overrides[option] = value
            conformance.report(f"{keyword} is missing; assumed {value}. Correct the file")
    try:
        arr, _ = decoder.as_array(ds, **overrides)
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except BaseException as exc:  # Rust plug-ins raise pyo3 PanicException (a BaseException)
        raise UnsupportedScanError(
            f"{name}: the {ts.name} pixel data could not be decoded ({type(exc).__name__}: "
            f"{exc}); the file is damaged or its image attributes do not match the data"
        ) from exc
    if arr.ndim != 2:
        raise UnsupportedScanError(
            f"{name} decoded to an array of shape {arr.shape}, not one grayscale frame; "
            "export a single-frame grayscale image"
        )
    return arr


def _rescale(
    ds: Dataset, stored: NDArray[Any], conformance: Conformance, steps: list[str]
) -> tuple[NDArray[np.float64], float, float]:
    """Apply the modality transform; returns (values, slope, intercept)."""
    if "ModalityLUTSequence" in ds and "RescaleSlope" not in ds:
        from pydicom.pixels import apply_modality_lut

        values = np.asarray(apply_modality_lut(stored, ds), dtype=np.float64)
        steps.append("applied the Modality LUT Sequence")
        return values, 1.0, 0.0
    slope = as_float(get(ds, "RescaleSlope", 1.0))
    intercept = as_float(get(ds, "RescaleIntercept", 0.0))
    if slope is None or slope == 0.0:
        conformance.report(
            f"Rescale Slope {get(ds, 'RescaleSlope')!r} is not a non-zero number; used 1. "
            "Correct (0028,1053)"
        )
        slope = 1.0
    if intercept is None:
        conformance.report(
            f"Rescale Intercept {get(ds, 'RescaleIntercept')!r} is not a number; used 0. "
            "Correct (0028,1052)"
        )
        intercept = 0.0
    values = stored.astype(np.float64)
    if (slope, intercept) != (1.0, 0.0):
        values = values * slope + intercept
        op = "-" if intercept < 0 else "+"
        steps.append(f"rescaled: value = {slope:g} * stored {op} {abs(intercept):g}")
    return values, slope, intercept


def _padding(ds: Dataset, stored: NDArray[Any], steps: list[str]) -> NDArray[np.bool_] | None:
    """Pixels marked as padding (Pixel Padding Value, up to Pixel Padding Range Limit), or None.

    PS3.3 C.7.5.1.1.2: stored values equal to (0028,0120), or between it and (0028,0121)
    inclusive, are not part of the image (a collimated or shaped border).
    """
    value = get_int(ds, "PixelPaddingValue")
    if value is None:
        return _frame(stored, steps)
    limit = get_int(ds, "PixelPaddingRangeLimit")
    lo, hi = (value, value) if limit is None else (min(value, limit), max(value, limit))
    mask = (stored >= lo) & (stored <= hi)
    if not mask.any():
        return _frame(stored, steps)
    steps.append(
        f"{int(mask.sum())} padding pixels (stored {lo}"
        + (f"-{hi}" if hi != lo else "")
        + ") set to air"
    )
    return np.asarray(mask, dtype=np.bool_)


def _frame(stored: NDArray[Any], steps: list[str]) -> NDArray[np.bool_] | None:
    """Padding the file does not mark: a constant frame that is not air (:func:`find_frame`)."""
    frame = find_frame(stored)
    if frame is None:
        return None
    steps.append(
        f"{frame.describe()} (stored values) and no Pixel Padding Value (0028,0120): taken as "
        "padding and set to air"
    )
    return frame.mask((int(stored.shape[0]), int(stored.shape[1])))


def scan_from_dataset(
    ds: Dataset,
    conformance: Conformance,
    *,
    pixel_spacing: tuple[float, float] | None = None,
) -> Scan:
    """Check, decode and normalise one DICOM dataset (policy applied by the caller)."""
    name = conformance.source
    _check_pixel_module(ds, name)
    sop_class = get_text(ds, "SOPClassUID")
    if sop_class is not None and sop_class not in _PROJECTION_CLASSES:
        conformance.report(
            f"SOP Class {sop_class} ({UID(sop_class).name}) is not a projection radiograph "
            "(DX, CR or Secondary Capture); read as one anyway"
        )
    ts = _transfer_syntax(ds, conformance)
    stored = _decode(ds, ts, conformance)
    rows, cols = (int(stored.shape[0]), int(stored.shape[1]))
    bits_stored = get_int(ds, "BitsStored", get_int(ds, "BitsAllocated", 16)) or 16
    max_stored = (1 << bits_stored) - 1

    steps: list[str] = [f"decoded {rows} x {cols} pixels, {bits_stored} bits stored ({ts.name})"]
    values, slope, intercept = _rescale(ds, stored, conformance, steps)
    padding = _padding(ds, stored, steps)
    if padding is not None:  # no level estimated from here on sees the padding
        values = fill_padding(values, padding)
    relationship, sign = intensity_relationship(ds, values, padding, conformance, steps)
    air: float | None = None
    if relationship == "LIN":
        image, air = lin_to_attenuation(name, values, sign, slope, intercept, max_stored, steps)
    else:
        image = log_to_attenuation(values, sign, slope, max_stored, conformance, steps)
    if padding is not None:
        image[padding] = 0.0  # not image: shown and analysed as air
    spacing, spacing_source = scan_spacing(ds, pixel_spacing, conformance, steps, image)
    steps.append(f"spacing {spacing[0]:g} x {spacing[1]:g} mm from {spacing_source.value}")

    photometric = str(get(ds, "PhotometricInterpretation", "")).strip().upper() or None
    kind = "counts" if relationship == "LIN" else "attenuation"
    sop_name = UID(sop_class).name if sop_class else "unknown SOP class"
    normalisation = Normalisation(
        source_format="DICOM",
        encoding=(
            f"{relationship} {kind}, sign {sign:+d}, {photometric or '?'}, {bits_stored} bit, "
            f"{sop_name}"
        ),
        transfer_syntax=ts.name,
        photometric_interpretation=photometric,
        pixel_intensity_relationship=relationship,
        pixel_intensity_relationship_sign=sign,
        rescale_slope=slope,
        rescale_intercept=intercept,
        bits_stored=bits_stored,
        air_level=air,
        steps=tuple(steps),
    )
    return Scan(
        image=np.ascontiguousarray(image, dtype=np.float32),
        spacing=spacing,
        spacing_source=spacing_source,
        stored_shape=(rows, cols),
        metadata=metadata(ds, conformance),
        normalisation=normalisation,
    )
