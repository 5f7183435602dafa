"""Tests of the vendor-style DICOM writer."""

from __future__ import annotations

import io

import numpy as np
import pydicom
import pytest
from numpy.typing import NDArray

from scanner.encoding import ENCODINGS, LOG_RANGE, Encoding, encode_dicom, random_encoding
from scanner.scan import ScanMetadata
from tests.scanner.conftest import SPACING


def _round_trip(ds: pydicom.Dataset) -> pydicom.Dataset:
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return pydicom.dcmread(io.BytesIO(buf.getvalue()))


def _decode_by_convention(ds: pydicom.Dataset, air_counts: float | None) -> NDArray[np.float64]:
    """Attenuation from the stored values, following the module docstring's rules literally."""
    stored = ds.pixel_array.astype(np.float64)
    slope, intercept = float(ds.RescaleSlope), float(ds.RescaleIntercept)
    max_stored = 2 ** int(ds.BitsStored) - 1
    relationship = ds.get("PixelIntensityRelationship", "LOG")
    sign = ds.get("PixelIntensityRelationshipSign")
    if sign is None:
        sign = -1 if ds.PhotometricInterpretation == "MONOCHROME2" else 1
    if relationship == "LIN":
        if sign == -1:
            stored = max_stored - stored
        counts = slope * stored + intercept
        assert air_counts is not None
        return -np.log(np.maximum(counts, 0.5) / air_counts)
    v = slope * stored + intercept
    return v if sign == -1 else -v


@pytest.mark.parametrize("name", sorted(ENCODINGS))
def test_preset_round_trips_through_bytes(
    name: str, attenuation: NDArray[np.float32], transmission: NDArray[np.float32]
) -> None:
    """Every preset writes a readable file whose pixels decode to the input attenuation."""
    enc = ENCODINGS[name]
    ds = _round_trip(encode_dicom(transmission, SPACING, enc))
    assert ds.file_meta.TransferSyntaxUID == enc.transfer_syntax
    assert (ds.Rows, ds.Columns) == attenuation.shape
    assert int(ds.BitsStored) == enc.bits_stored
    slope, intercept = enc.slope_intercept()
    air = 0.8 * (slope * enc.max_stored + intercept)
    got = _decode_by_convention(ds, air)
    if enc.relationship.value == "LIN":
        # Quantisation: half a count relative to the smallest count behind the densest part.
        tol = 0.5 * slope / (air * float(np.exp(-attenuation.max()))) + 1e-6
    else:
        tol = 0.5 * slope + 1e-6
    np.testing.assert_allclose(got, attenuation, atol=tol, rtol=0)


def test_spacing_tags_follow_encoding(transmission: NDArray[np.float32]) -> None:
    """Pixel Spacing / Imager Pixel Spacing are written as the encoding says."""
    ds = encode_dicom(transmission, SPACING, "lin-imager-spacing-14")
    assert "PixelSpacing" not in ds
    assert [float(x) for x in ds.ImagerPixelSpacing] == list(SPACING)
    ds = encode_dicom(transmission, SPACING, "lin-nospacing-16")
    assert "PixelSpacing" not in ds and "ImagerPixelSpacing" not in ds
    ds = encode_dicom(transmission, SPACING, "lin-both-spacing-16")
    assert [float(x) for x in ds.PixelSpacing] == [float(x) for x in ds.ImagerPixelSpacing]


def test_dx_always_has_imager_pixel_spacing(transmission: NDArray[np.float32]) -> None:
    """DX files with Pixel Spacing also carry the Type 1 Imager Pixel Spacing; CR files need not."""
    dx = encode_dicom(transmission, SPACING, "lin-mono2-16")
    assert [float(x) for x in dx.ImagerPixelSpacing] == [float(x) for x in dx.PixelSpacing]
    cr = encode_dicom(transmission, SPACING, "lin-mono1-12")
    assert "PixelSpacing" in cr and "ImagerPixelSpacing" not in cr


@pytest.mark.parametrize(
    ("name", "sop_class", "modality"),
    [
        ("lin-mono2-16", pydicom.uid.DigitalXRayImageStorageForProcessing, "DX"),
        ("log-neg-mono1-16", pydicom.uid.DigitalXRayImageStorageForPresentation, "DX"),
        ("cr-log-mono1-12", pydicom.uid.ComputedRadiographyImageStorage, "CR"),
        ("sc-log-mono2-16", pydicom.uid.SecondaryCaptureImageStorage, "OT"),
    ],
)
def test_sop_classes(
    transmission: NDArray[np.float32], name: str, sop_class: str, modality: str
) -> None:
    """Each preset's SOP class and modality are written in the dataset and its file meta."""
    ds = _round_trip(encode_dicom(transmission, SPACING, name))
    assert ds.SOPClassUID == ds.file_meta.MediaStorageSOPClassUID == sop_class
    assert ds.SOPInstanceUID == ds.file_meta.MediaStorageSOPInstanceUID
    assert ds.Modality == modality
    assert ("PixelIntensityRelationship" in ds) is ENCODINGS[name].intensity_tags


