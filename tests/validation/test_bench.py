"""End-to-end bench on the tiny planned set of ``conftest.py``; every figure worked by hand."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from tests.validation import fakes
from validation import ScanStatus, run_bench
from validation.errors import BenchConfigError


@pytest.fixture(scope="module")
def planned_run(
    tiny_set: tuple[Path, dict[str, str]],
    planned_detector: fakes.TableDetector,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[dict[str, Any], Path]:
    """The bench of the planned detector, one process; returns (report, output folder)."""
    out = tmp_path_factory.mktemp("bench_planned")
    result = run_bench(
        tiny_set[0],
        out_dir=out,
        detector=planned_detector,
        n_boot=200,
        progress=False,
    )
    return result.report, out


def test_counts(planned_run: tuple[dict[str, Any], Path]) -> None:
    """8 annotated scans (4 positive); s7 missing and s8 garbage fail; 6 scored (3 positive)."""
    r = planned_run[0]
    assert (r["n_scans"], r["n_positive"], r["n_failed"]) == (8, 4, 2)
    assert (r["n_scored"], r["n_scored_positive"], r["n_scored_negative"]) == (6, 3, 3)
    failed = {f["file_name"]: f["status"] for f in r["failed"]}
    assert failed == {"s7.dcm": ScanStatus.MISSING.value, "s8.dcm": ScanStatus.UNREADABLE.value}
    assert r["model"]["name"] == "table-fake"


def test_box_ap(planned_run: tuple[dict[str, Any], Path]) -> None:
    """Phone AP by hand: detections 0.9 TP, 0.7 TP, 0.65 FP, 0.5 FP, 0.3 FP over 3 boxes.

    IoU 0.5-0.80 (7 thresholds): precision 1 up to recall 2/3, so 67 of the 101 recall points
    (0.00..0.66) have precision 1: AP = 67/101. IoU 0.85-0.95 (3 thresholds): s1's box
    (IoU 0.818) becomes a FP; precision 1/2 up to recall 1/3: 34 points x 0.5 = 17/101.
    AP50:95 = (7 * 67 + 3 * 17) / 1010 = 520/1010. Blade: one exact box, AP 1.
    """
    det = planned_run[0]["detection"]
    assert det["phone"]["ap50"] == pytest.approx(67 / 101, abs=1e-9)
    assert det["phone"]["ap50_95"] == pytest.approx(520 / 1010, abs=1e-9)
    assert det["phone"]["recall_iou50"] == pytest.approx(2 / 3, abs=1e-9)
    assert (det["phone"]["n_gt"], det["phone"]["n_pred"]) == (3, 5)
    assert det["blade"]["ap50"] == pytest.approx(1.0)
    assert det["blade"]["ap50_95"] == pytest.approx(1.0)


def test_scan_level(planned_run: tuple[dict[str, Any], Path]) -> None:
    """Scores pos (0.9, 0.5, 0.7) vs neg (0.65, 0, 0.3).

    AUC: pairs won 3 + 2 + 3 = 8 of 9. Pd at x (x <= 0.1, 3 negatives): floor(3x) = 0 false
    alarms allowed, t = highest negative 0.65, Pd = #pos > 0.65 = 2/3.
    """
    scan = planned_run[0]["scan"]
    assert scan["roc_auc"] == pytest.approx(8 / 9, abs=1e-9)
    assert set(scan["pd_at_fa"]) == {"0.01", "0.02", "0.05", "0.1"}
    points = {p["threshold"]: (p["pd"], p["pfa"]) for p in scan["operating_points"]}
    assert points[0.6] == pytest.approx((2 / 3, 1 / 3))  # 0.9, 0.7 | 0.65
    assert points[0.3] == pytest.approx((1.0, 2 / 3))  # all | 0.65, 0.3 (score >= t)
    for fa, pd in scan["pd_at_fa"].items():
        assert pd == pytest.approx(2 / 3, abs=1e-9), fa
        assert scan["threshold_at_fa"][fa] == pytest.approx(0.65)


def test_decision(planned_run: tuple[dict[str, Any], Path]) -> None:
    """ALARM: s1, s3 (pos), s4 (neg); CLEAR: s5; INCONCLUSIVE: s2 (pos), s6 (neg)."""
    d = planned_run[0]["scan"]["decision"]
    assert (d["alarm"], d["clear"], d["inconclusive"]) == (3, 1, 2)
    assert d["pd"] == pytest.approx(2 / 3, abs=1e-9)
    assert d["pfa"] == pytest.approx(1 / 3, abs=1e-9)
    assert d["inconclusive_rate"] == pytest.approx(2 / 6, abs=1e-9)
    assert d["inconclusive_rate_positive"] == pytest.approx(1 / 3, abs=1e-9)


def test_calibration(planned_run: tuple[dict[str, Any], Path]) -> None:
    """Each scan alone in its bin: ECE = (0.1 + 0.5 + 0.3 + 0.65 + 0 + 0.3) / 6."""
    cal = planned_run[0]["calibration"]
    assert cal["n_bins"] == 10
    assert cal["ece"] == pytest.approx(1.85 / 6, abs=1e-9)
    assert [b["n"] for b in cal["bins"]] == [1, 0, 0, 1, 0, 1, 1, 1, 0, 1]


def test_froc(planned_run: tuple[dict[str, Any], Path]) -> None:
    """Points after 0.9, 0.7, 0.65, 0.5, 0.3 over 6 scans and 3 boxes; CPM = 2/3 everywhere."""
    froc = planned_run[0]["froc"]
    assert froc["fa_per_scan"] == pytest.approx([0, 0, 1 / 6, 2 / 6, 3 / 6])
    assert froc["sensitivity"] == pytest.approx([1 / 3, 2 / 3, 2 / 3, 2 / 3, 2 / 3])
    assert froc["cpm"] == pytest.approx(2 / 3, abs=1e-9)


def test_breakdown(planned_run: tuple[dict[str, Any], Path]) -> None:
    """site A = s1, s3 (pos, ALARM), s4 (neg, ALARM); site B = s2 (pos, INC), s5, s6 (neg, no
    alarm). Box concealment: clothing = s1, s3 phones + s3 blade, all found; internal = s2 (s7's
    box belongs to a failed scan). kvp is a float and ref an identifier: no breakdown."""
    bd = planned_run[0]["breakdown"]
    assert set(bd) == {"site", "concealment"}
    assert planned_run[0]["breakdown_skipped"] == ["kvp", "ref"]
    site_a = {k: v for k, v in bd["site"]["A"].items() if not k.endswith("_ci95")}
    assert site_a == {
        "n": 3,
        "n_positive": 2,
        "n_negative": 1,
        "pd": 1.0,
        "pfa": 1.0,
        "level": "scan",
    }
    # Clopper-Pearson of 2/2: [0.025 ** (1/2), 1]
    assert bd["site"]["A"]["pd_ci95"] == pytest.approx([0.025**0.5, 1.0])
    assert bd["site"]["B"]["pd"] == 0.0 and bd["site"]["B"]["pfa"] == 0.0
    clothing = bd["concealment"]["clothing"]
    assert (clothing["n"], clothing["pd"], clothing["pfa"], clothing["level"]) == (
        3,
        1.0,
        None,
        "box",
    )
    assert bd["concealment"]["internal"]["n"] == 1
    assert bd["concealment"]["internal"]["pd"] == 0.0


def test_ci_and_latency(planned_run: tuple[dict[str, Any], Path]) -> None:
    """Bootstrap intervals exist, are ordered and in [0, 1]; latency percentiles are positive."""
    r = planned_run[0]
    ci = r["ci95"]
    for entry in [ci["ap50"], ci["roc_auc"], *ci["pd_at_fa"].values()]:
        assert entry["n_valid"] > 0
        assert 0.0 <= entry["low"] <= entry["high"] <= 1.0
    assert ci["n_boot"] == 200
    assert ci["decision"]["pd"]["k"] == 2 and ci["decision"]["pd"]["n"] == 3
    assert ci["decision"]["pfa"]["low"] < 1 / 3 < ci["decision"]["pfa"]["high"]
    assert r["scan"]["false_alarms_allowed"] == {"0.01": 0, "0.02": 0, "0.05": 0, "0.1": 0}
    lat = r["latency_ms"]
    assert 0 < lat["p50"] <= lat["p95"]
    assert lat["per_stage"]["infer"]["p50"] == pytest.approx(2.0)


def test_output_files(planned_run: tuple[dict[str, Any], Path]) -> None:
    """predictions.json re-scores to the same AP50 with pycocotools; scans.json lists all 8."""
    report, out = planned_run
    preds = json.loads((out / "predictions.json").read_text())
    assert len(preds) == 6 and {"image_id", "category_id", "bbox", "score"} <= set(preds[0])
    gt_doc = json.loads((Path(report["run"]["annotations"])).read_text())
    for ann in gt_doc["annotations"]:  # the set leaves out 'area', which pycocotools needs
        ann["area"] = ann["bbox"][2] * ann["bbox"][3]
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = gt_doc
        gt.createIndex()
        ev = COCOeval(gt, gt.loadRes(preds), iouType="bbox")
        ev.params.imgIds = [1, 2, 3, 4, 5, 6]
        ev.params.catIds = [1]
        ev.evaluate()
        ev.accumulate()
    ap50 = ev.eval["precision"][0, :, 0, 0, -1].mean()
    assert ap50 == pytest.approx(report["detection"]["phone"]["ap50"])
    scans = json.loads((out / "scans.json").read_text())
    assert [s["file_name"] for s in scans] == [f"s{i}.dcm" for i in range(1, 9)]
    assert scans[0]["decision"] == "ALARM" and scans[0]["score"] == pytest.approx(0.9)
    assert scans[6]["error"].startswith("file not found") and scans[7]["error"]
    saved = json.loads((out / "report.json").read_text())
    assert saved["detection"] == report["detection"]
    assert "_predictions" not in saved


def test_html(planned_run: tuple[dict[str, Any], Path]) -> None:
    """report.html is self-contained, embeds the plots and states the definitions."""
    page = (planned_run[1] / "report.html").read_text()
    assert page.count("data:image/png;base64,") >= 5  # ROC, FROC, reliability, 2 breakdowns
    for alt in ("ROC curve", "FROC curve", "Reliability diagram"):
        assert f'alt="{alt}"' in page
    assert "http://" not in page and "https://" not in page
    assert "INCONCLUSIVE counts as not alarming" in page
    assert "s8.dcm" in page


def test_perfect_detector(
    tiny_set: tuple[Path, dict[str, str]], perfect_detector: fakes.TableDetector, tmp_path: Path
) -> None:
    """A detector reporting every box at confidence 1 and scoring positives 1 gets AP 1, Pd 1."""
    r = run_bench(
        tiny_set[0],
        out_dir=tmp_path,
        detector=perfect_detector,
        n_boot=0,
        progress=False,
    ).report
    assert r["detection"]["phone"]["ap50"] == pytest.approx(1.0)
    assert r["detection"]["phone"]["ap50_95"] == pytest.approx(1.0)
    assert r["scan"]["roc_auc"] == pytest.approx(1.0)
    assert all(v == pytest.approx(1.0) for v in r["scan"]["pd_at_fa"].values())
    assert r["scan"]["decision"]["pd"] == 1.0 and r["scan"]["decision"]["pfa"] == 0.0
    assert r["froc"]["cpm"] == pytest.approx(1.0)
    assert r["calibration"]["ece"] == pytest.approx(0.0)


def test_silent_detector(tiny_set: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    """A detector that outputs nothing (score 0 everywhere) gets AP 0, Pd 0 and CPM 0."""
    r = run_bench(
        tiny_set[0],
        out_dir=tmp_path,
        detector=fakes.TableDetector({}),
        n_boot=0,
        progress=False,
    ).report
    assert r["detection"]["phone"]["ap50"] == 0.0
    assert r["detection"]["phone"]["recall_iou50"] == 0.0
    assert all(v == 0.0 for v in r["scan"]["pd_at_fa"].values())
    assert r["scan"]["decision"]["pd"] == 0.0
    assert r["scan"]["roc_auc"] == pytest.approx(0.5)
    assert r["froc"]["cpm"] == 0.0
    assert json.loads((tmp_path / "predictions.json").read_text()) == []


def test_process_pool_matches_single_process(
    tiny_set: tuple[Path, dict[str, str]],
    planned_detector: fakes.TableDetector,
    planned_run: tuple[dict[str, Any], Path],
    tmp_path: Path,
) -> None:
    """Two worker processes give the same figures as one process."""
    r = run_bench(
        tiny_set[0],
        out_dir=tmp_path,
        jobs=2,
        detector=planned_detector,
        n_boot=0,
        progress=False,
    ).report
    ref = planned_run[0]
    for key in ("detection", "froc", "calibration", "breakdown", "failed"):
        assert r[key] == ref[key], key
    assert r["scan"]["decision"] == ref["scan"]["decision"]


def test_detector_failure_is_not_fatal(
    tiny_set: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    """A detector raising on one scan marks that scan detect-failed; the rest are scored."""
    root, uids = tiny_set
    det = fakes.TableDetector({uids["s1.dcm"]: fakes.Planned(0.0, fail=True)})
    r = run_bench(root, out_dir=tmp_path, detector=det, n_boot=0, progress=False).report
    assert r["n_failed"] == 3 and r["n_scored"] == 5
    s1 = next(f for f in r["failed"] if f["file_name"] == "s1.dcm")
    assert s1["status"] == "detect-failed" and "planned failure" in s1["error"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"jobs": 0}, "jobs must be"),
        ({"jobs": "2"}, "jobs must be"),
        ({"n_boot": -1}, "n_boot"),
        ({"model": "/nonexistent/model.onnx"}, "model file"),
    ],
)
def test_bad_options(
    tiny_set: tuple[Path, dict[str, str]], tmp_path: Path, kwargs: dict[str, Any], match: str
) -> None:
    """Bad jobs, bootstrap count or model path raise BenchConfigError before any work."""
    with pytest.raises(BenchConfigError, match=match):
        run_bench(tiny_set[0], out_dir=tmp_path, progress=False, **kwargs)
