"""The pixel intensity relationship and sign, read from the image when the file leaves them out."""

from __future__ import annotations

import io

import numpy as np
import pytest
from pydicom.dataset import Dataset

from scanner import ScanWarning, read_scan
from scanner.encoding import ENCODINGS, encode_dicom
from scanner.intensity import read_intensity
from scanner.simulate import SimConfig, simulate_scan
from tests.scanner.conftest import SPACING, body_attenuation


def _bytes(ds: Dataset) -> bytes:
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def _strip(ds: Dataset) -> Dataset:
    del ds.PixelIntensityRelationship
    del ds.PixelIntensityRelationshipSign
    return ds


@pytest.fixture(scope="module")
def simulated() -> tuple[np.ndarray, np.ndarray]:
    """(transmission, attenuation) of a noisy simulated scan."""
    scan = simulate_scan(7, SimConfig(pitch_mm=(2.0, 2.0)))
    transmission = scan.transmission.astype(np.float64)
    return transmission, -np.log(np.clip(transmission, 1e-6, None))


@pytest.mark.parametrize(
    ("kind", "sign", "relationship"),
    [("counts", 1, "LIN"), ("counts", -1, "LIN"), ("log", 1, "LOG"), ("log", -1, "LOG")],
)
def test_reading_recovers_sign_and_relationship(
    simulated: tuple[np.ndarray, np.ndarray], kind: str, sign: int, relationship: str
) -> None:
    """Counts and log values, either way up and with any scale and offset, read right."""
    transmission, attenuation = simulated
    if kind == "counts":
        values = 12000.0 * transmission if sign == 1 else 16383.0 - 12000.0 * transmission
    else:
        values = -attenuation * 900.0 + 500.0 if sign == 1 else attenuation * 900.0 - 500.0
    reading = read_intensity(values)
    assert reading is not None
    assert (reading.sign, reading.relationship) == (sign, relationship)


def test_image_without_air_margin_is_not_read(simulated: tuple[np.ndarray, np.ndarray]) -> None:
    """Cropped to the torso, the edges are body, not air: nothing is read."""
    _, attenuation = simulated
    rows, cols = attenuation.shape
    torso = attenuation[rows // 3 : rows // 2, int(cols * 0.42) : int(cols * 0.58)]
    assert read_intensity(torso) is None
    assert read_intensity(np.full((64, 64), 3.0)) is None


@pytest.mark.parametrize(
    "name", ["lin-mono2-16", "lin-neg-mono2-16", "lin-offset-14", "log-pos-mono2-12"]
)
def test_file_without_intensity_tags_reads_as_written(
    simulated: tuple[np.ndarray, np.ndarray], name: str
) -> None:
    """Encodings the photometric rule would misread (LIN shown MONOCHROME2, LOG sign +1 shown
    MONOCHROME2, ...) recover the attenuation once the tags are gone, with the reading reported."""
    transmission, attenuation = simulated
    data = _bytes(_strip(encode_dicom(transmission, (2.0, 2.0), name)))
    with pytest.warns(ScanWarning, match=r"\(0028,1040\) is missing; read (LIN|LOG) from the"):
        scan = read_scan(data)
    assert float(np.median(np.abs(scan.image - attenuation))) < 0.01
    assert any("read from the image" in step for step in scan.normalisation.steps)


def test_without_air_the_photometric_rule_remains() -> None:
    """A scan with no air at its edges falls back on the photometric rule, as reported."""
    attenuation = body_attenuation()[:, 30:66]  # cut to the torso: body at both edges
    transmission = np.exp(-attenuation.astype(np.float64)).astype(np.float32)
    ds = _strip(encode_dicom(transmission, SPACING, "log-neg-mono2-14"))
    with pytest.warns(ScanWarning, match=r"\(0028,1040\) is missing; assumed LOG"):
        scan = read_scan(_bytes(ds))
    assert scan.normalisation.pixel_intensity_relationship_sign == -1


def test_stated_sign_contradicted_by_the_image_is_reported(
    simulated: tuple[np.ndarray, np.ndarray],
) -> None:
    """A file whose sign is wrong keeps it (the file is the authority) but says what it saw."""
    transmission, _ = simulated
    ds = encode_dicom(transmission, (2.0, 2.0), ENCODINGS["lin-mono2-16"])
    ds.PixelIntensityRelationshipSign = -1
    with pytest.warns(ScanWarning, match=r"Sign \(0028,1041\) is -1, but the air beside"):
        read_scan(_bytes(ds))


def test_padding_is_left_out_and_shown_as_air(simulated: tuple[np.ndarray, np.ndarray]) -> None:
    """A dark padded frame (Pixel Padding Value) neither misleads the reading of a file without
    intensity tags nor stays in the image: it reads as air."""
    transmission, attenuation = simulated
    ds = _strip(encode_dicom(transmission, (2.0, 2.0), "lin-mono2-16"))
    stored = ds.pixel_array.copy()
    frame = np.zeros(stored.shape, bool)
    frame[:12], frame[-12:], frame[:, :12], frame[:, -12:] = True, True, True, True
    stored[frame] = 0
    ds.PixelData = stored.tobytes()
    ds.PixelPaddingValue = 0
    with pytest.warns(ScanWarning, match=r"read LIN from the image"):
        scan = read_scan(_bytes(ds))
    assert scan.normalisation.pixel_intensity_relationship_sign == 1
    assert float(np.abs(scan.image[frame]).max()) == 0.0
    inside = ~frame
    assert float(np.median(np.abs(scan.image[inside] - attenuation[inside]))) < 0.01
    assert any("padding pixels" in step for step in scan.normalisation.steps)
