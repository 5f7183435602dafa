"""pycocotools wrapping: FROC/CPM by hand and the AP50 bootstrap resampler."""

from __future__ import annotations

import contextlib
import io
from typing import Any

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from validation.coco import CocoEvaluation


def _gt(boxes: dict[int, list[list[float]]], n_images: int) -> dict[str, Any]:
    anns = [
        {
            "id": 100 * i + j + 1,
            "image_id": i,
            "category_id": 1,
            "bbox": b,
            "area": b[2] * b[3],
            "iscrowd": 0,
        }
        for i, bs in boxes.items()
        for j, b in enumerate(bs)
    ]
    return {
        "images": [{"id": i, "file_name": f"{i}.dcm"} for i in range(1, n_images + 1)],
        "annotations": anns,
        "categories": [{"id": 1, "name": "phone"}],
    }


def _pred(image_id: int, bbox: list[float], score: float) -> dict[str, Any]:
    return {"image_id": image_id, "category_id": 1, "bbox": bbox, "score": score}


BOX = [10.0, 10.0, 10.0, 10.0]
FAR = [40.0, 40.0, 5.0, 5.0]


def test_froc_and_cpm_by_hand() -> None:
    """4 scans, 4 boxes. Detections: 0.9 TP, 0.8 FP, 0.7 FP, 0.6 TP, 0.5 FP, 0.4 FP, 0.3 FP.

    FP per scan / sensitivity after each: (0, .25) (.25, .25) (.5, .25) (.5, .5) (.75, .5)
    (1, .5) (1.25, .5). Sensitivity at 1/8, 1/4, 1/2, 1, 2, 4, 8 FP/scan:
    .25, .25, .5, .5, .5, .5, .5 -> CPM = 3.0 / 7.
    """
    gt = _gt({1: [BOX], 2: [BOX], 3: [BOX], 4: [BOX]}, 4)
    preds = [
        _pred(1, BOX, 0.9),
        _pred(2, FAR, 0.8),
        _pred(3, FAR, 0.7),
        _pred(2, BOX, 0.6),
        _pred(4, FAR, 0.5),
        _pred(1, FAR, 0.4),
        _pred(3, FAR, 0.3),
    ]
    froc = CocoEvaluation(gt, preds).froc(1, n_scans=4)
    assert froc.fa_per_scan.tolist() == pytest.approx([0, 0.25, 0.5, 0.5, 0.75, 1.0, 1.25])
    assert froc.sensitivity.tolist() == pytest.approx([0.25, 0.25, 0.25, 0.5, 0.5, 0.5, 0.5])
    assert froc.sensitivity_at[0.125] == 0.25 and froc.sensitivity_at[0.5] == 0.5
    assert froc.cpm == pytest.approx(3.0 / 7)


def test_froc_ties_form_one_point() -> None:
    """Two detections with the same score give one operating point."""
    gt = _gt({1: [BOX], 2: [BOX]}, 2)
    froc = CocoEvaluation(gt, [_pred(1, BOX, 0.5), _pred(2, FAR, 0.5)]).froc(1, n_scans=2)
    assert froc.fa_per_scan.tolist() == [0.5] and froc.sensitivity.tolist() == [0.5]


def test_no_ground_truth_boxes() -> None:
    """Without boxes of the class, AP and FROC are undefined (None), not zero."""
    ev = CocoEvaluation(_gt({}, 2), [_pred(1, BOX, 0.5)])
    assert ev.class_scores(1).ap50 is None
    assert ev.froc(1, n_scans=2).cpm is None


def _coco_ap50(gt: dict[str, Any], preds: list[dict[str, Any]]) -> float:
    with contextlib.redirect_stdout(io.StringIO()):
        g = COCO()
        g.dataset = gt
        g.createIndex()
        ev = COCOeval(g, g.loadRes(preds), iouType="bbox")
        ev.evaluate()
        ev.accumulate()
    p = ev.eval["precision"][0, :, 0, 0, -1]
    return float(p[p > -1].mean())


def test_resampler_equals_full_evaluation_of_duplicated_set() -> None:
    """AP50 over drawn ids (1, 1, 3, 4) equals pycocotools on a set where the duplicate of
    scan 1 is a renamed copy."""
    rng = np.random.default_rng(0)
    boxes = {
        i: [[float(rng.integers(0, 30)), float(rng.integers(0, 30)), 12.0, 12.0]]
        for i in (1, 2, 3, 4)
    }
    preds = []
    for i, (b,) in boxes.items():
        preds.append(_pred(i, [b[0] + rng.integers(-4, 5), b[1], 12.0, 12.0], float(rng.random())))
        preds.append(_pred(i, FAR, float(rng.random())))
    ev = CocoEvaluation(_gt(boxes, 4), preds)
    resample = ev.ap50_resampler(1)
    assert resample([1, 2, 3, 4]) == pytest.approx(ev.class_scores(1).ap50)

    dup_boxes = {1: boxes[1], 5: boxes[1], 3: boxes[3], 4: boxes[4]}
    dup_gt = _gt(dup_boxes, 5)
    dup_gt["images"] = [im for im in dup_gt["images"] if im["id"] != 2]
    dup_preds = [p for p in preds if p["image_id"] in (1, 3, 4)]
    dup_preds += [{**p, "image_id": 5} for p in preds if p["image_id"] == 1]
    assert resample([1, 1, 3, 4]) == pytest.approx(_coco_ap50(dup_gt, dup_preds))
