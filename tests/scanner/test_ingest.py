"""read_scan recovers the same attenuation from every vendor encoding."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import numpy as np
import pydicom
import pytest
from numpy.typing import NDArray
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from scanner import Scan, ScanMetadata, ScanWarning, SpacingSource, read_scan
from scanner._normalise import BODY_FLOOR, BODY_MEDIAN
from scanner.encoding import ENCODINGS, Encoding, encode_dicom, random_encoding
from tests.scanner.conftest import SPACING


def _bytes(ds: Dataset) -> bytes:
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def _tolerance(enc: Encoding, max_attenuation: float) -> float:
    """Quantisation limit of an encoding at the densest pixel.

    LIN: half a count relative to the smallest count, ``0.5 * slope / (air * exp(-a_max))``.
    LOG: one stored step ``slope`` (half from the value, half from the estimated air offset).
    """
    slope, intercept = enc.slope_intercept()
    if enc.relationship.value == "LIN":
        air = 0.8 * (slope * enc.max_stored + intercept)
        return 0.5 * slope / (air * float(np.exp(-max_attenuation))) + 1e-5
    return slope + 1e-5


@pytest.mark.parametrize("name", sorted(ENCODINGS))
def test_every_encoding_recovers_attenuation(
    name: str, attenuation: NDArray[np.float32], transmission: NDArray[np.float32]
) -> None:
    """Each preset written to bytes reads back as the input attenuation, to quantisation."""
    enc = ENCODINGS[name]
    scan = read_scan(_bytes(encode_dicom(transmission, SPACING, enc)), validation="ignore")
    assert scan.image.dtype == np.float32
    assert scan.shape == scan.stored_shape == attenuation.shape
    tol = _tolerance(enc, float(attenuation.max()))
    err = float(np.abs(scan.image - attenuation).max())
    assert err <= tol, f"{name}: max error {err:.5f} > tolerance {tol:.5f}"
    if enc.spacing_tag.value != "none":
        assert scan.spacing == SPACING
    assert scan.normalisation.source_format == "DICOM"
    assert scan.normalisation.transfer_syntax == enc.transfer_syntax.name
    assert scan.normalisation.steps


def test_noisy_scan_agrees_across_encodings(attenuation: NDArray[np.float32]) -> None:
    """With quantum-like noise all encodings agree with the 16-bit LIN read to quantisation."""
    rng = np.random.default_rng(3)
    noisy = np.exp(-attenuation.astype(np.float64)) * (
        1 + 0.02 * rng.standard_normal(attenuation.shape)
    )
    noisy = np.clip(noisy, 1e-4, None)
    reference = read_scan(_bytes(encode_dicom(noisy, SPACING, "lin-mono2-16"))).image
    # Air levels are estimated from noisy air in every encoding: allow 2e-3 for their spread.
    amax = float(-np.log(noisy.min()))
    for name, enc in ENCODINGS.items():
        got = read_scan(_bytes(encode_dicom(noisy, SPACING, enc)), validation="ignore").image
        tol = _tolerance(enc, amax) + _tolerance(ENCODINGS["lin-mono2-16"], amax) + 2e-3
        assert float(np.abs(got - reference).max()) <= tol, name


def test_random_encodings_recover_attenuation(
    attenuation: NDArray[np.float32], transmission: NDArray[np.float32]
) -> None:
    """Encodings drawn by random_encoding (as the simulator does) all read back correctly."""
    rng = np.random.default_rng(11)
    for _ in range(24):
        enc = random_encoding(rng)
        scan = read_scan(_bytes(encode_dicom(transmission, SPACING, enc)), validation="raise")
        tol = _tolerance(enc, float(attenuation.max()))
        err = float(np.abs(scan.image - attenuation).max())
        assert err <= tol, f"{enc.describe()}: max error {err:.5f} > tolerance {tol:.5f}"
        assert scan.spacing == SPACING


@pytest.mark.parametrize("kind", ["path", "str", "bytes", "file", "dataset"])
def test_every_source_kind(tmp_path: Path, transmission: NDArray[np.float32], kind: str) -> None:
    """Paths, bytes, file objects and Datasets give the same scan."""
    ds = encode_dicom(transmission, SPACING, "log-neg-mono2-14")
    path = tmp_path / "scan.dcm"
    ds.save_as(path, enforce_file_format=True)
    expected = read_scan(path).image
    source: object = {
        "path": path,
        "str": str(path),
        "bytes": path.read_bytes(),
        "file": path.open("rb"),
        "dataset": pydicom.dcmread(path),
    }[kind]
    scan = read_scan(source)  # type: ignore[arg-type]
    np.testing.assert_array_equal(scan.image, expected)


def test_metadata_read(transmission: NDArray[np.float32]) -> None:
    """UIDs, identifiers, manufacturer, kVp and acquisition date-time come through."""
    meta = ScanMetadata(
        patient_id="A1234BC",
        patient_name="DOE^JOHN",
        station_name="HMP-RECEPTION-2",
        institution_name="HMP Example",
        device_serial_number="SN-42",
        manufacturer="Acme Security",
        manufacturer_model_name="BodyScan 9",
        kvp=140.0,
        acquisition_datetime=dt.datetime(2026, 1, 2, 3, 4, 5),
    )
    ds = encode_dicom(transmission, SPACING, "lin-rle-16", meta)
    got = read_scan(_bytes(ds)).metadata
    assert got.sop_instance_uid == ds.SOPInstanceUID
    assert got.study_instance_uid == ds.StudyInstanceUID
    assert got.series_instance_uid == ds.SeriesInstanceUID
    assert got.modality == "DX"
    assert (got.patient_id, got.patient_name) == ("A1234BC", "DOE^JOHN")
    assert (got.station_name, got.institution_name) == ("HMP-RECEPTION-2", "HMP Example")
    assert (got.manufacturer, got.manufacturer_model_name) == ("Acme Security", "BodyScan 9")
    assert got.device_serial_number == "SN-42"
    assert got.kvp == 140.0
    assert got.acquisition_datetime == dt.datetime(2026, 1, 2, 3, 4, 5)


def _hand_built(stored: NDArray[np.uint16], **attrs: object) -> Dataset:
    """A DX dataset written with plain pydicom, independent of scanner.encoding."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = pydicom.uid.DigitalXRayImageStorageForProcessing
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=["hand"])
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality = "DX"
    ds.Rows, ds.Columns = stored.shape
    ds.SamplesPerPixel = 1
    ds.BitsAllocated = 16
    ds.PixelRepresentation = 0
    for key, value in attrs.items():
        setattr(ds, key, value)
    ds.HighBit = int(ds.BitsStored) - 1
    ds.PixelData = stored.astype("<u2").tobytes()
    return ds


