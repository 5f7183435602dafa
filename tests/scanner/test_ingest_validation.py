"""Validation policy for non-conformant files, and PNG/TIFF ingest."""

from __future__ import annotations

import io
import warnings

import imageio.v3 as iio
import numpy as np
import pytest
from numpy.typing import NDArray
from pydicom.dataset import Dataset, FileMetaDataset

from scanner import (
    ImageParametersError,
    NonConformantScanError,
    Polarity,
    ScanMetadata,
    ScanWarning,
    SpacingSource,
    Validation,
    read_scan,
)
from scanner._normalise import BODY_FLOOR, BODY_MEDIAN
from scanner.encoding import encode_dicom
from tests.scanner.conftest import SPACING


def _bytes(ds: Dataset, *, enforce: bool = True) -> bytes:
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=enforce)
    return buf.getvalue()


@pytest.fixture
def no_spacing(transmission: NDArray[np.float32]) -> bytes:
    """A LIN file without any spacing attribute."""
    return _bytes(encode_dicom(transmission, SPACING, "lin-nospacing-16"))


def test_warn_is_default(no_spacing: bytes) -> None:
    """By default a missing spacing warns and the stated default is used."""
    with pytest.warns(ScanWarning, match=r"no Pixel Spacing .* assumed 1 x 1 mm"):
        scan = read_scan(no_spacing)
    assert scan.spacing == (1.0, 1.0)
    assert scan.spacing_source is SpacingSource.ASSUMED


