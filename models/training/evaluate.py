"""Predictions of an exported model on cached scans, calibration fitting and threshold choice.

Runs the ONNX model with onnxruntime on cached (preprocessed) scans and decodes the outputs with
the runtime's own post-processing (``detect.postprocess``, ``detect.calibration``,
``detect.decision``), so the figures describe what the product does. The held-out metrics of
those predictions are in :mod:`models.training.metrics`.

Reproduce the shipped figures with::

    scanguard train --out runs/main --stages calibrate
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from tqdm import tqdm

from detect.calibration import calibrate_labels, fit_platt, fit_size_prior, size_adjust, uncalibrate
from detect.decision import scan_score
from detect.postprocess import Detections, box_iou, decode, nms
from detect.preprocess import enlarge
from models.manifest import (
    Calibration,
    CalibrationMethod,
    InputSpec,
    PlattParams,
    SizePrior,
    Thresholds,
    flip_average,
)
from models.training.cache import load_record, meta_pitch
from models.training.classes import CLASSES

__all__ = [
    "ScanPrediction",
    "choose_thresholds",
    "finish_peaks",
    "fit_calibration",
    "fit_size_priors",
    "match_peaks",
    "phone_confidence",
    "predict_records",
    "scan_scores",
]

logger = logging.getLogger(__name__)

#: ``transform(image, boxes) -> (image, boxes)`` of :func:`predict_records`.
Transform = Callable[
    [NDArray[np.float32], NDArray[np.float64]], tuple[NDArray[np.float32], NDArray[np.float64]]
]

#: IoU at which a detection matches a ground-truth box.
MATCH_IOU = 0.5
#: Raw peak floor used for evaluation (the manifest's ``peak_min_score``).
PEAK_MIN = 0.02
#: Padding of the cached model inputs (the detector's default multiple of 32).
_PAD = InputSpec()
#: Findings below this calibrated confidence are never listed, even inside the INCONCLUSIVE band.
REPORT_FLOOR = 0.1


@dataclass
class ScanPrediction:
    """Decoded peaks (after class-wise NMS) and ground truth of one scan, in working pixels.

    Attributes
    ----------
    boxes : ndarray, shape (K, 4)
    labels : ndarray of int64, shape (K,)
    raw : ndarray, shape (K,)
        Raw heatmap peak scores.
    gt_boxes : ndarray, shape (N, 4)
    gt_labels : ndarray of int64, shape (N,)
    objects : list of dict
        Attributes of each ground-truth box (``kind``, ``concealment``, ...).
    meta : dict
        Record metadata (seed, encoding, acquisition).
    matched : ndarray of bool, shape (K,)
        Whether each peak matches a ground-truth box of its class (greedy, by score, IoU >= 0.5).
    gt_hit_by : ndarray of int64, shape (N,)
        Index of the peak matching each ground-truth box, or -1.
    """

    boxes: NDArray[np.float64]
    labels: NDArray[np.int64]
    raw: NDArray[np.float64]
    gt_boxes: NDArray[np.float64]
    gt_labels: NDArray[np.int64]
    objects: list[dict[str, Any]]
    meta: dict[str, Any]
    matched: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, bool))
    gt_hit_by: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))

    @property
    def sizes_mm(self) -> NDArray[np.float64]:
        """Width and height of each peak's box in mm (at the record's pitch), shape (K, 2)."""
        return self.boxes[:, 2:4] * meta_pitch(self.meta)

    @property
    def positive(self) -> bool:
        """The scan holds at least one phone."""
        return bool((self.gt_labels == 0).any())


def match_peaks(pred: ScanPrediction) -> None:
    """Match a scan's peaks to its true boxes, in place (``matched``, ``gt_hit_by``).

    Peaks are taken by falling raw score; each takes the unmatched true box of its class it
    overlaps most, when that overlap is at least ``MATCH_IOU``. Call again after changing the
    raw scores.
    """
    k, n = len(pred.raw), len(pred.gt_labels)
    pred.matched = np.zeros(k, bool)
    pred.gt_hit_by = -np.ones(n, np.int64)
    if k == 0 or n == 0:
        return
    for i in np.argsort(-pred.raw, kind="stable"):
        same = np.nonzero((pred.gt_labels == pred.labels[i]) & (pred.gt_hit_by < 0))[0]
        if same.size == 0:
            continue
        ious = box_iou(pred.boxes[i], pred.gt_boxes[same])
        j = int(np.argmax(ious))
        if ious[j] >= MATCH_IOU:
            pred.gt_hit_by[same[j]] = i
            pred.matched[i] = True


def predict_records(
    model_path: str | Path,
    record_paths: Sequence[Path],
    threads: int = 2,
    top_k: int = 50,
    nms_iou: float | None = 0.5,
    progress: bool = True,
    flip_test: bool = False,
    transform: Transform | None = None,
    stride: int = 4,
    zoom_test: float | None = None,
    calibration: Calibration | None = None,
) -> list[ScanPrediction]:
    """Run an ONNX model over cached scans.

    Parameters
    ----------
    model_path : str or Path
        Exported ``.onnx`` file.
    record_paths : sequence of Path
        Cache records (``models.training.cache``).
    threads : int
        onnxruntime intra-op threads.
    flip_test : bool
        Average the heatmap with that of the mirrored scan (:func:`models.manifest.flip_average`),
        as the detector does when the manifest says so.
    transform : callable, optional
        ``transform(image, boxes) -> (image, boxes)`` applied to each record's model input
        (float32, shape (H, W)) and boxes (float64 ``[x, y, w, h]``, shape (N, 4)) before
        inference (:mod:`models.training.robustness` changes scans this way).
    stride : int
        Output stride of the model (the manifest's ``outputs.stride``).
    zoom_test : float, optional
        Also run the model on the scan enlarged by this factor and merge the peaks, as the
        detector does when the manifest's ``outputs.zoom_test`` says so.
    nms_iou : float or None
        Class-wise NMS overlap; None keeps every peak (:func:`finish_peaks` can finish them
        later, e.g. once a size prior is fitted on them).
    calibration : Calibration, optional
        Its size priors adjust the raw scores before NMS (:func:`finish_peaks`), as the
        detector does.

    Returns
    -------
    list of ScanPrediction
    """
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    session = ort.InferenceSession(str(model_path), opts, providers=["CPUExecutionProvider"])
    out: list[ScanPrediction] = []
    for path in tqdm(record_paths, disable=not progress, desc="evaluate", mininterval=5.0):
        rec = load_record(path)
        image, gt_boxes = rec.image.astype(np.float32), rec.boxes.astype(np.float64)
        if transform is not None:
            image, gt_boxes = transform(image, gt_boxes)
        h, w = image.shape
        m = _PAD.pad_multiple
        x = np.zeros((1, 1, -(-h // m) * m, -(-w // m) * m), np.float32)
        x[0, 0, :h, :w] = image
        # (input, enlargement, valid shape, flip test) of each pass, as the detector runs them
        passes = [(x, (1.0, 1.0), (h, w), flip_test)]
        if zoom_test is not None:
            big = enlarge(image, zoom_test, _PAD)
            passes.append((big.tensor, big.factor, big.valid_shape, False))
        parts = []
        for tensor, (fr, fc), valid, flip in passes:
            heat, wh, off = session.run(["heatmap", "wh", "offset"], {"image": tensor})
            if flip:
                mirrored = np.ascontiguousarray(tensor[..., ::-1])
                (heat_m,) = session.run(["heatmap"], {"image": mirrored})
                heat = flip_average(heat, heat_m)
            parts.append(
                decode(
                    heat[0],
                    wh[0],
                    off[0],
                    stride=stride,
                    scale=(1.0 / fr, 1.0 / fc),
                    valid_shape=valid,
                    image_shape=(h, w),
                    top_k=top_k,
                    peak_min_score=PEAK_MIN,
                )
            )
        dets = Detections.concat(parts)
        dets = dets.select(np.arange(min(len(dets), top_k)))
        pred = ScanPrediction(
            dets.boxes,
            dets.labels,
            dets.scores,
            gt_boxes,
            rec.labels,
            list(rec.meta.get("objects", [])),
            rec.meta,
        )
        if nms_iou is None:
            match_peaks(pred)
        else:
            pred = finish_peaks(pred, nms_iou, calibration)
        out.append(pred)
    return out


def finish_peaks(
    pred: ScanPrediction,
    nms_iou: float = 0.5,
    calibration: Calibration | None = None,
    classes: Sequence[str] = CLASSES,
) -> ScanPrediction:
    """A scan's peaks as the detector ends up with them: size prior, class-wise NMS, matching.

    Parameters
    ----------
    pred : ScanPrediction
        Peaks before NMS (``predict_records(..., nms_iou=None)``); boxes in working pixels of
        the record's pitch (``meta["pitch_mm"]``).
    nms_iou : float
        Class-wise NMS overlap.
    calibration : Calibration, optional
        Its size priors (:func:`detect.calibration.size_adjust`) change the raw scores first.

    Returns
    -------
    ScanPrediction
        A new prediction; ``pred`` is left as it is.
    """
    raw = pred.raw
    if calibration is not None and calibration.size_prior:
        raw = size_adjust(raw, pred.labels, pred.sizes_mm, list(classes), calibration)
    keep = nms(pred.boxes, raw, pred.labels, nms_iou)
    out = replace(pred, boxes=pred.boxes[keep], labels=pred.labels[keep], raw=raw[keep])
    match_peaks(out)
    return out


def fit_size_priors(
    preds: Sequence[ScanPrediction],
    classes: Sequence[str] = ("phone",),
    min_positives: int = 20,
    all_classes: Sequence[str] = CLASSES,
) -> Calibration:
    """Size priors of ``classes`` fitted on held-out peaks (a Calibration holding only them).

    Fitted on the peaks after NMS on their raw scores, against whether each matches a true box
    (:func:`detect.calibration.fit_size_prior`); a class with fewer than ``min_positives``
    matched peaks gets no prior.
    """
    priors = {}
    raw = np.concatenate([p.raw for p in preds]) if preds else np.zeros(0)
    labels = np.concatenate([p.labels for p in preds]) if preds else np.zeros(0, np.int64)
    sizes = np.concatenate([p.sizes_mm for p in preds]) if preds else np.zeros((0, 2))
    matched = np.concatenate([p.matched for p in preds]) if preds else np.zeros(0, bool)
    for name in classes:
        sel = labels == list(all_classes).index(name)
        if matched[sel].sum() < min_positives:
            logger.info("class %s: %d true peaks, no size prior", name, int(matched[sel].sum()))
            continue
        priors[name] = fit_size_prior(raw[sel], sizes[sel], matched[sel])
    return Calibration(method=CalibrationMethod.PLATT, size_prior=priors)


def fit_calibration(
    preds: Sequence[ScanPrediction],
    classes: Sequence[str] = CLASSES,
    min_peaks: int = 20,
    size_prior: Mapping[str, SizePrior] | None = None,
) -> Calibration:
    """Platt parameters fitted on held-out scans: per class, then of the scan score.

    Each class's parameters are fitted on its peaks (positive = matches a true box); classes
    with fewer than ``min_peaks`` peaks or no positive peak keep the identity. The scan-level
    parameters (``Calibration.scan``) are then fitted on each scan's highest calibrated phone
    confidence against whether the scan holds a phone; they stay None when the scans are all
    of one kind. ``size_prior`` (:func:`fit_size_priors`) is kept in the result: the peaks'
    raw scores must already be adjusted by it (:func:`finish_peaks`).
    """
    per_class: dict[str, PlattParams] = {}
    raw = np.concatenate([p.raw for p in preds]) if preds else np.zeros(0)
    labels = np.concatenate([p.labels for p in preds]) if preds else np.zeros(0, np.int64)
    matched = np.concatenate([p.matched for p in preds]) if preds else np.zeros(0, bool)
    for idx, name in enumerate(classes):
        sel = labels == idx
        if sel.sum() < min_peaks or not matched[sel].any():
            logger.info("class %s: %d peaks, calibration left as identity", name, int(sel.sum()))
            continue
        per_class[name] = fit_platt(raw[sel], matched[sel])
    calibration = Calibration(
        method=CalibrationMethod.PLATT, per_class=per_class, size_prior=dict(size_prior or {})
    )
    positive = np.array([p.positive for p in preds], dtype=bool)
    if positive.all() or not positive.any():
        logger.info("calibration scans are all of one kind: scan score left uncalibrated")
        return calibration
    top = scan_scores(preds, calibration, classes)
    return calibration.model_copy(update={"scan": fit_platt(top, positive)})


def scan_scores(
    preds: Sequence[ScanPrediction], calibration: Calibration, classes: Sequence[str] = CLASSES
) -> NDArray[np.float64]:
    """Scan scores as the detector computes them (:func:`detect.decision.scan_score`).

    Returns
    -------
    ndarray of float64, shape (n_scans,)
    """
    return np.array(
        [
            scan_score(
                calibrate_labels(p.raw, p.labels, list(classes), calibration),
                p.labels,
                list(classes),
                calibration.scan_params(),
            )
            for p in preds
        ]
    )


def choose_thresholds(
    preds: Sequence[ScanPrediction],
    calibration: Calibration,
    classes: Sequence[str] = CLASSES,
    target_pd: float = 0.98,
    target_pfa: float = 0.02,
) -> Thresholds:
    """Decision thresholds from the calibration set's scan scores.

    ``alarm`` is the lowest threshold whose false-alarm rate on phone-free scans is at most
    ``target_pfa``, raised towards 0.5 (an even chance) while the detection rate stays at least
    ``target_pd``. ``clear_below`` is the highest threshold that still keeps at least
    ``target_pd`` of the phone scans out of CLEAR, capped at ``alarm`` and 0.25; scans between
    the two are INCONCLUSIVE. Findings are reported from the phone confidence that lifts a
    scan to ``clear_below`` (at least 0.1).
    """
    scores = scan_scores(preds, calibration, classes)
    pos = np.array([p.positive for p in preds])
    neg_scores = np.sort(scores[~pos])
    pos_scores = np.sort(scores[pos])
    if neg_scores.size:
        k = int(np.floor(target_pfa * neg_scores.size))  # alarms allowed
        t_fa = float(neg_scores[-k - 1]) + 1e-6 if k < neg_scores.size else 0.0
    else:
        t_fa = 0.5
    if pos_scores.size:
        miss = int(np.floor((1 - target_pd) * pos_scores.size))
        t_pd = float(pos_scores[miss])
    else:
        t_pd = 0.5
    alarm = float(np.clip(0.5, t_fa, max(t_fa, t_pd)))
    alarm = float(np.clip(alarm, 0.05, 0.99))
    clear_below = float(np.clip(min(t_pd, alarm, 0.25), 0.02, alarm))
    logger.info(
        "thresholds: t_fa %.3f t_pd %.3f -> alarm %.3f clear_below %.3f",
        t_fa,
        t_pd,
        alarm,
        clear_below,
    )
    # Stored to 4 places, rounded away from the scans that chose them: a rounded-down alarm
    # threshold would let one more phone-free scan alarm, a rounded-up clear threshold would
    # clear one more phone scan.
    return Thresholds(
        peak_min_score=PEAK_MIN,
        report_min_confidence=_round_down(
            max(phone_confidence(clear_below, calibration.scan_params()), REPORT_FLOOR)
        ),
        alarm=_round_up(alarm),
        clear_below=_round_down(clear_below),
    )


def phone_confidence(score: float, scan: PlattParams | None) -> float:
    """The highest phone confidence that gives a scan this score (inverse of the scan Platt)."""
    if scan is None or not scan.a > 0:
        return score
    return float(uncalibrate([score], scan)[0])


def _round_up(value: float, places: int = 4) -> float:
    return math.ceil(round(value * 10**places, 6)) / 10**places


def _round_down(value: float, places: int = 4) -> float:
    return math.floor(round(value * 10**places, 6)) / 10**places
