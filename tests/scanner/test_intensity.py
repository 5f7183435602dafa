"""The pixel intensity relationship and sign, read from the image when the file leaves them out."""

from __future__ import annotations

import io

import imageio.v3 as iio
import numpy as np
import pytest
from pydicom.dataset import Dataset

from scanner import Scan, ScanWarning, read_scan
from scanner.encoding import ENCODINGS, encode_dicom
from scanner.intensity import Frame, fill_padding, find_frame, read_intensity
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


def _framed(ds: Dataset, value: int, width: int = 12) -> tuple[Dataset, np.ndarray]:
    """``ds`` with a ``width``-pixel frame of stored ``value`` on every side, and the frame."""
    stored = ds.pixel_array.copy()
    frame = np.zeros(stored.shape, bool)
    frame[:width], frame[-width:], frame[:, :width], frame[:, -width:] = True, True, True, True
    stored[frame] = value
    ds.PixelData = stored.tobytes()
    return ds, frame


def _read_as_air(ds: Dataset, frame: np.ndarray, attenuation: np.ndarray) -> Scan:
    """Read a framed untagged LIN file: the sign is read right, the frame is air and the rest
    is the attenuation."""
    with pytest.warns(ScanWarning, match=r"read LIN from the image"):
        scan = read_scan(_bytes(ds))
    assert scan.normalisation.pixel_intensity_relationship_sign == 1
    assert float(np.abs(scan.image[frame]).max()) == 0.0
    inside = ~frame
    assert float(np.median(np.abs(scan.image[inside] - attenuation[inside]))) < 0.01
    return scan


def test_padding_is_left_out_and_shown_as_air(simulated: tuple[np.ndarray, np.ndarray]) -> None:
    """A dark padded frame (Pixel Padding Value) neither misleads the reading of a file without
    intensity tags nor stays in the image: it reads as air."""
    transmission, attenuation = simulated
    ds, frame = _framed(_strip(encode_dicom(transmission, (2.0, 2.0), "lin-mono2-16")), 0)
    ds.PixelPaddingValue = 0
    scan = _read_as_air(ds, frame, attenuation)
    assert any("padding pixels" in step for step in scan.normalisation.steps)


@pytest.mark.parametrize(("value", "width"), [(0, 12), (65535, 12), (0, 40)])
def test_untagged_frame_is_found_left_out_and_shown_as_air(
    simulated: tuple[np.ndarray, np.ndarray], value: int, width: int
) -> None:
    """A frame without Pixel Padding Value, darker or brighter than air, is found: the reading
    and the air level ignore it, and it reads as air. A frame wider than the edge strips the
    reading takes as air (5 % of the width, 23 px here) moves the strips inside it."""
    transmission, attenuation = simulated
    ds, frame = _framed(
        _strip(encode_dicom(transmission, (2.0, 2.0), "lin-mono2-16")), value, width
    )
    scan = _read_as_air(ds, frame, attenuation)
    assert any(
        f"frame of constant value {value}" in step and f"top {width} px" in step
        for step in scan.normalisation.steps
    )


def test_untagged_frame_misleads_the_reading_when_not_found(
    simulated: tuple[np.ndarray, np.ndarray],
) -> None:
    """The control: the same dark frame kept in the reading spoils it (so finding it matters)."""
    transmission, _ = simulated
    ds, frame = _framed(_strip(encode_dicom(transmission, (2.0, 2.0), "lin-mono2-16")), 0)
    assert read_intensity(ds.pixel_array) is None
    reading = read_intensity(ds.pixel_array, find_frame(ds.pixel_array).mask(frame.shape))
    assert reading is not None and (reading.sign, reading.relationship) == (1, "LIN")


@pytest.mark.parametrize("name", sorted(ENCODINGS))
def test_measured_images_have_no_frame(simulated: tuple[np.ndarray, np.ndarray], name: str) -> None:
    """Noisy air is never constant: no encoding of a simulated scan shows a frame."""
    transmission, _ = simulated
    assert find_frame(encode_dicom(transmission, (2.0, 2.0), name).pixel_array) is None


def test_saturated_air_is_not_a_frame(simulated: tuple[np.ndarray, np.ndarray]) -> None:
    """Air clipped at the detector's top value is constant at the edges, but it is air."""
    transmission, _ = simulated
    counts = np.minimum(np.rint(60000.0 * transmission), 58000.0)
    assert bool((counts[:3] == 58000.0).all())  # the rows above the head
    assert find_frame(counts) is None
    reading = read_intensity(counts)
    assert reading is not None and (reading.sign, reading.relationship) == (1, "LIN")


def test_frame_on_some_sides_only() -> None:
    """A frame may cover any sides; its mask and description say which."""
    rng = np.random.default_rng(0)
    values = 1000.0 + rng.normal(0.0, 5.0, (120, 80))
    values[40:100, 30:50] = 50.0 + rng.normal(0.0, 5.0, (60, 20))  # a dense body
    values[:, :6] = 0.0
    values[-3:, :] = 0.0
    frame = find_frame(values)
    assert frame == Frame(0.0, top=0, bottom=3, left=6, right=0)
    mask = frame.mask(values.shape)
    assert mask.sum() == 120 * 6 + 3 * 74
    assert (
        frame.describe()
        == "a frame of constant value 0 at the image's edges (bottom 3 px, left 6 px)"
    )
    filled = fill_padding(values, mask)
    assert abs(float(filled[0, 0]) - 1000.0) < 5.0
    assert np.array_equal(filled[~mask], values[~mask])


def test_png_frame_is_left_out(simulated: tuple[np.ndarray, np.ndarray]) -> None:
    """A framed 16-bit counts PNG read with polarity='auto' reads as counts, frame as air."""
    transmission, attenuation = simulated
    counts = np.rint(50000.0 * transmission).astype(np.uint16)
    counts[:, :10], counts[:, -10:] = 0, 0
    png = bytes(iio.imwrite("<bytes>", counts, extension=".png"))
    scan = read_scan(png, pixel_spacing=(2.0, 2.0), polarity="auto")
    assert scan.normalisation.encoding.endswith("polarity counts")
    assert float(np.abs(scan.image[:, :10]).max()) == 0.0
    inner = np.s_[:, 10:-10]
    assert float(np.median(np.abs(scan.image[inner] - attenuation[inner]))) < 0.01