def test_hand_built_lin_counts(attenuation: NDArray[np.float32]) -> None:
    """Raw 14-bit counts, MONOCHROME1, written by hand, read as -ln(counts / air)."""
    counts = np.rint(12000.0 * np.exp(-attenuation.astype(np.float64))).astype(np.uint16)
    ds = _hand_built(
        counts,
        BitsStored=14,
        PhotometricInterpretation="MONOCHROME1",
        PixelIntensityRelationship="LIN",
        PixelIntensityRelationshipSign=1,
        RescaleSlope="1",
        RescaleIntercept="0",
        ImagerPixelSpacing=["0.8", "0.6"],
        EstimatedRadiographicMagnificationFactor="1.25",
    )
    scan = read_scan(_bytes(ds))
    expected = -np.log(counts / 12000.0)
    np.testing.assert_allclose(scan.image, expected, atol=1e-5)
    assert scan.normalisation.air_level == pytest.approx(12000.0)
    assert scan.spacing == pytest.approx((0.64, 0.48))
    assert scan.spacing_source is SpacingSource.IMAGER_PIXEL_SPACING


def test_hand_built_log_positive_sign(attenuation: NDArray[np.float32]) -> None:
    """LOG with sign +1 (higher = brighter beam): the value is negated, scale from the slope."""
    # A vendor storing 1000 * ln(I / I_air) + 30000 with slope 0.001, intercept -30.
    stored = np.rint(30000.0 - 1000.0 * attenuation.astype(np.float64)).astype(np.uint16)
    ds = _hand_built(
        stored,
        BitsStored=16,
        PhotometricInterpretation="MONOCHROME2",
        PixelIntensityRelationship="LOG",
        PixelIntensityRelationshipSign=1,
        RescaleSlope="0.001",
        RescaleIntercept="-30",
        PixelSpacing=["1.2", "1.1"],
    )
    scan = read_scan(_bytes(ds))
    np.testing.assert_allclose(scan.image, attenuation, atol=1.1e-3)
    assert scan.spacing == (1.2, 1.1)
    assert scan.normalisation.pixel_intensity_relationship_sign == 1


def test_hand_built_eight_bit_log_mono1_without_intensity_tags(
    attenuation: NDArray[np.float32],
) -> None:
    """An 8-bit file without (0028,1040/1041) has both read from the image (LOG, sign +1)."""
    scale = 40.0
    stored = np.rint(250.0 - scale * attenuation.astype(np.float64)).astype(np.uint8)
    ds = _hand_built(
        stored.astype(np.uint16),
        BitsStored=8,
        PhotometricInterpretation="MONOCHROME1",
        RescaleSlope=str(1 / scale),
        RescaleIntercept=str(-250.0 / scale),
        PixelSpacing=["1", "1"],
    )
    ds.BitsAllocated = 8
    ds.HighBit = 7
    ds.PixelData = stored.tobytes()
    with (
        pytest.warns(ScanWarning, match=r"\(0028,1040\) is missing; read LOG from the image"),
        pytest.warns(ScanWarning, match=r"\(0028,1041\) is missing; read \+1 from the image"),
    ):
        scan = read_scan(_bytes(ds))
    np.testing.assert_allclose(scan.image, attenuation, atol=1.0 / scale)


