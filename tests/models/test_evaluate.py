"""Tests of predictions on cached scans, calibration fitting and threshold choice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from detect.decision import scan_score
from models.manifest import Calibration, SizePrior
from models.training.cache import CacheRecord
from models.training.evaluate import (
    ScanPrediction,
    choose_thresholds,
    finish_peaks,
    fit_calibration,
    fit_size_priors,
    match_peaks,
    phone_confidence,
    predict_records,
)
from models.training.metrics import compute_metrics
from tests.models.conftest import scan_prediction


def test_match_counts_duplicates_as_false() -> None:
    """Only the best-scoring of two peaks on one object matches it."""
    pred = scan_prediction([0.9, 0.5], gt=True)
    assert pred.matched.tolist() == [True, False]
    assert pred.gt_hit_by.tolist() == [0]


def test_calibration_and_thresholds_separate_scans() -> None:
    """With separable scores the thresholds alarm on phones and clear the others."""
    rng = np.random.default_rng(0)
    preds = [scan_prediction([float(rng.uniform(0.6, 0.95))], gt=True) for _ in range(60)]
    preds += [scan_prediction([float(rng.uniform(0.03, 0.3))], gt=False) for _ in range(60)]
    cal = fit_calibration(preds)
    assert "phone" in cal.per_class and cal.per_class["phone"].a > 0
    th = choose_thresholds(preds, cal)
    assert th.clear_below <= th.alarm
    m = compute_metrics(preds, cal, th, n_boot=20)
    assert m["pd_at_alarm"]["value"] >= 0.98
    assert m["pfa_at_alarm"]["value"] <= 0.02
    assert m["ap50_phone"]["value"] == pytest.approx(1.0)
    assert m["n_scans"] == 120 and m["n_positive"] == 60
    assert m["phone_recall_by_kind"]["smartphone"]["n"] == 60


def test_scan_calibration_makes_the_scan_score_a_probability() -> None:
    """Each phone scan holds a true and a false peak, so a peak is right 40 % of the time but a
    scan with a peak holds a phone 67 % of the time: the scan-level Platt learns that, and the
    report threshold is the phone confidence that lifts a scan to CLEAR's edge."""
    rng = np.random.default_rng(1)
    preds = []
    for _ in range(60):
        raw = float(rng.uniform(0.2, 0.5))
        pred = scan_prediction([raw, raw], gt=True)
        pred.boxes[1] += 100.0  # second peak off the phone
        match_peaks(pred)
        preds.append(pred)
    preds += [scan_prediction([float(rng.uniform(0.2, 0.5))], gt=False) for _ in range(30)]
    preds += [scan_prediction([], gt=False) for _ in range(30)]
    cal = fit_calibration(preds)
    assert cal.scan is not None and cal.scan_params() == cal.scan
    th = choose_thresholds(preds, cal)
    with_scan = compute_metrics(preds, cal, th, n_boot=0)["ece_scan"]["value"]
    plain = cal.model_copy(update={"scan": None})
    without = compute_metrics(preds, plain, th, n_boot=0)["ece_scan"]["value"]
    assert without > 0.15 and with_scan < 0.05
    # object recall counts a phone found with the confidence that alarms on its own: here the
    # phone peak is each phone scan's top peak, so recall and the scan's Pd agree
    m = compute_metrics(preds, cal, th, n_boot=0)
    assert 0 < m["pd_at_alarm"]["value"] < 1
    assert m["phone_recall_by_kind"]["smartphone"]["value"] == pytest.approx(
        m["pd_at_alarm"]["value"]
    )
    conf = phone_confidence(0.3, cal.scan)
    assert scan_score([conf], [0], ["phone"], cal.scan) == pytest.approx(0.3)
    assert Calibration(method="none", scan=cal.scan).scan_params() is None


def test_scan_calibration_needs_both_kinds_ofscan_prediction() -> None:
    """With only phone scans there is nothing to fit the scan score on: it stays uncalibrated."""
    cal = fit_calibration([scan_prediction([0.8], gt=True) for _ in range(30)])
    assert cal.scan is None


def test_rounded_thresholds_keep_their_false_alarm_rate() -> None:
    """Thresholds are stored to 4 places without letting one more phone-free scan alarm (or
    one more phone scan clear) than the unrounded ones."""
    neg = [0.1] * 97 + [0.57852, 0.7, 0.8]  # 2 % of 100: two alarms allowed, not the third
    preds = [scan_prediction([s], gt=False) for s in neg]
    # 1 of 50 may clear
    preds += [scan_prediction([s], gt=True) for s in [0.01, 0.123456] + [0.9] * 48]
    th = choose_thresholds(preds, Calibration(method="none"))
    assert th.alarm == 0.5786 and th.alarm > 0.57852  # plain rounding gave 0.5785
    m = compute_metrics(preds, Calibration(method="none"), th, n_boot=0)
    assert m["pfa_at_alarm"]["value"] == pytest.approx(0.02)
    assert th.clear_below == th.report_min_confidence == 0.1234  # plain rounding gave 0.1235
    assert m["miss_clear"]["value"] == pytest.approx(0.02)


