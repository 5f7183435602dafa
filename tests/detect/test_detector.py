"""End-to-end detection with the tiny test model: boxes, zones, calibration, decision."""

from __future__ import annotations

import dataclasses
from unittest import mock

import numpy as np
import pytest

from detect import Decision, Detector, InputError, Result
from detect.calibration import calibrate, size_adjust
from detect.orientation import box_back, turned
from detect.preprocess import preprocess
from detect.result import BodyZone
from models.manifest import PlattParams, Thresholds
from scanner.scan import ScanMetadata
from tests.detect.conftest import TINY_WH, WriteModel, add_object, make_scan, synthetic_body

SPACING = (1.0, 0.8)
#: Marker centre in working pixels (row, col): the centre of output cell (102, 40).
CENTRE_WORK = (410.0, 162.0)
#: ... and in original pixels / mm (row factor 2, column factor 2.5).
CENTRE_MM = (CENTRE_WORK[0] * 2.0 * SPACING[0], CENTRE_WORK[1] * 2.5 * SPACING[1])


def _scan_with_marker(attenuation: float | None):
    body = synthetic_body(spacing=SPACING)
    img = body.image.copy()
    if attenuation is not None:
        add_object(img, SPACING, CENTRE_MM, (16.0, 16.0), attenuation)
    return make_scan(img, SPACING)


def _raw_peak(scan, det: Detector) -> float:
    """The tiny model's phone score at the marker cell, computed without onnxruntime."""
    pre = preprocess(scan.image, scan.spacing, det.manifest.input)
    r, c = int(CENTRE_WORK[0]) // 4, int(CENTRE_WORK[1]) // 4
    cell = pre.tensor[0, 0, 4 * r : 4 * r + 4, 4 * c : 4 * c + 4].mean()
    return float(np.clip(cell * 2.0 - 1.2, 0.0, 1.0))


def test_phone_found_with_exact_box_in_original_pixels(write_model: WriteModel) -> None:
    """A dense marker gives one phone finding whose box maps back through the 2 x 2.5 scale."""
    det = Detector(write_model().model)
    result = det.detect(_scan_with_marker(4.0))
    assert result.decision is Decision.ALARM
    assert len(result.findings) == 1
    f = result.findings[0]
    assert f.label == "phone"
    w, h = TINY_WH
    expected = ((CENTRE_WORK[1] - w / 2) * 2.5, (CENTRE_WORK[0] - h / 2) * 2.0, w * 2.5, h * 2.0)
    assert f.bbox_px == pytest.approx(expected, abs=1e-4)
    assert f.bbox_mm == pytest.approx(
        (expected[0] * 0.8, expected[1] * 1.0, expected[2] * 0.8, expected[3] * 1.0), abs=1e-4
    )
    assert f.zone is BodyZone.ABDOMEN
    assert result.scan_score == pytest.approx(f.confidence)


def test_clean_scan_is_clear(write_model: WriteModel) -> None:
    """A body with nothing on it: no findings, score 0, CLEAR."""
    result = Detector(write_model().model).detect(_scan_with_marker(None))
    assert result.decision is Decision.CLEAR
    assert result.scan_score == 0.0
    assert result.findings == []


def test_calibration_and_inconclusive_band(write_model: WriteModel) -> None:
    """The scan score is the Platt-calibrated raw peak; a mid score is INCONCLUSIVE."""
    platt = {"a": 1.5, "b": 0.4}
    det = Detector(write_model(per_class={"phone": platt}).model)
    scan = _scan_with_marker(1.0)
    raw = _raw_peak(scan, det)
    assert 0.1 < raw < 0.5
    expected = float(calibrate([raw], PlattParams(**platt))[0])
    result = det.detect(scan)
    assert result.scan_score == pytest.approx(expected, rel=1e-4)
    assert 0.25 <= expected < 0.6
    assert result.decision is Decision.INCONCLUSIVE


def test_size_prior_adjusts_the_raw_peak_by_its_box_in_mm(write_model: WriteModel) -> None:
    """With a size prior the score is the Platt-scaled raw peak lowered by how much the box's
    longer side (in mm) falls short of the prior's limit; a box over the limit keeps its score."""
    platt = {"a": 1.5, "b": 0.4}
    prior = {"phone": {"slope": 0.5, "min_long_mm": 200.0}}
    th = Thresholds(report_min_confidence=0.05, alarm=0.95, clear_below=0.01)
    det = Detector(write_model(per_class={"phone": platt}, size_prior=prior, thresholds=th).model)
    plain = Detector(write_model("plain", per_class={"phone": platt}, thresholds=th).model)
    scan = _scan_with_marker(1.0)
    raw = _raw_peak(scan, det)
    result = det.detect(scan)
    (finding,) = result.findings
    w_mm, h_mm = finding.bbox_mm[2:]
    cal = det.manifest.calibration
    adjusted = size_adjust([raw], [0], [[w_mm, h_mm]], det.manifest.classes, cal)
    expected = float(calibrate(adjusted, PlattParams(**platt))[0])
    assert result.scan_score == pytest.approx(expected, rel=1e-4)
    assert finding.confidence == pytest.approx(expected, rel=1e-4)
    # the tiny model's box (72 x 152 mm) is shorter than 200 mm: the prior lowers the score
    assert max(w_mm, h_mm) == pytest.approx(152.0, abs=1e-3)
    plain_score = plain.detect(scan).scan_score
    assert result.scan_score < plain_score
    long_enough = {"phone": {"slope": 0.5, "min_long_mm": 150.0}}
    kept = Detector(
        write_model("kept", per_class={"phone": platt}, size_prior=long_enough, thresholds=th).model
    )
    assert kept.detect(scan).scan_score == pytest.approx(plain_score, rel=1e-9)


