"""DICOM header facts of :func:`scanner.read_scan`: tolerant attribute access, the pixel
intensity relationship and sign, the pixel spacing and the identity and acquisition metadata.

The rules are those :mod:`scanner._dicom` documents; the pixel data itself is decoded and
normalised there.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydicom.datadict import tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.valuerep import DA, DT, TM

from scanner.conformance import Conformance
from scanner.intensity import read_intensity
from scanner.scan import ScanMetadata, SpacingSource
from scanner.stature import (
    HEAD_TO_SOLE_MM,
    ORIENTATION_LETTERS,
    estimate_spacing,
    upright_turn,
)

__all__ = [
    "ASSUMED_SPACING",
    "as_float",
    "get",
    "get_int",
    "get_text",
    "intensity_relationship",
    "metadata",
    "scan_spacing",
]

#: Spacing (row, column) in mm used when neither the file nor the caller gives one and the
#: image is not a full-body scan to estimate it from.
ASSUMED_SPACING: tuple[float, float] = (1.0, 1.0)


def get(ds: Dataset, keyword: str, default: Any = None) -> Any:
    """``ds.get`` that survives values pydicom cannot convert (returns their raw text)."""
    try:
        return ds.get(keyword, default)
    except Exception:  # an invalid value for its VR, e.g. DS "high"
        tag = tag_for_keyword(keyword)
        raw = getattr(ds.get_item(tag), "value", None) if tag is not None else None
        if isinstance(raw, bytes):
            return raw.decode("latin-1", "replace").strip("\x00 ")
        return default


def get_int(ds: Dataset, keyword: str, default: int | None = None) -> int | None:
    """An attribute as an integer; ``default`` when it is missing, empty or not a number."""
    value = get(ds, keyword, default)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def as_float(value: Any) -> float | None:
    """``value`` as a finite float, or None."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if np.isfinite(out) else None


def get_text(ds: Dataset, keyword: str) -> str | None:
    """An attribute as stripped text, or None when missing or empty."""
    value = get(ds, keyword)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def intensity_relationship(
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
    photometric = str(get(ds, "PhotometricInterpretation", "MONOCHROME2")).strip().upper()
    relationship = str(get(ds, "PixelIntensityRelationship", "")).strip().upper()
    sign = get_int(ds, "PixelIntensityRelationshipSign")
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


def scan_spacing(
    ds: Dataset,
    caller: tuple[float, float] | None,
    conformance: Conformance,
    steps: list[str],
    image: NDArray[np.float32],
) -> tuple[tuple[float, float], SpacingSource]:
    """Pixel spacing (row, column) in mm and where it came from.

    Pixel Spacing, else Imager Pixel Spacing (divided by the Estimated Radiographic Magnification
    Factor), else the caller's ``caller``, else an estimate from the height of the person in
    ``image`` (attenuation, shape (rows, cols)), else :data:`ASSUMED_SPACING`; the last two and
    any unusable attribute are reported on ``conformance``. ``steps`` gets what was done.
    """
    for keyword, source in (
        ("PixelSpacing", SpacingSource.PIXEL_SPACING),
        ("ImagerPixelSpacing", SpacingSource.IMAGER_PIXEL_SPACING),
    ):
        if keyword not in ds:
            continue
        value = _pair(get(ds, keyword))
        if value is None:
            conformance.report(
                f"{keyword} {get(ds, keyword)!r} is not two positive numbers (row, column) in mm; "
                "ignored. Correct the attribute"
            )
            continue
        if source is SpacingSource.IMAGER_PIXEL_SPACING:
            factor = as_float(get(ds, "EstimatedRadiographicMagnificationFactor"))
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
    a, b = as_float(value[0]), as_float(value[1])
    if a is None or b is None or a <= 0 or b <= 0:
        return None
    return (a, b)


def _datetime(ds: Dataset, conformance: Conformance) -> _dt.datetime | None:
    raw = get(ds, "AcquisitionDateTime")
    try:
        if raw:
            return DT(str(raw))
        for date_kw, time_kw in (
            ("AcquisitionDate", "AcquisitionTime"),
            ("ContentDate", "ContentTime"),
            ("StudyDate", "StudyTime"),
        ):
            date = get(ds, date_kw)
            if date:
                day = DA(str(date))
                clock = TM(str(get(ds, time_kw))) if get(ds, time_kw) else _dt.time()
                return _dt.datetime.combine(day, clock)
    except ValueError as exc:
        conformance.report(f"acquisition date/time is not a valid DICOM value ({exc}); ignored")
    return None


def _orientation(ds: Dataset, conformance: Conformance) -> tuple[str, str] | None:
    raw = get(ds, "PatientOrientation")
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
    kvp_raw = get(ds, "KVP")
    kvp = as_float(kvp_raw) if kvp_raw not in (None, "") else None
    if kvp_raw not in (None, "") and kvp is None:
        conformance.report(f"KVP {kvp_raw!r} is not a number; ignored")
    return ScanMetadata(
        sop_instance_uid=get_text(ds, "SOPInstanceUID"),
        study_instance_uid=get_text(ds, "StudyInstanceUID"),
        series_instance_uid=get_text(ds, "SeriesInstanceUID"),
        sop_class_uid=get_text(ds, "SOPClassUID"),
        modality=get_text(ds, "Modality"),
        patient_id=get_text(ds, "PatientID"),
        patient_name=get_text(ds, "PatientName"),
        station_name=get_text(ds, "StationName"),
        institution_name=get_text(ds, "InstitutionName"),
        device_serial_number=get_text(ds, "DeviceSerialNumber"),
        manufacturer=get_text(ds, "Manufacturer"),
        manufacturer_model_name=get_text(ds, "ManufacturerModelName"),
        kvp=kvp,
        acquisition_datetime=_datetime(ds, conformance),
        patient_orientation=_orientation(ds, conformance),
    )