class _ZoomOnlySession:
    """Stands in for onnxruntime: a phone peak (score 0.8) in output cell (20, 10) with a box
    of 30 x 60 input pixels, on the enlarged input only (any input wider than ``plain_w``)."""

    def __init__(self, plain_w: int) -> None:
        self.plain_w = plain_w
        self.widths: list[int] = []

    def run(self, names: list[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        x = feeds["image"]
        self.widths.append(x.shape[3])
        h, w = x.shape[2] // 4, x.shape[3] // 4
        heat = np.zeros((1, 6, h, w), np.float32)
        if x.shape[3] > self.plain_w:
            heat[0, 0, 20, 10] = 0.8
        wh = np.stack([np.full((h, w), 30.0), np.full((h, w), 60.0)])[None].astype(np.float32)
        planes = {"heatmap": heat, "wh": wh, "offset": np.full((1, 2, h, w), 0.5, np.float32)}
        return [planes[n] for n in names]


def test_predict_records_zoom_test_maps_peaks_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With zoom_test the enlarged pass runs too and its peak lands in working pixels,
    matching the ground-truth box the enlargement came from."""
    import onnxruntime

    h, w, factor = 100, 60, 1.25
    eh, ew = round(h * factor), round(w * factor)  # 125 x 75
    cx, cy = 10.5 * 4 / (ew / w), 20.5 * 4 / (eh / h)  # the peak's centre, working pixels
    gt = np.array([[cx - 12.0, cy - 24.0, 24.0, 48.0]], np.float32)  # 30 x 60 / 1.25
    CacheRecord(
        image=np.ones((h, w), np.float16),
        boxes=gt,
        labels=np.zeros(1, np.int64),
        meta={"pitch_mm": 2.0, "objects": [{"kind": "smartphone"}]},
    ).save(tmp_path / "test-000000000001.npz")
    fake = _ZoomOnlySession(plain_w=64)
    monkeypatch.setattr(onnxruntime, "InferenceSession", lambda *a, **k: fake)
    records = [tmp_path / "test-000000000001.npz"]
    (plain,) = predict_records("fake.onnx", records, progress=False)
    assert len(plain.raw) == 0 and fake.widths == [64]
    (zoomed,) = predict_records("fake.onnx", records, progress=False, zoom_test=factor)
    assert fake.widths == [64, 64, 96]  # 75 enlarged columns, padded to 96
    assert zoomed.raw.tolist() == pytest.approx([0.8])
    np.testing.assert_allclose(zoomed.boxes[0], gt[0], atol=1e-4)
    assert zoomed.matched.tolist() == [True]


def _overlapping_peaks() -> ScanPrediction:
    """A small peak (higher raw score) overlapping a phone-sized one on a true phone, 1 mm/px."""
    return ScanPrediction(
        boxes=np.array([[12.0, 12.0, 10.0, 24.0], [10.0, 10.0, 20.0, 40.0]]),
        labels=np.zeros(2, np.int64),
        raw=np.array([0.6, 0.5]),
        gt_boxes=np.array([[10.0, 10.0, 20.0, 40.0]]),
        gt_labels=np.zeros(1, np.int64),
        objects=[{"kind": "smartphone"}],
        meta={"pitch_mm": 1.0},
    )


def test_finish_peaks_applies_the_size_prior_before_nms() -> None:
    """Without a prior the small peak (IoU 0.3 with the phone) wins NMS and the phone is missed;
    with a prior against boxes shorter than 40 mm the phone-sized peak is kept and matches."""
    pred = _overlapping_peaks()
    plain = finish_peaks(pred, nms_iou=0.2)
    assert plain.raw.tolist() == [0.6] and plain.matched.tolist() == [False]
    prior = Calibration(size_prior={"phone": SizePrior(slope=1.0, min_long_mm=40.0)})
    sized = finish_peaks(pred, nms_iou=0.2, calibration=prior)
    assert len(sized.raw) == 1 and sized.boxes[0, 2] == 20.0
    assert sized.matched.tolist() == [True]
    assert pred.raw.tolist() == [0.6, 0.5]  # the input is left as it is


def test_fit_size_priors_needs_enough_true_peaks() -> None:
    """A class gets a prior only with min_positives matched peaks; the result holds only priors."""
    rng = np.random.default_rng(0)
    preds = [_overlapping_peaks() for _ in range(30)]
    for p in preds:  # scores that rank peaks, but not perfectly
        p.raw = np.array([rng.uniform(0.1, 0.7), rng.uniform(0.3, 0.9)])
        match_peaks(p)
    fitted = fit_size_priors(preds)
    assert set(fitted.size_prior) == {"phone"} and not fitted.per_class
    # the short box is never the true one
    assert fitted.size_prior["phone"].slope > 0
    assert fit_size_priors(preds[:10]).size_prior == {}


def test_fit_calibration_keeps_the_size_prior() -> None:
    """fit_calibration carries a given size prior into its result."""
    preds = [scan_prediction([0.9], gt=True)] * 30 + [scan_prediction([0.3], gt=False)] * 30
    prior = {"phone": SizePrior(slope=0.5)}
    assert fit_calibration(preds, size_prior=prior).size_prior == prior
    assert fit_calibration(preds).size_prior == {}