def test_metadata_is_written(transmission: NDArray[np.float32]) -> None:
    """Identifiers and acquisition facts from ScanMetadata land in their DICOM attributes."""
    import datetime as dt

    meta = ScanMetadata(
        patient_id="P123",
        station_name="RECEPTION-1",
        manufacturer="Acme",
        manufacturer_model_name="BodyScan 9",
        kvp=140.0,
        acquisition_datetime=dt.datetime(2026, 3, 4, 5, 6, 7),
        study_instance_uid="1.2.3.4",
    )
    ds = _round_trip(encode_dicom(transmission, SPACING, "log-neg-mono2-14", meta))
    assert ds.PatientID == "P123" and ds.StationName == "RECEPTION-1"
    assert ds.Manufacturer == "Acme" and ds.ManufacturerModelName == "BodyScan 9"
    assert float(ds.KVP) == 140.0
    assert ds.AcquisitionDateTime.startswith("20260304050607")
    assert ds.StudyInstanceUID == "1.2.3.4"
    assert ds.SOPClassUID == pydicom.uid.DigitalXRayImageStorageForPresentation
    assert ds.PresentationIntentType == "FOR PRESENTATION"


def test_output_is_deterministic(transmission: NDArray[np.float32]) -> None:
    """The same input gives the same UIDs and pixels; a different image gives new UIDs."""
    a = encode_dicom(transmission, SPACING, "lin-rle-16")
    b = encode_dicom(transmission, SPACING, "lin-rle-16")
    c = encode_dicom(transmission * 0.9, SPACING, "lin-rle-16")
    assert a.SOPInstanceUID == b.SOPInstanceUID and a.PixelData == b.PixelData
    assert a.SOPInstanceUID != c.SOPInstanceUID
    assert a.SOPInstanceUID != a.SeriesInstanceUID != a.StudyInstanceUID


def test_random_encoding_depends_only_on_rng() -> None:
    """Two generators with one seed draw the same encodings, and draws vary."""
    first = [random_encoding(np.random.default_rng(7)) for _ in range(2)]
    assert first[0] == first[1]
    rng = np.random.default_rng(1)
    draws = {random_encoding(rng) for _ in range(40)}
    assert len(draws) > 10
    assert {d.relationship.value for d in draws} == {"LIN", "LOG"}


def test_log_default_range_is_documented_range() -> None:
    """A default LOG encoding maps the full stored range onto LOG_RANGE."""
    enc = Encoding("LOG", -1, "MONOCHROME2", 12)
    slope, intercept = enc.slope_intercept()
    assert intercept == LOG_RANGE[0]
    assert slope * enc.max_stored + intercept == pytest.approx(LOG_RANGE[1], abs=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"sign": 0}, "sign must be"),
        ({"bits_stored": 20}, "bits_stored must be 8..16"),
        ({"rescale_slope": 1.0}, "both"),
        ({"rescale_slope": -1.0, "rescale_intercept": 0.0}, "slope must be > 0"),
        ({"transfer_syntax": "1.2.840.10008.1.2.4.50"}, "not supported"),
        ({"relationship": "SQRT"}, "SQRT"),
    ],
)
def test_bad_encoding_rejected(kwargs: dict[str, object], match: str) -> None:
    """Invalid Encoding fields raise ValueError naming the field."""
    with pytest.raises(ValueError, match=match):
        Encoding(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("image", "spacing", "encoding", "match"),
    [
        (np.ones((4,)), SPACING, "lin-mono2-16", "non-empty 2-D"),
        (np.ones((0, 5)), SPACING, "lin-mono2-16", "non-empty 2-D"),
        (np.full((4, 4), np.nan), SPACING, "lin-mono2-16", "NaN"),
        (np.ones((4, 4)), (0.0, 1.0), "lin-mono2-16", "spacing must be"),
        (np.ones((4, 4)), SPACING, "no-such-preset", "unknown encoding preset"),
    ],
)
def test_bad_encode_input_rejected(
    image: NDArray[np.float64], spacing: tuple[float, float], encoding: str, match: str
) -> None:
    """encode_dicom refuses bad images, spacings and preset names with a clear message."""
    with pytest.raises(ValueError, match=match):
        encode_dicom(image, spacing, encoding)


def test_air_counts_outside_range_rejected() -> None:
    """A LIN air level beyond the stored range is refused."""
    with pytest.raises(ValueError, match="air_counts=70000"):
        encode_dicom(np.ones((4, 4)), SPACING, "lin-mono2-16", air_counts=70000)
