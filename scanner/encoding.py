"""Write a transmission image as DICOM the way a given scanner vendor would.

Vendors store the same physical scan in many ways (PHYSICS.md, "How vendors encode"). This
module writes any of them from one transmission image, so that tests, the simulator and
benchmarks can check that :func:`scanner.read_scan` turns every encoding back into the same
attenuation.

Conventions (the reader in :mod:`scanner.ingest` applies the same rules)
-----------------------------------------------------------------------
Pixel Intensity Relationship Sign (0028,1041)
    As the DICOM standard defines it (PS3.3 C.8.11.3): ``+1`` -- lower stored values
    correspond to *less* X-ray beam intensity (higher values = brighter beam = less
    attenuation, the natural sense of detector counts); ``-1`` -- higher stored values
    correspond to less intensity, i.e. more attenuation. :attr:`Encoding.sign` holds exactly
    the value written to the tag.
Photometric Interpretation (0028,0004)
    Display only: MONOCHROME1 shows the minimum value white, MONOCHROME2 black. It never
    changes the stored values nor their physical meaning. The reader uses it only when
    (0028,1040)/(0028,1041) are absent: it then assumes LOG data with a conventional radiograph
    look (dense material white), i.e. sign ``-1`` for MONOCHROME2 and ``+1`` for MONOCHROME1.
LIN (linear counts)
    The rescaled value ``v = slope * stored + intercept`` is proportional to the detected
    intensity (sign ``+1``); the writer stores ``round(air_counts * transmission)``. With sign
    ``-1`` the value is flipped within the stored range (``stored = max_stored - counts``).
LOG (log-converted)
    The rescaled value IS the natural-log line integral: ``v = -ln(I / I_air)`` with sign
    ``-1`` and ``v = ln(I / I_air)`` with sign ``+1``. The writer stores
    ``attenuation * scale`` (offset to fit the unsigned range) and writes Rescale Slope
    ``1 / scale`` with the matching Rescale Intercept. Unless the :class:`Encoding` gives its
    own slope and intercept, the representable attenuation range is :data:`LOG_RANGE`,
    ``[-1, 11]`` (transmission ~2.7 down to ~1.7e-5), spread over the stored bits.

Every identifier the writer makes (SOP Instance, Study and Series UIDs) is derived from the
pixel content and the encoding, so the same input always gives the same file; no global
random state is used.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, replace
from enum import StrEnum

import numpy as np
import pydicom
from numpy.typing import NDArray
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    UID,
    ComputedRadiographyImageStorage,
    DigitalXRayImageStorageForPresentation,
    DigitalXRayImageStorageForProcessing,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLSLossless,
    RLELossless,
    SecondaryCaptureImageStorage,
    generate_uid,
)

from scanner.scan import ScanMetadata

__all__ = [
    "ENCODINGS",
    "LOG_RANGE",
    "Encoding",
    "Photometric",
    "Relationship",
    "SopClass",
    "SpacingTag",
    "encode_dicom",
    "random_encoding",
]

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())

#: Attenuation range (natural-log units) a LOG image represents when the encoding does not
#: set its own Rescale Slope / Intercept.
LOG_RANGE: tuple[float, float] = (-1.0, 11.0)


def _derived_uid(entropy: str, role: str) -> UID:
    """A UID that depends only on ``entropy`` and ``role``."""
    return generate_uid(entropy_srcs=[entropy, role])


def _ds(value: float) -> str:
    """Decimal String of at most 16 characters."""
    text = f"{value:.10g}"
    return text if len(text) <= 16 else f"{value:.6e}"


class Relationship(StrEnum):
    """Pixel Intensity Relationship (0028,1040)."""

    LIN = "LIN"
    LOG = "LOG"


class Photometric(StrEnum):
    """Photometric Interpretation (0028,0004) of a grayscale image."""

    MONOCHROME1 = "MONOCHROME1"
    MONOCHROME2 = "MONOCHROME2"


class SpacingTag(StrEnum):
    """Which spacing attribute(s) the file carries."""

    PIXEL_SPACING = "PixelSpacing"
    IMAGER_PIXEL_SPACING = "ImagerPixelSpacing"
    BOTH = "both"
    NONE = "none"


class SopClass(StrEnum):
    """Storage SOP class of the written file."""

    DX_PRESENTATION = "DX-presentation"
    DX_PROCESSING = "DX-processing"
    CR = "CR"
    SC = "SC"

    @property
    def uid(self) -> UID:
        """The SOP Class UID."""
        return _SOP_CLASS_UIDS[self]

    @property
    def modality(self) -> str:
        """The Modality (0008,0060) written for this class."""
        return {"DX-presentation": "DX", "DX-processing": "DX", "CR": "CR", "SC": "OT"}[self.value]


_SOP_CLASS_UIDS: dict[SopClass, UID] = {
    SopClass.DX_PRESENTATION: DigitalXRayImageStorageForPresentation,
    SopClass.DX_PROCESSING: DigitalXRayImageStorageForProcessing,
    SopClass.CR: ComputedRadiographyImageStorage,
    SopClass.SC: SecondaryCaptureImageStorage,
}

#: Transfer syntaxes the writer can produce (all lossless).
_TRANSFER_SYNTAXES: tuple[UID, ...] = (
    ExplicitVRLittleEndian,
    RLELossless,
    JPEGLSLossless,
    JPEG2000Lossless,
)


@dataclass(frozen=True, init=False)
class Encoding:
    """How a vendor stores a transmission scan.

    Parameters
    ----------
    relationship : Relationship or str
        ``"LIN"`` (counts proportional to intensity) or ``"LOG"`` (natural-log line integral).
    sign : int
        Value of Pixel Intensity Relationship Sign (0028,1041), DICOM meaning: ``+1`` higher value =
        more beam intensity (less attenuation), ``-1`` higher value = more attenuation.
    photometric : Photometric or str
        ``"MONOCHROME1"`` or ``"MONOCHROME2"`` (display sense only).
    bits_stored : int
        8 to 16; Bits Allocated is always 16.
    rescale_slope, rescale_intercept : float or None
        Rescale Slope / Intercept to write. ``None`` means the convention: ``1, 0`` for LIN and the
        :data:`LOG_RANGE` mapping for LOG. Both or neither must be given.
    spacing_tag : SpacingTag or str
        Which spacing attribute(s) to write. ``"PixelSpacing"`` on a DX class also writes
        Imager Pixel Spacing (Type 1 in the DX Detector module), the same value.
    transfer_syntax : str
        Transfer Syntax UID: Explicit VR Little Endian, RLE Lossless, JPEG-LS Lossless or
        JPEG 2000 Lossless.
    sop_class : SopClass or str
        ``"DX-presentation"``, ``"DX-processing"``, ``"CR"`` or ``"SC"``.
    intensity_tags : bool
        Write (0028,1040)/(0028,1041). Many CR and Secondary Capture files lack them; the
        reader then falls back on the photometric interpretation (see the module docstring),
        so an encoding without them must follow that fallback rule to round-trip.
    """

    relationship: Relationship
    sign: int
    photometric: Photometric
    bits_stored: int
    rescale_slope: float | None
    rescale_intercept: float | None
    spacing_tag: SpacingTag
    transfer_syntax: UID
    sop_class: SopClass
    intensity_tags: bool

    def __init__(
        self,
        relationship: Relationship | str = Relationship.LIN,
        sign: int = 1,
        photometric: Photometric | str = Photometric.MONOCHROME2,
        bits_stored: int = 16,
        rescale_slope: float | None = None,
        rescale_intercept: float | None = None,
        spacing_tag: SpacingTag | str = SpacingTag.PIXEL_SPACING,
        transfer_syntax: str = ExplicitVRLittleEndian,
        sop_class: SopClass | str = SopClass.DX_PROCESSING,
        intensity_tags: bool = True,
    ) -> None:
        if sign not in (1, -1):
            raise ValueError(f"Encoding.sign must be +1 or -1, got {sign!r}")
        if not 8 <= int(bits_stored) <= 16:
            raise ValueError(f"Encoding.bits_stored must be 8..16, got {bits_stored!r}")
        if (rescale_slope is None) != (rescale_intercept is None):
            raise ValueError("give both Encoding.rescale_slope and rescale_intercept, or neither")
        if rescale_slope is not None and rescale_intercept is not None:
            if not rescale_slope > 0:
                raise ValueError(f"Encoding.rescale_slope must be > 0, got {rescale_slope!r}")
            # Keep the values a Decimal String can hold, so writer and reader agree exactly.
            rescale_slope = float(_ds(float(rescale_slope)))
            rescale_intercept = float(_ds(float(rescale_intercept)))
        ts = UID(str(transfer_syntax))
        if ts not in _TRANSFER_SYNTAXES:
            names = ", ".join(f"{uid} ({uid.name})" for uid in _TRANSFER_SYNTAXES)
            raise ValueError(f"Encoding.transfer_syntax {ts} is not supported; use one of {names}")
        set_ = object.__setattr__
        set_(self, "relationship", Relationship(relationship))
        set_(self, "sign", int(sign))
        set_(self, "photometric", Photometric(photometric))
        set_(self, "bits_stored", int(bits_stored))
        set_(self, "rescale_slope", rescale_slope)
        set_(self, "rescale_intercept", rescale_intercept)
        set_(self, "spacing_tag", SpacingTag(spacing_tag))
        set_(self, "transfer_syntax", ts)
        set_(self, "sop_class", SopClass(sop_class))
        set_(self, "intensity_tags", bool(intensity_tags))

    @property
    def max_stored(self) -> int:
        """Largest stored value, ``2**bits_stored - 1``."""
        return (1 << int(self.bits_stored)) - 1

    def slope_intercept(self) -> tuple[float, float]:
        """Rescale Slope and Intercept written for this encoding."""
        if self.rescale_slope is not None and self.rescale_intercept is not None:
            return float(self.rescale_slope), float(self.rescale_intercept)
        if self.relationship is Relationship.LIN:
            return 1.0, 0.0
        lo, hi = LOG_RANGE
        # Rounded as the Decimal String will hold it, so writer and reader use the same number.
        slope = float(_ds((hi - lo) / self.max_stored))
        # sign -1: v = attenuation in [lo, hi]; sign +1: v = -attenuation in [-hi, -lo].
        return slope, (lo if self.sign == -1 else -hi)

    def describe(self) -> str:
        """Short human-readable label."""
        return (
            f"{self.relationship} sign {self.sign:+d}, {self.photometric}, "
            f"{self.bits_stored} bit, {self.sop_class}, {self.transfer_syntax.name}"
        )


#: Named vendor-style presets.
ENCODINGS: dict[str, Encoding] = {
    "lin-mono2-16": Encoding("LIN", 1, "MONOCHROME2", 16),
    "lin-mono1-14": Encoding("LIN", 1, "MONOCHROME1", 14),
    "lin-mono1-12": Encoding("LIN", 1, "MONOCHROME1", 12, sop_class="CR"),
    "lin-neg-mono2-16": Encoding("LIN", -1, "MONOCHROME2", 16),
    "lin-offset-14": Encoding(
        "LIN", 1, "MONOCHROME1", 14, rescale_slope=2.0, rescale_intercept=-100.0
    ),
    "log-pos-mono2-12": Encoding("LOG", 1, "MONOCHROME2", 12, sop_class="DX-presentation"),
    "log-neg-mono1-16": Encoding("LOG", -1, "MONOCHROME1", 16, sop_class="DX-presentation"),
    "log-neg-mono2-14": Encoding("LOG", -1, "MONOCHROME2", 14, sop_class="DX-presentation"),
    "log-rescaled-16": Encoding(
        "LOG",
        -1,
        "MONOCHROME2",
        16,
        rescale_slope=0.0002,
        rescale_intercept=-1.5,
        sop_class="DX-presentation",
    ),
    "lin-imager-spacing-14": Encoding(
        "LIN", 1, "MONOCHROME1", 14, spacing_tag="ImagerPixelSpacing"
    ),
    "lin-both-spacing-16": Encoding("LIN", 1, "MONOCHROME2", 16, spacing_tag="both"),
    "lin-nospacing-16": Encoding("LIN", 1, "MONOCHROME2", 16, spacing_tag="none"),
    "lin-rle-16": Encoding("LIN", 1, "MONOCHROME2", 16, transfer_syntax=RLELossless),
    "log-jpegls-14": Encoding(
        "LOG", -1, "MONOCHROME2", 14, transfer_syntax=JPEGLSLossless, sop_class="DX-presentation"
    ),
    "lin-j2k-16": Encoding("LIN", 1, "MONOCHROME1", 16, transfer_syntax=JPEG2000Lossless),
    "cr-log-mono1-12": Encoding("LOG", 1, "MONOCHROME1", 12, sop_class="CR"),
    "cr-rle-log-16": Encoding(
        "LOG", -1, "MONOCHROME2", 16, sop_class="CR", transfer_syntax=RLELossless
    ),
    "sc-log-mono2-16": Encoding("LOG", -1, "MONOCHROME2", 16, sop_class="SC", intensity_tags=False),
}


def random_encoding(rng: np.random.Generator) -> Encoding:
    """Draw a plausible vendor encoding.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness; the result depends only on its state.

    Returns
    -------
    Encoding
        Uncompressed in ~70 % of draws, otherwise one of the lossless compressions.
    """
    relationship = Relationship.LIN if rng.random() < 0.5 else Relationship.LOG
    sign = 1 if rng.random() < 0.5 else -1
    photometric = Photometric.MONOCHROME1 if rng.random() < 0.5 else Photometric.MONOCHROME2
    bits = int(rng.choice([12, 14, 16]))
    spacing = SpacingTag(
        rng.choice(["PixelSpacing", "ImagerPixelSpacing", "both"], p=[0.5, 0.3, 0.2])
    )
    ts = _TRANSFER_SYNTAXES[int(rng.choice(4, p=[0.7, 0.1, 0.1, 0.1]))]
    if relationship is Relationship.LIN:
        sop = SopClass(rng.choice(["DX-processing", "CR"], p=[0.8, 0.2]))
    else:
        sop = SopClass(rng.choice(["DX-presentation", "CR"], p=[0.8, 0.2]))
    enc = Encoding(relationship, sign, photometric, bits, None, None, spacing, ts, sop)
    if relationship is Relationship.LOG and rng.random() < 0.3:
        # A vendor-specific scale and offset: still the natural-log value after rescale.
        slope, intercept = enc.slope_intercept()
        factor = float(rng.uniform(0.85, 1.0))  # never lose range
        enc = replace(enc, rescale_slope=float(_ds(slope / factor)), rescale_intercept=intercept)
    return enc


def _air_counts_default(encoding: Encoding) -> float:
    slope, intercept = encoding.slope_intercept()
    return 0.8 * (slope * encoding.max_stored + intercept)


def _stored_values(
    transmission: NDArray[np.float64], encoding: Encoding, air_counts: float
) -> NDArray[np.uint16]:
    """Quantise a transmission image to stored values, shape (rows, cols)."""
    slope, intercept = encoding.slope_intercept()
    if encoding.relationship is Relationship.LIN:
        v = air_counts * transmission
        stored = np.rint((v - intercept) / slope)
        if encoding.sign == -1:
            stored = encoding.max_stored - stored
    else:
        with np.errstate(divide="ignore"):
            attenuation = -np.log(np.maximum(transmission, 1e-30))
        v = attenuation if encoding.sign == -1 else -attenuation
        stored = np.rint((v - intercept) / slope)
    return np.clip(stored, 0, encoding.max_stored).astype(np.uint16)


def _entropy(stored: NDArray[np.uint16], encoding: Encoding, spacing: tuple[float, float]) -> str:
    digest = hashlib.sha256(np.ascontiguousarray(stored).tobytes())
    digest.update(repr((encoding, spacing)).encode())
    return digest.hexdigest()


def encode_dicom(
    transmission: NDArray[np.floating],
    spacing: tuple[float, float],
    encoding: Encoding | str,
    metadata: ScanMetadata | None = None,
    *,
    air_counts: float | None = None,
) -> Dataset:
    """Build a complete DICOM Part-10 dataset for a transmission image.

    Parameters
    ----------
    transmission : ndarray of float, shape (rows, cols)
        ``I / I_air`` (1 in air, smaller behind the body), noise included.
    spacing : tuple of float
        Pixel spacing (row, column) in mm, each > 0.
    encoding : Encoding or str
        An :class:`Encoding` or the name of a preset in :data:`ENCODINGS`.
    metadata : ScanMetadata, optional
        Identifiers and acquisition facts to write. UIDs not given are derived deterministically
        from the pixel content.
    air_counts : float, optional
        LIN only: rescaled value of unattenuated air. Defaults to 80 % of the largest representable
        value (head-room for noise).

    Returns
    -------
    pydicom.Dataset
        With file meta; ``ds.save_as(path)`` writes a conformant file (apart from the deliberately
        missing spacing of the ``"none"`` spacing tag).

    Raises
    ------
    ValueError
        If the image is not a finite, non-empty 2-D array, the spacing is not two positive numbers,
        the preset name is unknown, or ``air_counts`` does not fit in the stored range.
    """
    if isinstance(encoding, str):
        try:
            encoding = ENCODINGS[encoding]
        except KeyError:
            raise ValueError(
                f"unknown encoding preset {encoding!r}; choose one of {sorted(ENCODINGS)}"
            ) from None
    t = np.asarray(transmission, dtype=np.float64)
    if t.ndim != 2 or t.shape[0] < 1 or t.shape[1] < 1:
        raise ValueError(f"transmission must be a non-empty 2-D array (rows, cols), got {t.shape}")
    if t.shape[0] > 65535 or t.shape[1] > 65535:
        raise ValueError(f"transmission {t.shape} is larger than DICOM's 65535 rows/columns")
    if not np.all(np.isfinite(t)):
        raise ValueError("transmission contains NaN or infinite values; clean them before encoding")
    row_mm, col_mm = (float(s) for s in spacing)
    if not (row_mm > 0 and col_mm > 0 and np.isfinite(row_mm) and np.isfinite(col_mm)):
        raise ValueError(f"spacing must be two positive numbers (row, col) in mm, got {spacing!r}")
    slope, intercept = encoding.slope_intercept()
    if air_counts is None:
        air_counts = _air_counts_default(encoding)
    elif encoding.relationship is Relationship.LIN and not (
        intercept < air_counts <= slope * encoding.max_stored + intercept
    ):
        raise ValueError(
            f"air_counts={air_counts} does not fit the {encoding.bits_stored}-bit range of "
            f"{encoding.describe()}; give a value between {intercept} and "
            f"{slope * encoding.max_stored + intercept}"
        )
    meta = metadata or ScanMetadata()
    stored = _stored_values(t, encoding, float(air_counts))
    entropy = _entropy(stored, encoding, (row_mm, col_mm))
    sop_class = SopClass(encoding.sop_class)
    photometric = Photometric(encoding.photometric)

    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = sop_class.uid
    ds.SOPInstanceUID = meta.sop_instance_uid or _derived_uid(entropy, "instance")
    ds.StudyInstanceUID = meta.study_instance_uid or _derived_uid(entropy, "study")
    ds.SeriesInstanceUID = meta.series_instance_uid or _derived_uid(entropy, "series")
    when = meta.acquisition_datetime
    ds.StudyDate = when.strftime("%Y%m%d") if when else ""
    ds.StudyTime = when.strftime("%H%M%S") if when else ""
    ds.StudyID = ""
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.Modality = sop_class.modality
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.PatientName = meta.patient_name or ""
    ds.PatientID = meta.patient_id or ""
    ds.PatientBirthDate = ""
    ds.PatientSex = ""
    ds.Manufacturer = meta.manufacturer or ""
    if meta.manufacturer_model_name:
        ds.ManufacturerModelName = meta.manufacturer_model_name
    if meta.station_name:
        ds.StationName = meta.station_name
    if meta.institution_name:
        ds.InstitutionName = meta.institution_name
    if meta.device_serial_number:
        ds.DeviceSerialNumber = meta.device_serial_number
    if when is not None:
        ds.AcquisitionDateTime = when.strftime("%Y%m%d%H%M%S.%f")
        ds.ContentDate = when.strftime("%Y%m%d")
        ds.ContentTime = when.strftime("%H%M%S.%f")
    ds.KVP = _ds(meta.kvp) if meta.kvp is not None else ""
    ds.BodyPartExamined = "WHOLEBODY"
    # Frontal view of a standing person unless the scan states otherwise: along a row toward the
    # patient's left, down a column toward the feet.
    ds.PatientOrientation = list(meta.patient_orientation or ("L", "F"))
    ds.BurnedInAnnotation = "NO"
    ds.LossyImageCompression = "00"

    if sop_class in (SopClass.DX_PRESENTATION, SopClass.DX_PROCESSING):
        presentation = sop_class is SopClass.DX_PRESENTATION
        ds.PresentationIntentType = "FOR PRESENTATION" if presentation else "FOR PROCESSING"
        ds.ImageType = ["ORIGINAL", "PRIMARY"]
        ds.ImageLaterality = "U"
        ds.DetectorType = "SCINTILLATOR"
        ds.RescaleType = "US"
        if presentation:
            ds.PresentationLUTShape = (
                "INVERSE" if photometric is Photometric.MONOCHROME1 else "IDENTITY"
            )
    elif sop_class is SopClass.CR:
        ds.ViewPosition = ""
        ds.ImageType = ["ORIGINAL", "PRIMARY"]
    else:
        ds.ConversionType = "WSD"
        ds.ImageType = ["DERIVED", "SECONDARY"]

    rows, cols = stored.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric.value
    ds.Rows = rows
    ds.Columns = cols
    ds.BitsAllocated = 16
    ds.BitsStored = int(encoding.bits_stored)
    ds.HighBit = int(encoding.bits_stored) - 1
    ds.PixelRepresentation = 0
    if encoding.intensity_tags:
        ds.PixelIntensityRelationship = Relationship(encoding.relationship).value
        ds.PixelIntensityRelationshipSign = int(encoding.sign)
    ds.RescaleSlope = _ds(slope)
    ds.RescaleIntercept = _ds(intercept)

    spacing_value = [_ds(row_mm), _ds(col_mm)]
    tag = SpacingTag(encoding.spacing_tag)
    is_dx = sop_class in (SopClass.DX_PRESENTATION, SopClass.DX_PROCESSING)
    if tag in (SpacingTag.PIXEL_SPACING, SpacingTag.BOTH):
        ds.PixelSpacing = spacing_value
    # The DX Detector module requires Imager Pixel Spacing (Type 1): DX files carry it whenever
    # they carry any spacing.
    if tag in (SpacingTag.IMAGER_PIXEL_SPACING, SpacingTag.BOTH) or (
        is_dx and tag is SpacingTag.PIXEL_SPACING
    ):
        ds.ImagerPixelSpacing = spacing_value

    rescaled = stored.astype(np.float64) * slope + intercept
    lo, hi = np.percentile(rescaled, [1.0, 99.0])
    ds.WindowCenter = _ds(float((lo + hi) / 2))
    ds.WindowWidth = _ds(float(max(hi - lo, slope)))

    ds.PixelData = stored.tobytes()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.ImplementationClassUID = pydicom.uid.PYDICOM_IMPLEMENTATION_UID
    ds.file_meta.ImplementationVersionName = "SCANGUARD_01"
    ds.preamble = b"\x00" * 128
    ts = UID(str(encoding.transfer_syntax))
    if ts != ExplicitVRLittleEndian:
        ds.compress(ts, stored, generate_instance_uid=False)
        logger.debug("compressed %dx%d image with %s", rows, cols, ts.name)
    return ds
