"""``run_bench``: score an annotated scan set, write predictions, per-scan results, reports."""

from __future__ import annotations

import datetime as _dt
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from validation import metrics
from validation.breakdown import box_breakdown, scan_breakdown
from validation.coco import CPM_RATES, CocoEvaluation
from validation.dataset import POSITIVE_CATEGORY, BenchDataset, BenchImage, load_dataset
from validation.errors import BenchConfigError
from validation.runner import ScanReader, ScanRecord, run_files

logger = logging.getLogger(__name__)

#: Bootstrap resamples by default.
DEFAULT_N_BOOT = 1000

DEFINITIONS: dict[str, str] = {
    "positive_scan": "a scan with at least one 'phone' annotation",
    "counts": (
        "n_scans and n_positive count every annotated scan; n_scored, n_scored_positive and "
        "n_scored_negative the scans read and scored, on which every metric is computed"
    ),
    "failed_scans": (
        "scans whose file is missing, cannot be read or makes the detector fail; they are listed "
        "and left out of every metric"
    ),
    "ap": (
        "COCO average precision by pycocotools (101-point interpolated precision, up to 100 "
        "boxes per scan, all box sizes): ap50 at IoU 0.5, ap50_95 averaged over IoU 0.50:0.05:0.95"
        "; recall_iou50 = fraction of ground-truth boxes matched at IoU >= 0.5. Boxes are the "
        "findings the detector reports (calibrated confidence >= its report threshold), or "
        "every decoded peak when run.boxes_scored says 'all decoded peaks'"
    ),
    "pd_at_fa": (
        "Pd at x false alarms per scan: t = smallest threshold at which the fraction of negative "
        "scans whose scan score exceeds t is <= x; Pd = fraction of positive scans whose scan "
        "score exceeds t"
    ),
    "roc_auc": "area under the ROC curve of scan score vs has_phone (ties count one half)",
    "operating_points": (
        "Pd and Pfa had the alarm threshold been t (alarm when scan score >= t, as the decision "
        "rule), for choosing the manifest's alarm threshold"
    ),
    "decision": (
        "pd = positive scans decided ALARM / positive scans; pfa = negative scans decided ALARM / "
        "negative scans; INCONCLUSIVE counts as not alarming in both and is reported as "
        "inconclusive_rate (over all scans, and over positives and negatives)"
    ),
    "calibration": (
        "ECE = sum over equal-width bins of [0, 1] of (scans in bin / scans) * |mean scan score - "
        "fraction of positive scans|"
    ),
    "froc": (
        "phone box sensitivity at IoU >= 0.5 (pycocotools matching) against mean false-positive "
        "phone boxes per scan, one point per distinct confidence; CPM = mean sensitivity at "
        "1/8, 1/4, 1/2, 1, 2, 4, 8 FP per scan (sensitivity at a rate = best sensitivity reached "
        "at no more FP per scan than that rate)"
    ),
    "breakdown": (
        "per-image attributes: n scans, pd and pfa of the decision rule within each value; "
        "per-annotation attributes (marked level 'box'): n boxes and pd = box recall at IoU >= "
        "0.5 of same-class findings; *_ci95 are Clopper-Pearson 95 % intervals; attributes "
        "with more than 20 values, identifiers (a different value for every entry) and "
        "non-categorical values (floats, lists) are left out; nested objects appear as dotted "
        "names"
    ),
    "ci95": (
        "AP50, ROC AUC and Pd at FA: percentile bootstrap 95 % interval, positives and negatives "
        "resampled separately with replacement (prevalence kept), fixed seed; decision pd and "
        "pfa: Clopper-Pearson exact binomial 95 % interval"
    ),
    "false_alarms_allowed": (
        "floor(x * negative scans): how many negative scans may alarm at rate x; 0 means the "
        "set is too small to resolve that rate (Pd is then measured at zero false alarms)"
    ),
    "latency_ms": "wall time per scan to read the file and run the detector, in one worker",
}


@dataclass
class BenchResult:
    """What :func:`run_bench` produced.

    Attributes
    ----------
    report : dict
        The content of ``report.json``.
    records : list of ScanRecord
        One per annotated scan, in the annotations' order.
    paths : dict of str to Path
        ``predictions``, ``scans``, ``report_json``, ``report_html``.
    """

    report: dict[str, Any]
    records: list[ScanRecord]
    paths: dict[str, Path] = field(default_factory=dict)

    @property
    def n_scored(self) -> int:
        """Scans read and scored."""
        return sum(r.ok for r in self.records)