def test_ignore_is_silent(no_spacing: bytes) -> None:
    """validation='ignore' reads without any warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scan = read_scan(no_spacing, validation=Validation.IGNORE)
    assert scan.spacing_source is SpacingSource.ASSUMED


def test_raise_refuses(no_spacing: bytes) -> None:
    """validation='raise' turns the problem into NonConformantScanError with the fix."""
    with pytest.raises(NonConformantScanError, match="not conformant: no Pixel Spacing"):
        read_scan(no_spacing, validation="raise")


def test_bad_policy_name(no_spacing: bytes) -> None:
    """An unknown policy string is a ValueError naming it."""
    with pytest.raises(ValueError, match="'sometimes'"):
        read_scan(no_spacing, validation="sometimes")


def test_conformant_file_raises_nothing(transmission: NDArray[np.float32]) -> None:
    """A file from encode_dicom passes validation='raise'."""
    for name in ("lin-mono1-14", "log-jpegls-14", "cr-log-mono1-12"):
        read_scan(_bytes(encode_dicom(transmission, SPACING, name)), validation="raise")


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda ds: setattr(ds, "PixelSpacing", ["0", "1"]), r"PixelSpacing .* not two positive"),
        (lambda ds: setattr(ds, "RescaleSlope", "0"), r"Rescale Slope '0' is not a non-zero"),
        (lambda ds: setattr(ds, "PixelIntensityRelationship", "DISP"), r"'DISP'; read LOG from"),
        (lambda ds: setattr(ds, "PixelIntensityRelationshipSign", 0), r"Sign .* 0; read -1"),
        (lambda ds: setattr(ds, "SOPClassUID", "1.2.840.10008.5.1.4.1.1.2"), "CT Image Storage"),
    ],
)
def test_odd_attributes_are_problems(
    transmission: NDArray[np.float32], mutate: object, match: str
) -> None:
    """Each odd attribute is one conformance problem (raised under 'raise')."""
    ds = encode_dicom(transmission, SPACING, "log-neg-mono2-14")
    mutate(ds)  # type: ignore[operator]
    with pytest.raises(NonConformantScanError, match=match):
        read_scan(_bytes(ds, enforce=False), validation="raise")


@pytest.mark.parametrize(
    "keyword", ["PhotometricInterpretation", "BitsStored", "PixelRepresentation", "SamplesPerPixel"]
)
@pytest.mark.parametrize("preset", ["lin-mono2-16", "log-jpegls-14"])
def test_missing_image_pixel_attribute_is_assumed(
    attenuation: NDArray[np.float32], transmission: NDArray[np.float32], keyword: str, preset: str
) -> None:
    """A missing Image Pixel attribute is assumed (and reported), and the image still reads."""
    ds = encode_dicom(transmission, SPACING, preset)
    delattr(ds, keyword)
    data = _bytes(ds, enforce=False)
    with pytest.warns(ScanWarning, match=f"{keyword} is missing; assumed"):
        scan = read_scan(data)
    assert float(np.abs(scan.image - attenuation).max()) < 2e-3
    with pytest.raises(NonConformantScanError, match=f"{keyword} is missing"):
        read_scan(data, validation="raise")


def test_unparseable_kvp_is_a_problem(transmission: NDArray[np.float32]) -> None:
    """A KVP that is not a number (written raw) is reported and dropped, not a crash."""
    meta = ScanMetadata(kvp=140.0)
    data = _bytes(encode_dicom(transmission, SPACING, "log-neg-mono2-14", meta))
    kvp_element = b"\x18\x00\x60\x00DS\x04\x00140 "
    assert data.count(kvp_element) == 1
    data = data.replace(kvp_element, b"\x18\x00\x60\x00DS\x04\x00high")
    with pytest.raises(NonConformantScanError, match="KVP"):
        read_scan(data, validation="raise")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert read_scan(data).metadata.kvp is None


def test_missing_file_header_is_a_problem(transmission: NDArray[np.float32]) -> None:
    """A bare dataset (no preamble/DICM) is read, with a problem reported."""
    ds = encode_dicom(transmission, SPACING, "lin-mono2-16")
    ds.file_meta = FileMetaDataset()
    ds.preamble = None
    buf = io.BytesIO()
    ds.save_as(buf, implicit_vr=True, little_endian=True)  # no file meta, no preamble
    data = buf.getvalue()
    assert data[128:132] != b"DICM"
    with (
        pytest.warns(ScanWarning, match="no DICOM file header"),
        pytest.warns(ScanWarning, match=r"no Transfer Syntax UID \(0002,0010\); assumed Implicit"),
    ):
        scan = read_scan(data)
    assert scan.shape == (int(ds.Rows), int(ds.Columns))


def _image(arr: NDArray[np.generic], ext: str) -> bytes:
    return bytes(iio.imwrite("<bytes>", arr, extension=ext))


@pytest.mark.parametrize("ext", [".png", ".tif"])
def test_counts_image(attenuation: NDArray[np.float32], ext: str) -> None:
    """A 16-bit counts PNG/TIFF reads like LIN DICOM."""
    counts = np.rint(50000 * np.exp(-attenuation.astype(np.float64))).astype(np.uint16)
    scan = read_scan(_image(counts, ext), pixel_spacing=(1.5, 1.5), polarity=Polarity.COUNTS)
    np.testing.assert_allclose(scan.image, -np.log(counts / 50000.0), atol=1e-5)
    assert scan.spacing_source is SpacingSource.CALLER
    assert scan.normalisation.source_format == ("PNG" if ext == ".png" else "TIFF")


def test_float_attenuation_tiff(attenuation: NDArray[np.float32]) -> None:
    """A float32 TIFF of attenuation is taken as natural-log units."""
    scan = read_scan(_image(attenuation, ".tif"), pixel_spacing=SPACING, polarity="attenuation")
    np.testing.assert_allclose(scan.image, attenuation, atol=1e-6)


def test_inverted_attenuation_png_with_scale(attenuation: NDArray[np.float32]) -> None:
    """An inverted 16-bit log PNG with a known log_scale reads back to attenuation."""
    stored = np.rint(65535 - 4000 * attenuation.astype(np.float64)).astype(np.uint16)
    scan = read_scan(
        _image(stored, ".png"),
        pixel_spacing=SPACING,
        polarity="inverted-attenuation",
        log_scale=4000,
        validation="raise",
    )
    np.testing.assert_allclose(scan.image, attenuation, atol=0.5 / 4000 + 1e-6)


def test_integer_log_png_without_scale_warns(attenuation: NDArray[np.float32]) -> None:
    """An integer attenuation PNG without log_scale warns that its scale is unknown and is
    scaled so the body has a full-body scan's median attenuation."""
    stored = np.rint(4000 * attenuation.astype(np.float64)).astype(np.uint16)
    with pytest.warns(ScanWarning, match="without log_scale: its log scale is unknown, so"):
        scan = read_scan(_image(stored, ".png"), pixel_spacing=SPACING, polarity="attenuation")
    scale = BODY_MEDIAN / float(np.median(attenuation[attenuation > BODY_FLOOR]))
    np.testing.assert_allclose(scan.image, attenuation * scale, atol=2e-3, rtol=2e-3)