def test_low_confidence_peak_scores_but_is_not_reported(write_model: WriteModel) -> None:
    """A peak under report_min_confidence raises the score but is not listed as a finding."""
    th = Thresholds(report_min_confidence=0.9, alarm=0.95, clear_below=0.1)
    det = Detector(write_model(thresholds=th).model)
    result = det.detect(_scan_with_marker(1.0))
    assert 0.1 < result.scan_score < 0.9
    assert result.findings == []
    assert result.decision is Decision.INCONCLUSIVE


def test_result_metadata_and_timings(write_model: WriteModel) -> None:
    """Result carries model identity, image geometry and per-stage timings; JSON round-trips."""
    det = Detector(write_model().model)
    result = det.detect(_scan_with_marker(4.0), decode_ms=3.5)
    assert result.model == det.identity
    assert result.model.name == "tiny-test"
    assert (result.image.rows, result.image.cols) == (2000, 800)
    assert result.image.spacing_mm == SPACING
    assert result.image.spacing_source == "caller"
    t = result.timings
    assert t.decode_ms == 3.5
    assert min(t.preprocess_ms, t.infer_ms, t.postprocess_ms) > 0.0
    assert Result.model_validate_json(result.model_dump_json()) == result


def test_detect_many_keeps_order(write_model: WriteModel) -> None:
    """detect_many returns one result per scan, in order."""
    det = Detector(write_model().model)
    det.warmup()
    results = det.detect_many([_scan_with_marker(4.0), _scan_with_marker(None)])
    assert [r.decision for r in results] == [Decision.ALARM, Decision.CLEAR]


def test_content_crop_gives_the_same_result(write_model: WriteModel) -> None:
    """Running on the content window finds the same boxes as running on the whole tensor."""
    files = write_model()
    scan = _scan_with_marker(4.0)
    img = scan.image.copy()
    air_box = add_object(img, SPACING, (1950.0, 600.0), (16.0, 16.0), 6.0)  # beside the feet
    scan = make_scan(img, SPACING)
    cropped = Detector(files.model).detect(scan)
    full = Detector(files.model, crop_to_content=False).detect(scan)
    assert [f.bbox_px for f in cropped.findings] == [f.bbox_px for f in full.findings]
    assert cropped.scan_score == full.scan_score
    assert len(full.findings) == 2
    ax, ay = air_box[0] + air_box[2] / 2, air_box[1] + air_box[3] / 2
    assert any(
        x <= ax <= x + w and y <= ay <= y + h for x, y, w, h in (f.bbox_px for f in full.findings)
    )


def test_tiled_inference_gives_the_same_result(write_model: WriteModel) -> None:
    """Forced into small tiles, the detector finds the same boxes as in one piece, once each."""
    files = write_model()
    img = _scan_with_marker(4.0).image.copy()
    # a second marker right where two 320-px tiles meet (working row 448 = original row 896)
    add_object(img, SPACING, (896.0, 130.0), (16.0, 16.0), 4.0)
    scan = make_scan(img, SPACING)
    whole = Detector(files.model).detect(scan)
    tiled_det = Detector(files.model, max_tile=320)
    assert len(tiled_det.detect(scan).findings) == 2
    tiled = tiled_det.detect(scan)
    assert len(whole.findings) == 2
    assert [f.bbox_px for f in tiled.findings] == [f.bbox_px for f in whole.findings]
    assert tiled.scan_score == whole.scan_score and tiled.decision is whole.decision


def test_tile_size_not_above_the_overlap_is_refused(write_model: WriteModel) -> None:
    """max_tile must exceed the tile overlap; the message gives the default."""
    with pytest.raises(InputError, match="must exceed the tile overlap"):
        Detector(write_model().model, max_tile=64)


def test_detect_refuses_a_non_scan(write_model: WriteModel) -> None:
    """detect() given a bare array says to use detect_source or read_scan."""
    det = Detector(write_model().model)
    with pytest.raises(InputError, match=r"takes a scanner\.Scan.*detect_source"):
        det.detect(np.zeros((100, 100), np.float32))  # type: ignore[arg-type]