def test_hand_built_signed_log(attenuation: NDArray[np.float32]) -> None:
    """Signed (two's complement) 16-bit LOG values with an offset intercept read correctly."""
    stored = (np.rint(1000.0 * attenuation.astype(np.float64)) - 2000).astype(np.int16)
    ds = _hand_built(
        stored.view(np.uint16),
        BitsStored=16,
        PixelRepresentation=1,
        PhotometricInterpretation="MONOCHROME2",
        PixelIntensityRelationship="LOG",
        PixelIntensityRelationshipSign=-1,
        RescaleSlope="0.001",
        RescaleIntercept="2",
        PixelSpacing=["1", "1"],
    )
    scan = read_scan(_bytes(ds), validation="raise")
    np.testing.assert_allclose(scan.image, attenuation, atol=1.1e-3)


def _log_file(stored: NDArray[np.uint16], slope: str) -> Dataset:
    """A 16-bit LOG file, sign -1, MONOCHROME2, with Rescale Slope ``slope`` and intercept 0."""
    return _hand_built(
        stored,
        BitsStored=16,
        PhotometricInterpretation="MONOCHROME2",
        PixelIntensityRelationship="LOG",
        PixelIntensityRelationshipSign=-1,
        RescaleSlope=slope,
        RescaleIntercept="0",
        PixelSpacing=["1", "1"],
    )


def test_log_with_unknown_scale_maps_air_to_zero(attenuation: NDArray[np.float32]) -> None:
    """A LOG file with slope 1 and a huge range is flagged, its air still maps to 0 and its
    scale is set from the body (median attenuation of a full-body scan)."""
    stored = np.rint(2000.0 + 5000.0 * attenuation.astype(np.float64)).astype(np.uint16)
    ds = _log_file(stored, slope="1")
    with pytest.warns(ScanWarning, match="log scale is unknown"):
        scan = read_scan(_bytes(ds))
    air = attenuation == 0
    assert float(np.abs(scan.image[air]).max()) < 1e-6
    # Proportional to the true attenuation, at the scale that gives the body the median 2.4.
    scale = BODY_MEDIAN / float(np.median(attenuation[attenuation > BODY_FLOOR]))
    np.testing.assert_allclose(scan.image, attenuation * scale, atol=2e-3, rtol=2e-3)
    assert float(np.median(scan.image[scan.image > BODY_FLOOR])) == pytest.approx(BODY_MEDIAN)


def test_log10_values_are_scaled_to_natural_log(attenuation: NDArray[np.float32]) -> None:
    """LOG values in base 10 (a plausible slope, wrong unit) are found by the body's median
    attenuation, reported and scaled back to natural-log units."""
    log10 = attenuation.astype(np.float64) / np.log(10.0)
    ds = _log_file(np.rint(10000.0 * log10).astype(np.uint16), slope="0.0001")
    with pytest.warns(ScanWarning, match=r"median attenuation is 1\.0\d, outside"):
        scan = read_scan(_bytes(ds))
    body = attenuation > BODY_FLOOR
    ratio = float(np.median(scan.image[body] / attenuation[body]))
    scale = BODY_MEDIAN / float(np.median(attenuation[body]))
    assert ratio == pytest.approx(scale, rel=0.02)


def test_caller_spacing_used_when_file_has_none(transmission: NDArray[np.float32]) -> None:
    """pixel_spacing fills in for a DICOM file without spacing, with no warning."""
    data = _bytes(encode_dicom(transmission, SPACING, "lin-nospacing-16"))
    scan: Scan = read_scan(data, pixel_spacing=(0.7, 0.9), validation="raise")
    assert scan.spacing == (0.7, 0.9)
    assert scan.spacing_source is SpacingSource.CALLER


def test_patient_orientation_read(transmission: NDArray[np.float32]) -> None:
    """Patient Orientation comes through as written (a frontal view upright when not stated)."""
    plain = read_scan(_bytes(encode_dicom(transmission, SPACING, "lin-rle-16")))
    assert plain.metadata.patient_orientation == ("L", "F")
    meta = ScanMetadata(patient_orientation=("FL", "R"))
    turned = read_scan(_bytes(encode_dicom(transmission, SPACING, "lin-rle-16", meta)))
    assert turned.metadata.patient_orientation == ("FL", "R")


@pytest.mark.parametrize("value", ["L", "X\\F", "L\\F\\A"])
def test_unusable_patient_orientation_reported_and_ignored(
    transmission: NDArray[np.float32], value: str
) -> None:
    """A Patient Orientation that is not two directions of A P R L H F is named and ignored."""
    ds = encode_dicom(transmission, SPACING, "lin-rle-16")
    ds.PatientOrientation = value.split("\\")
    with pytest.warns(ScanWarning, match=r"Patient Orientation \(0020,0020\) .* ignored"):
        scan = read_scan(_bytes(ds))
    assert scan.metadata.patient_orientation is None
