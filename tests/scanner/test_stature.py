"""Pixel spacing estimated from the height of the person scanned."""

from __future__ import annotations

import io

import numpy as np
import pytest

from scanner import ScanWarning, SpacingSource, Validation, read_scan
from scanner.encoding import encode_dicom
from scanner.simulate import SimConfig, SimulatedScan, simulate_scan
from scanner.simulate.enums import Pose
from scanner.stature import HEAD_TO_SOLE_MM, estimate_spacing, stated_turn, upright_turn
from tests.scanner.conftest import body_attenuation


def _attenuation(scan: SimulatedScan) -> np.ndarray:
    return -np.log(np.clip(scan.transmission, 1e-6, None)).astype(np.float32)


def _simulated(seed: int, pitch: float, pose: Pose, height: float = 1700.0) -> SimulatedScan:
    config = SimConfig(
        pitch_mm=(pitch, pitch), pose=pose, height_mm=height, has_phone=False, n_other=0
    )
    return simulate_scan(seed, config)


@pytest.mark.parametrize("pose", list(Pose))
@pytest.mark.parametrize("pitch", [0.8, 2.0])
def test_estimate_is_close_for_every_pose(pose: Pose, pitch: float) -> None:
    """A 1.70 m person gives the true pitch within 8 %, arms down, out or raised."""
    estimate = estimate_spacing(_attenuation(_simulated(3, pitch, pose)))
    assert estimate is not None
    assert estimate == pytest.approx(pitch, rel=0.08)


def test_estimate_follows_stature() -> None:
    """The estimate assumes one stature: a short person looks like a finer pitch (that is the
    method's error, stated in the message), a tall one like a coarser pitch."""
    short = estimate_spacing(_attenuation(_simulated(4, 1.5, Pose.ARMS_DOWN, height=1550.0)))
    tall = estimate_spacing(_attenuation(_simulated(4, 1.5, Pose.ARMS_DOWN, height=1900.0)))
    assert short is not None and tall is not None
    assert short > 1.5 > tall
    assert short == pytest.approx(1.5 * HEAD_TO_SOLE_MM / 1580.0, rel=0.05)


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((400, 200), np.float32),  # air only
        np.full((400, 200), 2.0, np.float32),  # no air at all
        np.ones((8, 8), np.float32),  # too small to be a scan
    ],
    ids=["air", "no-air", "tiny"],
)
def test_no_estimate_without_a_body(image: np.ndarray) -> None:
    """Images that are not a person standing in air get no estimate."""
    assert estimate_spacing(image) is None


def test_no_estimate_for_part_of_a_body() -> None:
    """The upper half of a body (no legs) or a body cut at the head gives no estimate."""
    att = _attenuation(_simulated(5, 1.5, Pose.ARMS_DOWN))
    assert estimate_spacing(att) is not None
    assert estimate_spacing(att[: att.shape[0] // 2]) is None
    rows = np.flatnonzero((att > 0.5).sum(axis=1) > 3)
    assert estimate_spacing(att[rows[0] + 40 :]) is None


@pytest.mark.parametrize("pose", [Pose.ARMS_DOWN, Pose.ARMS_OUT])
def test_no_estimate_for_a_turned_scan(pose: Pose) -> None:
    """A scan stored turned by 90 degrees or upside down is not a standing person."""
    att = _attenuation(_simulated(7, 1.5, pose))
    assert estimate_spacing(att) is not None
    assert estimate_spacing(np.rot90(att).copy()) is None
    assert estimate_spacing(np.rot90(att, 3).copy()) is None
    assert estimate_spacing(att[::-1].copy()) is None


def test_reader_estimates_a_missing_spacing() -> None:
    """A DICOM file without any spacing attribute is read at the estimated spacing, with a
    message that says how it was found and how to avoid it."""
    sim = _simulated(6, 1.2, Pose.ARMS_OUT)
    buf = io.BytesIO()
    encode_dicom(sim.transmission, sim.spacing, "lin-nospacing-16").save_as(buf)
    with pytest.warns(ScanWarning, match=r"estimated .* from the height of the person"):
        scan = read_scan(buf.getvalue())
    assert scan.spacing_source is SpacingSource.ESTIMATED
    assert scan.spacing[0] == scan.spacing[1] == pytest.approx(1.2, rel=0.08)
    assert any(step.endswith("from estimated") for step in scan.normalisation.steps)


def test_reader_falls_back_to_the_assumed_spacing() -> None:
    """A small synthetic figure (160 rows: a 'person' of 11 mm pixels) is refused by the
    estimate's range, so the stated default is used as before."""
    att = body_attenuation()
    buf = io.BytesIO()
    transmission = np.exp(-att.astype(np.float64)).astype(np.float32)
    encode_dicom(transmission, (2.0, 2.0), "lin-nospacing-16").save_as(buf)
    scan = read_scan(buf.getvalue(), validation=Validation.IGNORE)
    assert scan.spacing_source is SpacingSource.ASSUMED and scan.spacing == (1.0, 1.0)


@pytest.mark.parametrize("turn", [1, 2, 3])
def test_upright_turn_stands_a_turned_scan_up(turn: int) -> None:
    """A scan stored on its side or upside down is stood up by the quarter turns it reports;
    an upright scan is never turned, and the reader estimates a turned scan's spacing too."""
    sim = _simulated(7, 1.5, Pose.ARMS_DOWN)
    att = _attenuation(sim)
    assert upright_turn(att) == 0
    stored = np.ascontiguousarray(np.rot90(att, turn))
    assert upright_turn(stored) == (4 - turn) % 4
    assert upright_turn(np.zeros((200, 100), np.float32)) is None
    buf = io.BytesIO()
    transmission = np.ascontiguousarray(np.rot90(sim.transmission, turn))
    encode_dicom(transmission, sim.spacing, "lin-nospacing-16").save_as(buf)
    scan = read_scan(buf.getvalue(), validation=Validation.IGNORE)
    assert scan.spacing_source is SpacingSource.ESTIMATED
    assert scan.spacing[0] == pytest.approx(1.5, rel=0.08)


@pytest.mark.parametrize("turn", [0, 1, 2, 3])
def test_stated_turn_is_the_turn_of_the_image_it_describes(turn: int) -> None:
    """The Patient Orientation of an upright frontal view (L\\F) turned by numpy.rot90 states
    the quarter turns that stand it up again, as upright_turn counts them; oblique values go by
    their dominant letter."""
    row, col = ("L", "F")
    for _ in range(turn):  # one counter-clockwise quarter turn: columns become rows
        row, col = col, {"L": "R", "R": "L", "H": "F", "F": "H"}[row]
    assert stated_turn((row, col)) == (4 - turn) % 4
    assert stated_turn((row + "A", col + "P")) == (4 - turn) % 4


@pytest.mark.parametrize("value", [None, ("A", "P"), ("H", "F"), ("L",), ("", "")])
def test_stated_turn_none_without_head_or_feet_on_one_axis(value: tuple[str, str] | None) -> None:
    """No turn is read from a missing value, or one naming head or feet on neither or both axes."""
    assert stated_turn(value) is None