def _clean(value: Any) -> Any:
    """JSON-ready copy: NaN/inf become None, numpy scalars and arrays become Python values."""
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_clean(v) for v in value.tolist()]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        f = float(value)
        return f if math.isfinite(f) else None
    return value


def _fa_key(fa: float) -> str:
    return f"{fa:g}"


def _predictions(
    dataset: BenchDataset, pairs: Sequence[tuple[BenchImage, ScanRecord]]
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    by_name = {name: cid for cid, name in dataset.categories.items()}
    preds: list[dict[str, Any]] = []
    unknown: dict[str, int] = {}
    for image, record in pairs:
        if record.result is None:
            continue
        for f in record.result.findings:
            cid = by_name.get(f.label)
            if cid is None:
                unknown[f.label] = unknown.get(f.label, 0) + 1
                continue
            preds.append(
                {
                    "image_id": image.image_id,
                    "category_id": cid,
                    "bbox": [round(float(v), 3) for v in f.bbox_px],
                    "score": round(float(f.confidence), 6),
                }
            )
    if unknown:
        logger.warning("findings with labels absent from the categories were skipped: %s", unknown)
    return preds, unknown


def _latency(records: Sequence[ScanRecord]) -> dict[str, Any]:
    ok = [r for r in records if r.ok and r.result is not None]
    p50, p95 = metrics.percentiles([r.latency_ms for r in ok])
    stages: dict[str, dict[str, float | None]] = {}
    for stage in ("decode_ms", "preprocess_ms", "infer_ms", "postprocess_ms"):
        s50, s95 = metrics.percentiles([getattr(r.result.timings, stage) for r in ok if r.result])
        stages[stage.removesuffix("_ms")] = {"p50": s50, "p95": s95}
    mean = float(np.mean([r.latency_ms for r in ok])) if ok else None
    return {"p50": p50, "p95": p95, "mean": mean, "per_stage": stages}


def _check_options(jobs: object, n_boot: object, model: str | Path | None) -> None:
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise BenchConfigError(f"jobs must be a whole number >= 1, got {jobs!r}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 0:
        raise BenchConfigError(f"n_boot must be a whole number >= 0, got {n_boot!r}")
    if model is not None and not Path(model).is_file():
        raise BenchConfigError(f"model file {model} not found; give the path of an ONNX model")


def _prepare_out(out_dir: str | Path) -> Path:
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise BenchConfigError(f"output path {out} is a file; give a folder with --out")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BenchConfigError(f"cannot create output folder {out}: {exc.strerror}") from exc
    return out


def run_bench(
    dataset_dir: str | Path,
    annotations: str | Path | None = None,
    out_dir: str | Path = "bench-out",
    jobs: int = 1,
    detector: Any = None,
    *,
    model: str | Path | None = None,
    reader: ScanReader | None = None,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = 0,
    progress: bool = True,
    all_peaks: bool = False,
) -> BenchResult:
    """Benchmark a detector on an annotated scan set and write the reports.

    Parameters
    ----------
    dataset_dir : str or Path
        Folder of scans with a COCO ``annotations.json``.
    annotations : str or Path, optional
        COCO file when not ``dataset_dir / "annotations.json"``.
    out_dir : str or Path
        Folder receiving ``predictions.json``, ``scans.json``, ``report.json``, ``report.html``.
    jobs : int
        Worker processes (onnxruntime gets one thread per worker when ``jobs > 1``).
    detector : SupportsDetect or callable, optional
        Detector to benchmark, or a zero-argument factory; picklable when ``jobs > 1``. When
        None each worker loads ``model`` (the shipped model when ``model`` is None).
    model : str or Path, optional
        ONNX model file (manifest beside it).
    reader : callable, optional
        ``reader(path) -> Scan``; ``scanner.read_scan`` when None.
    n_boot : int
        Bootstrap resamples for the 95 % intervals (0 disables them).
    seed : int
        Bootstrap seed.
    progress : bool
        Show a progress bar.
    all_peaks : bool
        Score boxes on every decoded peak of a model loaded from ``model`` instead of only the
        findings it reports (scan scores and decisions are unchanged).

    Returns
    -------
    BenchResult

    Raises
    ------
    DatasetError, AnnotationError
        Missing folder or unusable annotations.
    BenchConfigError
        Bad ``jobs``, ``n_boot``, ``model`` or ``out_dir``.
    DetectorLoadError
        The model cannot be loaded.
    """
    _check_options(jobs, n_boot, model)
    dataset = load_dataset(dataset_dir, annotations)
    out = _prepare_out(out_dir)
    started = time.perf_counter()
    records = run_files(
        [im.path for im in dataset.images],
        jobs=jobs,
        model_path=str(model) if model is not None else None,
        detector=detector,
        reader=reader,
        progress=progress,
        all_peaks=all_peaks,
    )
    wall_s = time.perf_counter() - started
    report = build_report(dataset, records, n_boot=n_boot, seed=seed)
    report["run"] = {
        "dataset": str(dataset.root),
        "annotations": str(dataset.annotations_path),
        "jobs": jobs,
        "boxes_scored": "all decoded peaks" if all_peaks else "reported findings",
        "wall_time_s": wall_s,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
    from validation.report import write_outputs

    paths = write_outputs(out, dataset, records, _clean(report))
    return BenchResult(report=_clean(report), records=records, paths=paths)


def build_report(
    dataset: BenchDataset, records: Sequence[ScanRecord], *, n_boot: int = 0, seed: int = 0
) -> dict[str, Any]:
    """Every figure of ``report.json`` from the set and one record per image (same order).

    Also stores the COCO ``predictions`` under the private key ``_predictions``.
    """
    if len(records) != len(dataset.images):
        raise ValueError("records must hold one entry per dataset image, in order")
    pairs = [(im, r) for im, r in zip(dataset.images, records, strict=True) if r.ok]
    images = [im for im, _ in pairs]
    labels = np.asarray([im.has_phone for im in images], dtype=bool)
    scores = np.asarray([r.result.scan_score for _, r in pairs if r.result], dtype=np.float64)
    decisions = [r.result.decision.value for _, r in pairs if r.result]
    predictions, unknown = _predictions(dataset, pairs)
    failed = [
        {"file_name": im.file_name, "status": r.status.value, "error": r.error}
        for im, r in zip(dataset.images, records, strict=True)
        if not r.ok
    ]

    identity = next((r.result.model for _, r in pairs if r.result), None)
    report: dict[str, Any] = {
        "n_scans": len(dataset.images),
        "n_positive": dataset.n_positive,
        "n_failed": len(failed),
        "n_scored": len(pairs),
        "n_scored_positive": int(labels.sum()),
        "n_scored_negative": int((~labels).sum()),
        "failed": failed,
        "model": {
            "name": identity.name if identity else None,
            "version": identity.version if identity else None,
            "sha256": identity.sha256 if identity else None,
        },
        "definitions": DEFINITIONS,
    }

    scored_ids = {im.image_id for im in images}
    phone_id = dataset.category_id(POSITIVE_CATEGORY)
    detection: dict[str, Any] = {}
    matched: dict[int, bool] = {}
    froc_out: dict[str, Any] = {
        "category": POSITIVE_CATEGORY,
        "fa_per_scan": [],
        "sensitivity": [],
        "cpm": None,
        "sensitivity_at": {},
    }
    ap50_of = None
    if pairs:
        evaluation = CocoEvaluation(dataset.coco_ground_truth(scored_ids), predictions)
        present = {a.category_id for a in dataset.annotations if a.image_id in scored_ids}
        for cid in sorted(present | ({phone_id} if phone_id is not None else set())):
            cs = evaluation.class_scores(cid)
            detection[dataset.categories[cid]] = {
                "ap50": cs.ap50,
                "ap50_95": cs.ap50_95,
                "recall_iou50": cs.recall_iou50,
                "n_gt": cs.n_gt,
                "n_pred": cs.n_pred,
            }
        matched = evaluation.matched_gt()
        if phone_id is not None:
            froc = evaluation.froc(phone_id, n_scans=len(pairs))
            froc_out.update(
                fa_per_scan=froc.fa_per_scan,
                sensitivity=froc.sensitivity,
                cpm=froc.cpm,
                sensitivity_at={f"{r:g}": froc.sensitivity_at.get(r) for r in CPM_RATES},
            )
            ap50_of = evaluation.ap50_resampler(phone_id)
    if POSITIVE_CATEGORY not in detection:
        detection[POSITIVE_CATEGORY] = {
            "ap50": None,
            "ap50_95": None,
            "recall_iou50": None,
            "n_gt": 0,
            "n_pred": 0,
        }
    report["detection"] = detection
    report["predictions_skipped_labels"] = unknown

    fpr, tpr = metrics.roc_points(scores, labels)
    report["scan"] = {
        "roc_auc": metrics.roc_auc(scores, labels),
        "pd_at_fa": {_fa_key(fa): metrics.pd_at_fa(scores, labels, fa) for fa in metrics.FA_RATES},
        "threshold_at_fa": {
            _fa_key(fa): metrics.threshold_at_fa(scores[~labels], fa) if (~labels).any() else None
            for fa in metrics.FA_RATES
        },
        "false_alarms_allowed": {
            _fa_key(fa): math.floor(fa * int((~labels).sum()) + 1e-9) for fa in metrics.FA_RATES
        },
        "decision": metrics.decision_rates(decisions, labels),
        "operating_points": metrics.operating_points(scores, labels),
        "roc_curve": {"pfa": fpr, "pd": tpr},
    }
    cal = metrics.calibration(scores, labels)
    report["calibration"] = {
        "ece": cal.ece,
        "n_bins": cal.n_bins,
        "bins": [
            {
                "low": float(cal.edges[i]),
                "high": float(cal.edges[i + 1]),
                "n": int(cal.count[i]),
                "mean_score": float(cal.mean_score[i]),
                "frac_positive": float(cal.frac_positive[i]),
            }
            for i in range(cal.n_bins)
        ],
    }
    report["froc"] = froc_out
    report["latency_ms"] = _latency(records)
    skipped: list[str] = []
    scan_bd = scan_breakdown(images, labels, decisions, skipped)
    box_bd = box_breakdown(dataset, scored_ids, matched, set(scan_bd), skipped)
    report["breakdown"] = {**scan_bd, **box_bd}
    report["breakdown_skipped"] = skipped
    if skipped:
        logger.info("no breakdown for non-categorical attributes: %s", ", ".join(skipped))
    report["ci95"] = _bootstrap(images, scores, labels, ap50_of, n_boot=n_boot, seed=seed)
    alarms = np.asarray([d == "ALARM" for d in decisions], dtype=bool)
    report["ci95"]["decision"] = {
        "method": "Clopper-Pearson exact binomial",
        "pd": metrics.exact_interval(int((alarms & labels).sum()), int(labels.sum())),
        "pfa": metrics.exact_interval(int((alarms & ~labels).sum()), int((~labels).sum())),
    }
    report["_predictions"] = predictions
    return report


def _bootstrap(
    images: Sequence[BenchImage],
    scores: NDArray[np.float64],
    labels: NDArray[np.bool_],
    ap50_of: Any,
    *,
    n_boot: int,
    seed: int,
) -> dict[str, Any]:
    ids = np.asarray([im.image_id for im in images], dtype=np.int64)

    def statistic(index: NDArray[np.intp]) -> dict[str, float | None]:
        s, y = scores[index], labels[index]
        out: dict[str, float | None] = {
            "ap50": ap50_of(ids[index].tolist()) if ap50_of is not None else None,
            "roc_auc": metrics.roc_auc(s, y),
        }
        for fa in metrics.FA_RATES:
            out[f"pd_at_fa/{_fa_key(fa)}"] = metrics.pd_at_fa(s, y, fa)
        return out

    result: dict[str, Any] = {
        "method": "stratified percentile bootstrap",
        "n_boot": n_boot,
        "seed": seed,
    }
    if n_boot == 0 or scores.size == 0:
        empty = {"low": None, "high": None, "n_valid": 0}
        result.update(
            ap50=empty, roc_auc=empty, pd_at_fa={_fa_key(fa): empty for fa in metrics.FA_RATES}
        )
        return result
    ci = metrics.bootstrap_ci(statistic, labels, n_boot=n_boot, seed=seed)
    result["ap50"] = ci["ap50"]
    result["roc_auc"] = ci["roc_auc"]
    result["pd_at_fa"] = {_fa_key(fa): ci[f"pd_at_fa/{_fa_key(fa)}"] for fa in metrics.FA_RATES}
    return result
