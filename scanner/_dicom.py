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
  :data:`ASSUMED_SPACING`; the last two with a conformance problem.
"""

from __future__ import annotations

import datetime as _dt
import io
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pydicom
from numpy.typing import NDArray
from pydicom.datadict import tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue
from pydicom.pixels import get_decoder
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pydicom.valuerep import DA, DT, TM

from scanner._normalise import lin_to_attenuation, log_to_attenuation
from scanner.conformance import Conformance
from scanner.errors import (
    MissingDecoderError,
    MissingPixelDataError,
    NotDicomError,
    TruncatedFileError,
    UnsupportedScanError,
)
from scanner.intensity import fill_padding, find_frame, read_intensity
from scanner.scan import Normalisation, Scan, ScanMetadata, SpacingSource
from scanner.stature import (
    HEAD_TO_SOLE_MM,
    ORIENTATION_LETTERS,
    estimate_spacing,
    upright_turn,
)

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())

#: Spacing (row, column) in mm used when neither the file nor the caller gives one and the
#: image is not a full-body scan to estimate it from.
ASSUMED_SPACING: tuple[float, float] = (1.0, 1.0)
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


def _get(ds: Dataset, keyword: str, default: Any = None) -> Any:
    """``ds.get`` that survives values pydicom cannot convert (returns their raw text)."""
    try:
        return ds.get(keyword, default)
    except Exception:  # an invalid value for its VR, e.g. DS "high"
        tag = tag_for_keyword(keyword)
        raw = getattr(ds.get_item(tag), "value", None) if tag is not None else None
        if isinstance(raw, bytes):
            return raw.decode("latin-1", "replace").strip("\x00 ")
        return default


def _has_pixels(ds: Dataset) -> bool:
    return any(k in ds for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData"))


def _int(ds: Dataset, keyword: str, default: int | None = None) -> int | None:
    value = _get(ds, keyword, default)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _float(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if np.isfinite(out) else None


def _text(ds: Dataset, keyword: str) -> str | None:
    value = _get(ds, keyword)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


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
    frames = _int(ds, "NumberOfFrames", 1) or 1
    if frames > 1:
        raise UnsupportedScanError(
            f"{name} is a multi-frame image ({frames} frames); ScanGuard reads one projection "
            "per file: export each frame as its own single-frame image"
        )
    samples = _int(ds, "SamplesPerPixel", 1)
    photometric = str(_get(ds, "PhotometricInterpretation", "")).strip().upper()
    if samples != 1 or photometric not in ("MONOCHROME1", "MONOCHROME2", ""):
        raise UnsupportedScanError(
            f"{name} is a colour image (Photometric Interpretation {photometric or '?'}, "
            f"{samples} samples per pixel); ScanGuard needs the grayscale MONOCHROME1/2 "
            "transmission image as the scanner produced it, not a screenshot"
        )
    rows, cols = _int(ds, "Rows"), _int(ds, "Columns")
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
    allocated = _int(ds, "BitsAllocated")
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
        rows, cols = _int(ds, "Rows", 0) or 0, _int(ds, "Columns", 0) or 0
        expected = rows * cols * (_int(ds, "BitsAllocated", 16) or 16) // 8
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
    rows, cols = _int(ds, "Rows"), _int(ds, "Columns")
    if ts.is_encapsulated is False and isinstance(ds.PixelData, bytes | bytearray):
        expected = (rows or 0) * (cols or 0) * (_int(ds, "BitsAllocated", 16) or 16) // 8
        if len(ds.PixelData) < expected:
            raise TruncatedFileError(
                f"{name} holds {len(ds.PixelData)} bytes of Pixel Data where {rows} x {cols} "
                f"pixels need {expected}: the file is truncated; copy or export it again"
            )
    # Missing Image Pixel attributes with one sensible value for a grayscale radiograph.
    overrides: dict[str, Any] = {}
    for keyword, option, value in (
        ("PhotometricInterpretation", "photometric_interpretation", "MONOCHROME2"),
        ("BitsStored", "bits_stored", _int(ds, "BitsAllocated")),
        ("PixelRepresentation", "pixel_representation", 0),
        ("SamplesPerPixel", "samples_per_pixel", 1),
    ):
        if _get(ds, keyword) in (None, ""):
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
    slope = _float(_get(ds, "RescaleSlope", 1.0))
    intercept = _float(_get(ds, "RescaleIntercept", 0.0))
    if slope is None or slope == 0.0:
        conformance.report(
            f"Rescale Slope {_get(ds, 'RescaleSlope')!r} is not a non-zero number; used 1. "
            "Correct (0028,1053)"
        )
        slope = 1.0
    if intercept is None:
        conformance.report(
            f"Rescale Intercept {_get(ds, 'RescaleIntercept')!r} is not a number; used 0. "
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
    value = _int(ds, "PixelPaddingValue")
    if value is None:
        return _frame(stored, steps)
    limit = _int(ds, "PixelPaddingRangeLimit")
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


def _relationship(
    ds: Dataset,
    values: NDArray[np.float64],
    padding: NDArray[np.bool_] | None,
    conformance: Conformance,
    steps: list[str],
) -> tuple[str, int]:
    """(relationship, sign) from the file; what it leaves out is read from the image.

    A missing or invalid (0028,1040)/(0028,1041) is taken from :func:`scanner.intensity.
    read_intensity` when the image has air beside the person, else from the photometric rule
    (LOG; sign ``-1`` for MONOCHROME2, ``+1`` for MONOCHROME1). Values the file states are kept;
    where the image contradicts them, a conformance problem says so.
    """
    photometric = str(_get(ds, "PhotometricInterpretation", "MONOCHROME2")).strip().upper()
    relationship = str(_get(ds, "PixelIntensityRelationship", "")).strip().upper()
    sign = _int(ds, "PixelIntensityRelationshipSign")
    reading = read_intensity(values, padding)
    if relationship in ("LIN", "LOG"):
        if reading is not None and reading.relationship not in (None, relationship):
            conformance.report(
                f"Pixel Intensity Relationship (0028,1040) is {relationship}, but the image "
                f"looks {reading.relationship}: {reading.describe()}. The file's value was "
                "used; check the scanner's export settings"
            )
    else:
        what = f"is {relationship!r}" if relationship else "is missing"
        if reading is not None and reading.relationship is not None:
            relationship = reading.relationship
            conformance.report(
                f"Pixel Intensity Relationship (0028,1040) {what}; read {relationship} from "
                f"the image ({reading.describe()}). Have the scanner write LIN or LOG"
            )
            steps.append(f"relationship {relationship} read from the image")
        else:
            conformance.report(
                f"Pixel Intensity Relationship (0028,1040) {what}; assumed LOG (log-converted "
                "data). Have the scanner write LIN or LOG"
            )
            relationship = "LOG"
    if sign in (1, -1):
        if reading is not None and reading.sign != sign:
            conformance.report(
                f"Pixel Intensity Relationship Sign (0028,1041) is {sign:+d}, but "
                f"{reading.describe()}. The file's value was used; check the scanner's export "
                "settings"
            )
    else:
        what = f"is {sign!r}" if sign is not None else "is missing"
        if reading is not None:
            sign = reading.sign
            conformance.report(
                f"Pixel Intensity Relationship Sign (0028,1041) {what}; read {sign:+d} from the "
                "image (the air beside the person is at the "
                f"{'high' if sign > 0 else 'low'} end of the values). Have the scanner write "
                "the sign"
            )
            steps.append(f"sign {sign:+d} read from the image")
        else:
            guess = 1 if photometric == "MONOCHROME1" else -1
            conformance.report(
                f"Pixel Intensity Relationship Sign (0028,1041) {what}; assumed {guess:+d} "
                f"from {photometric or 'MONOCHROME2'} (dense material shown white). Have the "
                "scanner write the sign"
            )
            sign = guess
    return relationship, sign


def _spacing(
    ds: Dataset,
    caller: tuple[float, float] | None,
    conformance: Conformance,
    steps: list[str],
    image: NDArray[np.float32],
) -> tuple[tuple[float, float], SpacingSource]:
    for keyword, source in (
        ("PixelSpacing", SpacingSource.PIXEL_SPACING),
        ("ImagerPixelSpacing", SpacingSource.IMAGER_PIXEL_SPACING),
    ):
        if keyword not in ds:
            continue
        value = _pair(_get(ds, keyword))
        if value is None:
            conformance.report(
                f"{keyword} {_get(ds, keyword)!r} is not two positive numbers (row, column) in mm; "
                "ignored. Correct the attribute"
            )
            continue
        if source is SpacingSource.IMAGER_PIXEL_SPACING:
            factor = _float(_get(ds, "EstimatedRadiographicMagnificationFactor"))
            if factor is not None and factor > 0 and factor != 1.0:
                value = (value[0] / factor, value[1] / factor)
                steps.append(f"Imager Pixel Spacing divided by the magnification {factor:g}")
        return value, source
    if caller is not None:
        return caller, SpacingSource.CALLER
    estimate = estimate_spacing(image)
    turn = upright_turn(image) if estimate is None else None
    if turn:  # a person stored on their side or upside down measures the same
        estimate = estimate_spacing(np.rot90(image, turn))
    if estimate is not None:
        conformance.report(
            "no Pixel Spacing (0028,0030) nor Imager Pixel Spacing (0018,1164); estimated "
            f"{estimate:.3g} x {estimate:.3g} mm from the height of the person scanned (head to "
            f"sole taken as {HEAD_TO_SOLE_MM / 1000:g} m: most adults are within 10 % of it). "
            "Have the scanner write the spacing, or pass pixel_spacing"
        )
        return (estimate, estimate), SpacingSource.ESTIMATED
    conformance.report(
        "no Pixel Spacing (0028,0030) nor Imager Pixel Spacing (0018,1164); assumed "
        f"{ASSUMED_SPACING[0]:g} x {ASSUMED_SPACING[1]:g} mm. Have the scanner write the "
        "spacing, or pass pixel_spacing"
    )
    return ASSUMED_SPACING, SpacingSource.ASSUMED


def _pair(value: Any) -> tuple[float, float] | None:
    if value is None or isinstance(value, str | bytes) or not isinstance(value, Sequence):
        return None
    if len(value) != 2:
        return None
    a, b = _float(value[0]), _float(value[1])
    if a is None or b is None or a <= 0 or b <= 0:
        return None
    return (a, b)


def _datetime(ds: Dataset, conformance: Conformance) -> _dt.datetime | None:
    raw = _get(ds, "AcquisitionDateTime")
    try:
        if raw:
            return DT(str(raw))
        for date_kw, time_kw in (
            ("AcquisitionDate", "AcquisitionTime"),
            ("ContentDate", "ContentTime"),
            ("StudyDate", "StudyTime"),
        ):
            date = _get(ds, date_kw)
            if date:
                day = DA(str(date))
                clock = TM(str(_get(ds, time_kw))) if _get(ds, time_kw) else _dt.time()
                return _dt.datetime.combine(day, clock)
    except ValueError as exc:
        conformance.report(f"acquisition date/time is not a valid DICOM value ({exc}); ignored")
    return None


def _orientation(ds: Dataset, conformance: Conformance) -> tuple[str, str] | None:
    raw = _get(ds, "PatientOrientation")
    if raw in (None, ""):
        return None
    values = [str(v).strip().upper() for v in (raw if isinstance(raw, MultiValue) else [raw])]
    if len(values) == 2 and all(v and set(v) <= ORIENTATION_LETTERS for v in values):
        return (values[0], values[1])
    stated = "\\".join(values)
    conformance.report(
        f"Patient Orientation (0020,0020) {stated!r} is not two directions made of A, P, R, L, "
        "H and F (a frontal view stored upright is L\\F); ignored"
    )
    return None


def metadata(ds: Dataset, conformance: Conformance) -> ScanMetadata:
    """Identity and acquisition facts of a dataset."""
    kvp_raw = _get(ds, "KVP")
    kvp = _float(kvp_raw) if kvp_raw not in (None, "") else None
    if kvp_raw not in (None, "") and kvp is None:
        conformance.report(f"KVP {kvp_raw!r} is not a number; ignored")
    return ScanMetadata(
        sop_instance_uid=_text(ds, "SOPInstanceUID"),
        study_instance_uid=_text(ds, "StudyInstanceUID"),
        series_instance_uid=_text(ds, "SeriesInstanceUID"),
        sop_class_uid=_text(ds, "SOPClassUID"),
        modality=_text(ds, "Modality"),
        patient_id=_text(ds, "PatientID"),
        patient_name=_text(ds, "PatientName"),
        station_name=_text(ds, "StationName"),
        institution_name=_text(ds, "InstitutionName"),
        device_serial_number=_text(ds, "DeviceSerialNumber"),
        manufacturer=_text(ds, "Manufacturer"),
        manufacturer_model_name=_text(ds, "ManufacturerModelName"),
        kvp=kvp,
        acquisition_datetime=_datetime(ds, conformance),
        patient_orientation=_orientation(ds, conformance),
    )


def scan_from_dataset(
    ds: Dataset,
    conformance: Conformance,
    *,
    pixel_spacing: tuple[float, float] | None = None,
) -> Scan:
    """Check, decode and normalise one DICOM dataset (policy applied by the caller)."""
    name = conformance.source
    _check_pixel_module(ds, name)
    sop_class = _text(ds, "SOPClassUID")
    if sop_class is not None and sop_class not in _PROJECTION_CLASSES:
        conformance.report(
            f"SOP Class {sop_class} ({UID(sop_class).name}) is not a projection radiograph "
            "(DX, CR or Secondary Capture); read as one anyway"
        )
    ts = _transfer_syntax(ds, conformance)
    stored = _decode(ds, ts, conformance)
    rows, cols = (int(stored.shape[0]), int(stored.shape[1]))
    bits_stored = _int(ds, "BitsStored", _int(ds, "BitsAllocated", 16)) or 16
    max_stored = (1 << bits_stored) - 1

    steps: list[str] = [f"decoded {rows} x {cols} pixels, {bits_stored} bits stored ({ts.name})"]
    values, slope, intercept = _rescale(ds, stored, conformance, steps)
    padding = _padding(ds, stored, steps)
    if padding is not None:  # no level estimated from here on sees the padding
        values = fill_padding(values, padding)
    relationship, sign = _relationship(ds, values, padding, conformance, steps)
    air: float | None = None
    if relationship == "LIN":
        image, air = lin_to_attenuation(name, values, sign, slope, intercept, max_stored, steps)
    else:
        image = log_to_attenuation(values, sign, slope, max_stored, conformance, steps)
    if padding is not None:
        image[padding] = 0.0  # not image: shown and analysed as air
    spacing, spacing_source = _spacing(ds, pixel_spacing, conformance, steps, image)
    steps.append(f"spacing {spacing[0]:g} x {spacing[1]:g} mm from {spacing_source.value}")

    photometric = str(_get(ds, "PhotometricInterpretation", "")).strip().upper() or None
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
