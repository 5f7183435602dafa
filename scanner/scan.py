"""The normalised scan: one physical meaning whatever the vendor encoding."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray


class SpacingSource(StrEnum):
    """Where the pixel spacing of a scan came from."""

    PIXEL_SPACING = "PixelSpacing"
    IMAGER_PIXEL_SPACING = "ImagerPixelSpacing"
    CALLER = "caller"
    #: From the height of the person scanned (:func:`scanner.stature.estimate_spacing`).
    ESTIMATED = "estimated"
    ASSUMED = "assumed"


class Polarity(StrEnum):
    """How stored values relate to attenuation in a non-DICOM image."""

    #: Raw transmitted counts: bright = air (converted with -ln(I / I_air)).
    COUNTS = "counts"
    #: Already log attenuation, larger = denser.
    ATTENUATION = "attenuation"
    #: Display image, larger = brighter = less attenuation (inverted log image).
    INVERTED_ATTENUATION = "inverted-attenuation"
    #: Read from the image (:func:`scanner.intensity.read_intensity`): one of the three above.
    AUTO = "auto"


@dataclass(frozen=True)
class ScanMetadata:
    """Identity and acquisition facts integrators and officers need."""

    sop_instance_uid: str | None = None
    study_instance_uid: str | None = None
    series_instance_uid: str | None = None
    sop_class_uid: str | None = None
    modality: str | None = None
    patient_id: str | None = None
    patient_name: str | None = None
    station_name: str | None = None
    institution_name: str | None = None
    device_serial_number: str | None = None
    manufacturer: str | None = None
    manufacturer_model_name: str | None = None
    kvp: float | None = None
    acquisition_datetime: _dt.datetime | None = None
    #: Patient Orientation (0020,0020): the patient direction along a row (increasing column)
    #: and down a column (increasing row), e.g. ``("L", "F")`` for a frontal view stored
    #: upright; None when the file states none or an unusable value.
    patient_orientation: tuple[str, str] | None = None

    def to_dict(self) -> dict[str, object]:
        """JSON-ready mapping (date-time as ISO 8601)."""
        out: dict[str, object] = {}
        for key, value in self.__dict__.items():
            out[key] = value.isoformat() if isinstance(value, _dt.datetime) else value
        return out


@dataclass(frozen=True)
class Normalisation:
    """Record of how stored pixel values became attenuation.

    Attributes
    ----------
    source_format : str
        ``"DICOM"``, ``"PNG"`` or ``"TIFF"``.
    encoding : str
        Short label of the detected encoding, e.g. ``"LIN counts, MONOCHROME2, 14 bit"``.
    steps : tuple of str
        Human-readable normalisation steps in the order applied.
    """

    source_format: str
    encoding: str
    transfer_syntax: str | None = None
    photometric_interpretation: str | None = None
    pixel_intensity_relationship: str | None = None
    pixel_intensity_relationship_sign: int | None = None
    rescale_slope: float | None = None
    rescale_intercept: float | None = None
    bits_stored: int | None = None
    air_level: float | None = None
    steps: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True, eq=False)
class Scan:
    """A full-body transmission scan in physical units.

    Attributes
    ----------
    image : ndarray of float32, shape (rows, cols)
        Line integral ``-ln(I / I_air)``: air ~ 0, denser material larger. Rows run along
        the body's height (head at row 0 for a standing person), columns across it.
    spacing : tuple of float
        Pixel spacing (row, column) in mm.
    spacing_source : SpacingSource
        Where ``spacing`` came from.
    stored_shape : tuple of int
        (rows, columns) as stored by the scanner.
    metadata : ScanMetadata
    normalisation : Normalisation
    """

    image: NDArray[np.float32]
    spacing: tuple[float, float]
    spacing_source: SpacingSource
    stored_shape: tuple[int, int]
    metadata: ScanMetadata = field(default_factory=ScanMetadata)
    normalisation: Normalisation = field(
        default_factory=lambda: Normalisation(source_format="array", encoding="attenuation")
    )

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols) of ``image``."""
        return (int(self.image.shape[0]), int(self.image.shape[1]))

    @property
    def size_mm(self) -> tuple[float, float]:
        """Physical extent (height, width) in mm."""
        return (self.shape[0] * self.spacing[0], self.shape[1] * self.spacing[1])