@pytest.mark.parametrize(
    ("polarity", "encode"),
    [
        ("counts", lambda t: np.rint(50000 * t).astype(np.uint16)),
        ("attenuation", lambda t: np.rint(5000 * -np.log(t)).astype(np.uint16)),
        ("inverted-attenuation", lambda t: np.rint(60000 + 5000 * np.log(t)).astype(np.uint16)),
    ],
)
def test_png_polarity_auto_reads_what_the_image_is(
    transmission: NDArray[np.float32], polarity: str, encode: object
) -> None:
    """polarity='auto' finds counts, attenuation and inverted attenuation from the image."""
    stored = encode(transmission.astype(np.float64))  # type: ignore[operator]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScanWarning)  # an unknown log scale is reported
        scan = read_scan(_image(stored, ".png"), pixel_spacing=SPACING, polarity="auto")
    assert scan.normalisation.encoding.endswith(f"polarity {polarity}")
    assert any(f"polarity {polarity} read from the image" in s for s in scan.normalisation.steps)


def test_png_polarity_auto_without_air_is_refused(attenuation: NDArray[np.float32]) -> None:
    """An image cut to the body cannot show its polarity: the error lists the choices."""
    stored = np.rint(5000 * attenuation[:, 30:66]).astype(np.uint16)
    with pytest.raises(ImageParametersError, match=r"no air at its left and right edges.*counts"):
        read_scan(_image(stored, ".png"), pixel_spacing=SPACING, polarity="auto")


def test_eight_bit_png_warns(attenuation: NDArray[np.float32]) -> None:
    """An 8-bit counts PNG is read with a precision warning."""
    counts = np.rint(250 * np.exp(-attenuation.astype(np.float64))).clip(1).astype(np.uint8)
    with pytest.warns(ScanWarning, match="8-bit PNG image: too few grey levels"):
        read_scan(_image(counts, ".png"), pixel_spacing=SPACING, polarity="counts")


def test_log_image_without_air_margin_is_kept(attenuation: NDArray[np.float32]) -> None:
    """A LOG image cropped to the body keeps its values (no false air offset) and says why."""
    crop = attenuation[50:90, 32:64]  # torso only: no air anywhere
    assert float(crop.min()) > 0.5
    transmission = np.exp(-crop.astype(np.float64))
    data = _bytes(encode_dicom(transmission, SPACING, "log-neg-mono2-14"))
    with pytest.warns(ScanWarning, match="no air margin"):
        scan = read_scan(data)
    np.testing.assert_allclose(scan.image, crop, atol=1e-3)


def test_small_log_offset_is_removed(attenuation: NDArray[np.float32]) -> None:
    """A LOG image whose air sits at 0.1 (calibration residue) is shifted so air is 0."""
    transmission = np.exp(-(attenuation.astype(np.float64) + 0.1))
    data = _bytes(encode_dicom(transmission, SPACING, "log-neg-mono2-14"))
    scan = read_scan(data, validation="raise")
    np.testing.assert_allclose(scan.image, attenuation, atol=1e-3)