class _ZoomSpySession:
    """Stands in for onnxruntime: no peak on the plain input; on any other (the enlarged) input
    one phone peak of score 0.9 in output cell ``CELL`` with a box of ``WH`` input pixels."""

    CELL = (130, 50)
    WH = (40.0, 80.0)

    def __init__(self, plain_shape: tuple[int, ...]) -> None:
        self.plain_shape = plain_shape
        self.shapes: list[tuple[int, ...]] = []

    def run(self, names: list[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        x = feeds["image"]
        self.shapes.append(x.shape)
        h, w = (v // 4 for v in x.shape[2:])
        heat = np.zeros((1, 6, h, w), np.float32)
        if x.shape != self.plain_shape:
            heat[0, 0, self.CELL[0], self.CELL[1]] = 0.9
        wh = np.empty((1, 2, h, w), np.float32)
        wh[0, 0], wh[0, 1] = self.WH
        planes = {"heatmap": heat, "wh": wh, "offset": np.full((1, 2, h, w), 0.5, np.float32)}
        return [planes[n] for n in names]


def test_zoom_test_peaks_map_back_to_original_pixels(write_model: WriteModel) -> None:
    """With zoom_test, a second pass runs on the enlarged input; its peaks come back through
    the enlargement and the working-to-original scale."""
    det = Detector(write_model(zoom_test=1.25).model, crop_to_content=False)
    scan = _scan_with_marker(None)
    pre = preprocess(scan.image, scan.spacing, det.manifest.input)
    spy = _ZoomSpySession(pre.tensor.shape)
    det.session._session = spy  # type: ignore[assignment]
    result = det.detect(scan)
    (vh, vw), (eh, ew) = pre.valid_shape, (round(x * 1.25) for x in pre.valid_shape)
    assert spy.shapes == [pre.tensor.shape, (1, 1, -(-eh // 32) * 32, -(-ew // 32) * 32)]
    (f,) = result.findings
    fr, fc = eh / vh, ew / vw
    cy, cx = ((c + 0.5) * 4 for c in _ZoomSpySession.CELL)
    w, h = _ZoomSpySession.WH
    sr, sc = pre.scale
    expected = ((cx - w / 2) / fc * sc, (cy - h / 2) / fr * sr, w / fc * sc, h / fr * sr)
    assert f.bbox_px == pytest.approx(expected, abs=1e-6)
    assert f.label == "phone" and result.decision is Decision.ALARM


def test_zoom_test_finds_the_marker_once_whole_and_tiled(write_model: WriteModel) -> None:
    """The plain and enlarged passes see the same marker: one finding after NMS, near the
    no-zoom box, in one piece and in tiles."""
    scan = _scan_with_marker(4.0)
    plain = Detector(write_model("plain").model).detect(scan)
    files = write_model("zoom", zoom_test=1.25)
    for det in (Detector(files.model), Detector(files.model, max_tile=320)):
        result = det.detect(scan)
        assert len(result.findings) == 1
        assert result.findings[0].bbox_px == pytest.approx(plain.findings[0].bbox_px, abs=3.0)


@pytest.mark.parametrize(
    ("stated", "turn"), [(("L", "F"), 0), (("F", "R"), 3), (("R", "H"), 2), (("H", "L"), 1)]
)
def test_patient_orientation_stands_up_a_scan_the_image_cannot(
    write_model: WriteModel, monkeypatch: pytest.MonkeyPatch, stated: tuple[str, str], turn: int
) -> None:
    """Where the image alone cannot tell how the person stands, the stated Patient Orientation
    does: the scan is detected upright and the box comes back to its stored place."""
    det = Detector(write_model().model)
    upright = _scan_with_marker(4.0)
    expected = det.detect(upright).findings[0]
    stored = dataclasses.replace(
        turned(upright, (4 - turn) % 4), metadata=ScanMetadata(patient_orientation=stated)
    )
    monkeypatch.setattr("detect.detector.upright_turn", lambda image: None)
    result = det.detect(stored)
    assert result.image is not None and result.image.upright_turns == turn
    assert len(result.findings) == 1
    box = box_back(expected.bbox_px, stored.shape, turn)
    assert result.findings[0].bbox_px == pytest.approx(box, abs=1e-3)
    assert result.findings[0].confidence == pytest.approx(expected.confidence, abs=1e-5)


def test_image_overrules_a_contradicting_patient_orientation(write_model: WriteModel) -> None:
    """An image that shows how the person stands wins over a stated orientation."""
    scan = dataclasses.replace(
        _scan_with_marker(4.0), metadata=ScanMetadata(patient_orientation=("R", "H"))
    )
    with mock.patch("detect.detector.upright_turn", return_value=0):
        result = Detector(write_model().model).detect(scan)
    assert result.image is not None and result.image.upright_turns == 0
