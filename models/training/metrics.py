"""Held-out metrics of matched predictions: AP50, scan-level Pd and false alarms, ECE, recall by
subgroup, with bootstrap intervals.

The predictions come from :func:`models.training.evaluate.predict_records` and are scored with
the calibration and thresholds the manifest will ship, so the figures describe what the product
does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from detect.calibration import calibrate_labels
from models.manifest import Calibration, Thresholds
from models.training.classes import CLASSES
from models.training.evaluate import MATCH_IOU, ScanPrediction, phone_confidence, scan_scores
from models.training.failures import phone_failures

__all__ = [
    "average_precision",
    "ci95",
    "class_ap50",
    "coco_ap50",
    "compute_metrics",
    "pd_at_pfa",
]


def average_precision(scores: NDArray[np.float64], tp: NDArray[np.bool_], n_gt: int) -> float:
    """COCO-style 101-point interpolated average precision."""
    if n_gt == 0:
        return float("nan")
    order = np.argsort(-scores, kind="stable")
    tps = np.cumsum(tp[order])
    fps = np.cumsum(~tp[order])
    recall = tps / n_gt
    precision = tps / np.maximum(tps + fps, 1)
    precision = np.maximum.accumulate(precision[::-1])[::-1] if precision.size else precision
    ap = 0.0
    for r in np.linspace(0, 1, 101):
        i = np.searchsorted(recall, r, side="left")
        ap += float(precision[i]) if i < precision.size else 0.0
    return ap / 101


def class_ap50(
    preds: Sequence[ScanPrediction],
    label: int,
    idx: Sequence[int] | NDArray[np.intp] | None = None,
    conf: Sequence[NDArray[np.float64]] | None = None,
) -> float:
    """AP at IoU 0.5 of class ``label`` over the scans ``idx`` (all when ``None``).

    Peaks are ranked by ``conf`` (one array per scan, e.g. calibrated confidences) or by their
    raw scores; NaN when those scans hold no object of the class.
    """
    rows = range(len(preds)) if idx is None else idx
    scores, tp, n_gt = [np.zeros(0)], [np.zeros(0, bool)], 0
    for i in rows:
        p = preds[i]
        sel = p.labels == label
        scores.append((p.raw if conf is None else conf[i])[sel])
        tp.append(p.matched[sel])
        n_gt += int((p.gt_labels == label).sum())
    return average_precision(np.concatenate(scores), np.concatenate(tp), n_gt)


def pd_at_pfa(scores: NDArray[np.float64], positive: NDArray[np.bool_], pfa: float) -> float:
    """Detection rate at the lowest threshold that leaves at most ``pfa`` false alarms.

    Parameters
    ----------
    scores : ndarray of float64, shape (n_scans,)
        Scan scores (non-negative).
    positive : ndarray of bool, shape (n_scans,)
        Whether each scan holds a phone; both kinds must be present.
    pfa : float
        Allowed share of phone-free scans at or above the threshold.

    Returns
    -------
    float
        Share of phone scans scoring above the ``k + 1``-th highest phone-free score, where
        ``k = floor(pfa * n_phone_free)`` phone-free scans may alarm.
    """
    neg = np.sort(scores[~positive])
    k = int(np.floor(pfa * neg.size))  # false alarms allowed
    threshold = float(neg[-k - 1]) + 1e-9 if k < neg.size else 0.0
    return float((scores[positive] >= threshold).mean())


def ci95(values: Sequence[float]) -> list[float] | None:
    """Percentile 95 % interval of bootstrap values (rounded to 4 places); NaNs are ignored."""
    finite = [float(v) for v in values if np.isfinite(v)]
    if not finite:
        return None
    return [round(float(np.percentile(finite, q)), 4) for q in (2.5, 97.5)]


def _ece(conf: NDArray[np.float64], correct: NDArray[np.bool_], bins: int = 10) -> float:
    if conf.size == 0:
        return float("nan")
    idx = np.minimum((conf * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        sel = idx == b
        if sel.any():
            total += sel.sum() / conf.size * abs(conf[sel].mean() - correct[sel].mean())
    return float(total)


def _per_scan_stats(
    preds: Sequence[ScanPrediction],
    calibration: Calibration,
    thresholds: Thresholds,
    classes: Sequence[str],
) -> dict[str, Any]:
    conf = [calibrate_labels(p.raw, p.labels, list(classes), calibration) for p in preds]
    return {
        "conf": conf,
        "score": scan_scores(preds, calibration, classes),
        "positive": np.array([p.positive for p in preds]),
        # a phone finding alarms on its own from this confidence (the alarm threshold is on
        # the scan score, which the scan calibration maps from the highest phone confidence)
        "object_alarm": phone_confidence(thresholds.alarm, calibration.scan_params()),
    }


def _summary(
    preds: Sequence[ScanPrediction],
    stats: dict[str, Any],
    idx: NDArray[np.intp],
    thresholds: Thresholds,
    classes: Sequence[str],
) -> dict[str, float]:
    score, positive = stats["score"][idx], stats["positive"][idx]
    out: dict[str, float] = {}
    for c, name in enumerate(classes):
        ap = class_ap50(preds, c, idx, stats["conf"])
        if np.isfinite(ap):
            out[f"ap50_{name}"] = ap
    pos, neg = score[positive], score[~positive]
    out["pd_at_alarm"] = float((pos >= thresholds.alarm).mean()) if pos.size else float("nan")
    out["pfa_at_alarm"] = float((neg >= thresholds.alarm).mean()) if neg.size else float("nan")
    out["miss_clear"] = float((pos < thresholds.clear_below).mean()) if pos.size else float("nan")
    out["inconclusive"] = float(
        ((score >= thresholds.clear_below) & (score < thresholds.alarm)).mean()
    )
    for fa in (0.02, 0.05):
        if neg.size and pos.size:
            out[f"pd_at_pfa_{fa:g}"] = pd_at_pfa(score, positive, fa)
    # false phone detections per scan at the alarm threshold (object level)
    fp = sum(
        int(
            (
                (stats["conf"][i] >= stats["object_alarm"])
                & (preds[i].labels == 0)
                & ~preds[i].matched
            ).sum()
        )
        for i in idx
    )
    out["false_phone_detections_per_scan_at_alarm"] = fp / max(1, len(idx))
    c_all = np.concatenate([stats["conf"][i][preds[i].labels == 0] for i in idx] or [np.zeros(0)])
    m_all = np.concatenate(
        [preds[i].matched[preds[i].labels == 0] for i in idx] or [np.zeros(0, bool)]
    )
    out["ece_phone_detections"] = _ece(c_all, m_all)
    out["ece_scan"] = _ece(score, positive)
    return out


def _subgroup_recall(
    preds: Sequence[ScanPrediction],
    stats: dict[str, Any],
    idx: NDArray[np.intp],
    threshold: float,
    key: str,
) -> dict[str, tuple[float, int]]:
    hits: dict[str, list[bool]] = {}
    for i in idx:
        p = preds[i]
        for j, obj in enumerate(p.objects):
            if j >= len(p.gt_labels) or p.gt_labels[j] != 0:
                continue
            k = p.gt_hit_by[j]
            ok = bool(k >= 0 and stats["conf"][i][k] >= threshold)
            hits.setdefault(str(obj.get(key)), []).append(ok)
    return {g: (float(np.mean(v)), len(v)) for g, v in sorted(hits.items())}


def coco_ap50(
    preds: Sequence[ScanPrediction],
    calibration: Calibration,
    label: int = 0,
    classes: Sequence[str] = CLASSES,
) -> float:
    """AP at IoU 0.5 of one class by pycocotools (cross-check of :func:`average_precision`)."""
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images: list[dict[str, Any]] = []
    anns: list[dict[str, Any]] = []
    dets: list[dict[str, Any]] = []
    for i, p in enumerate(preds):
        images.append({"id": i + 1, "width": 4096, "height": 4096})
        for b, lab in zip(p.gt_boxes, p.gt_labels, strict=True):
            if lab == label:
                anns.append(
                    {
                        "id": len(anns) + 1,
                        "image_id": i + 1,
                        "category_id": 1,
                        "bbox": [float(v) for v in b],
                        "area": float(b[2] * b[3]),
                        "iscrowd": 0,
                    }
                )
        conf = calibrate_labels(p.raw, p.labels, list(classes), calibration)
        for b, lab, c in zip(p.boxes, p.labels, conf, strict=True):
            if lab == label:
                dets.append(
                    {
                        "image_id": i + 1,
                        "category_id": 1,
                        "bbox": [float(v) for v in b],
                        "score": float(c),
                    }
                )
    if not anns:
        return float("nan")
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = {
            "images": images,
            "annotations": anns,
            "categories": [{"id": 1, "name": classes[label]}],
        }
        gt.createIndex()
        dt = gt.loadRes(dets) if dets else COCO()
        ev = COCOeval(gt, dt, "bbox")
        ev.params.iouThrs = np.array([0.5])
        ev.params.areaRng = [[0, 1e10]]
        ev.params.areaRngLbl = ["all"]
        ev.params.maxDets = [100]
        ev.evaluate()
        ev.accumulate()
    prec = ev.eval["precision"][0, :, 0, 0, 0]
    return float(np.mean(np.where(prec > -1, prec, 0.0)))


def compute_metrics(
    preds: Sequence[ScanPrediction],
    calibration: Calibration,
    thresholds: Thresholds,
    classes: Sequence[str] = CLASSES,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Held-out metrics with 95 % bootstrap intervals (scans resampled with replacement).

    Returns
    -------
    dict
        ``n_scans``, ``n_positive``, and for each metric ``{"value", "ci95": [lo, hi]}``;
        ``phone_recall_by_kind`` / ``phone_recall_by_concealment`` / ``scan_pd_by_encoding``
        (recall of phones matched at IoU 0.5 by a finding confident enough to raise an alarm
        on its own; likewise the false phone detections at the alarm); ``phone_failures``
        (:func:`models.training.failures.phone_failures`).
    """
    n = len(preds)
    stats = _per_scan_stats(preds, calibration, thresholds, classes)
    all_idx = np.arange(n)
    point = _summary(preds, stats, all_idx, thresholds, classes)
    rng = np.random.default_rng(seed)
    boot: dict[str, list[float]] = {k: [] for k in point}
    for _ in range(n_boot):
        s = _summary(preds, stats, rng.integers(0, n, n), thresholds, classes)
        for k in point:
            if k in s and np.isfinite(s[k]):
                boot[k].append(s[k])
    out: dict[str, Any] = {
        "ap50_phone_pycocotools": round(coco_ap50(preds, calibration), 4) if n else None,
        "n_scans": n,
        "n_positive": int(stats["positive"].sum()),
        "match_iou": MATCH_IOU,
        "bootstrap_resamples": n_boot,
    }
    for k, v in point.items():
        out[k] = {"value": round(float(v), 4), "ci95": ci95(boot[k])}
    for key in ("kind", "concealment", "location"):
        out[f"phone_recall_by_{key}"] = {
            g: {"value": round(r, 4), "n": m}
            for g, (r, m) in _subgroup_recall(
                preds, stats, all_idx, stats["object_alarm"], key
            ).items()
        }
    enc: dict[str, list[bool]] = {}
    for i, p in enumerate(preds):
        if p.positive:
            enc.setdefault(str(p.meta.get("encoding")), []).append(
                bool(stats["score"][i] >= thresholds.alarm)
            )
    out["scan_pd_by_encoding"] = {
        g: {"value": round(float(np.mean(v)), 4), "n": len(v)} for g, v in sorted(enc.items())
    }
    out["phone_failures"] = phone_failures(
        preds, stats["conf"], thresholds.report_min_confidence, classes
    )
    return out
