"""Box-level scoring with pycocotools: AP per class, box matches, FROC and AP bootstrap.

pycocotools does the matching (greedy by score, IoU with continuous ``[x, y, w, h]`` boxes) and
the 101-point interpolated precision; this module only arranges its inputs and reads its outputs.
Its progress prints are suppressed.
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

logger = logging.getLogger(__name__)

#: One area range covering every box (the benchmark does not split by COCO size bins).
_ALL_AREAS = [[0.0, 1e12]]
#: Detections kept per image (the detector reports far fewer).
MAX_DETS = 100
#: False-positive rates per scan at which CPM averages the FROC sensitivity.
CPM_RATES: tuple[float, ...] = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


@dataclass(frozen=True)
class ClassScores:
    """COCO figures of one category (None where the set has no box of it)."""

    n_gt: int
    n_pred: int
    ap50: float | None
    ap50_95: float | None
    recall_iou50: float | None


@dataclass(frozen=True)
class Froc:
    """FROC curve of one category.

    Attributes
    ----------
    fa_per_scan, sensitivity : ndarray of float64, shape (n_points,)
        Operating points at each distinct detection score, most confident first.
    cpm : float or None
        Mean sensitivity at :data:`CPM_RATES` false positives per scan (None without boxes).
    sensitivity_at : dict of float to float
        Sensitivity at each CPM rate.
    """

    fa_per_scan: NDArray[np.float64]
    sensitivity: NDArray[np.float64]
    cpm: float | None
    sensitivity_at: dict[float, float]


def _quiet() -> contextlib.redirect_stdout[io.StringIO]:
    return contextlib.redirect_stdout(io.StringIO())


def _mean_valid(values: NDArray[np.float64]) -> float | None:
    valid = values[values > -1]
    return float(np.mean(valid)) if valid.size else None


class CocoEvaluation:
    """pycocotools evaluation of predictions against a ground-truth set.

    Parameters
    ----------
    ground_truth : dict
        COCO ground truth (``images``, ``annotations``, ``categories``); ``images`` fixes the
        order used by :meth:`ap50` index arrays.
    predictions : sequence of dict
        COCO results (``image_id``, ``category_id``, ``bbox``, ``score``); may be empty.
    """

    def __init__(self, ground_truth: dict[str, Any], predictions: Sequence[dict[str, Any]]):
        with _quiet():
            gt = COCO()
            gt.dataset = copy.deepcopy(ground_truth)
            gt.createIndex()
            dt = COCO()
            dt.dataset = {
                "images": list(gt.dataset["images"]),
                "categories": list(gt.dataset["categories"]),
                "annotations": [
                    {
                        "id": i + 1,
                        "image_id": p["image_id"],
                        "category_id": p["category_id"],
                        "bbox": list(p["bbox"]),
                        "score": float(p["score"]),
                        "area": float(p["bbox"][2]) * float(p["bbox"][3]),
                        "iscrowd": 0,
                    }
                    for i, p in enumerate(predictions)
                ],
            }
            dt.createIndex()
            ev = COCOeval(gt, dt, iouType="bbox")
            ev.params.imgIds = [im["id"] for im in ground_truth["images"]]
            ev.params.areaRng = _ALL_AREAS
            ev.params.areaRngLbl = ["all"]
            ev.params.maxDets = [MAX_DETS]
            ev.evaluate()
            ev.accumulate()
        self._ev = ev
        self._gt = gt
        self._dt = dt
        #: Evaluated image ids (pycocotools sorts them).
        self.image_ids: list[int] = [int(i) for i in ev.params.imgIds]
        self.cat_ids: list[int] = list(ev.params.catIds)
        self._n_images = len(self.image_ids)

    def _eval_imgs(self, cat_id: int) -> list[dict[str, Any] | None]:
        k = self.cat_ids.index(cat_id)
        start = k * self._n_images  # one area range: evalImgs is [category][image]
        return list(self._ev.evalImgs[start : start + self._n_images])

    def class_scores(self, cat_id: int) -> ClassScores:
        """AP50, AP50:95 and recall at IoU 0.5 (all predictions, up to 100 per scan)."""
        k = self.cat_ids.index(cat_id)
        precision = self._ev.eval["precision"]  # (T, R, K, A, M)
        recall = self._ev.eval["recall"]  # (T, K, A, M)
        n_gt = len(self._gt.getAnnIds(catIds=[cat_id]))
        n_pred = len(self._dt.getAnnIds(catIds=[cat_id]))
        if n_gt == 0:
            return ClassScores(n_gt, n_pred, None, None, None)
        ap50 = _mean_valid(precision[0, :, k, 0, 0])
        ap = _mean_valid(precision[:, :, k, 0, 0])
        rec = float(recall[0, k, 0, 0])
        return ClassScores(n_gt, n_pred, ap50, ap, rec if rec > -1 else None)

    def matched_gt(self) -> dict[int, bool]:
        """Ground-truth annotation id -> matched by a same-class prediction at IoU >= 0.5."""
        out: dict[int, bool] = {}
        for e in self._ev.evalImgs:
            if e is None:
                continue
            for gt_id, match in zip(e["gtIds"], e["gtMatches"][0], strict=True):
                out[int(gt_id)] = bool(match > 0)
        return out

    def froc(self, cat_id: int, n_scans: int) -> Froc:
        """FROC of one category: sensitivity at IoU >= 0.5 against mean FP boxes per scan."""
        scores: list[float] = []
        tps: list[bool] = []
        n_gt = 0
        for e in self._eval_imgs(cat_id):
            if e is None:
                continue
            n_gt += int(np.count_nonzero(np.asarray(e["gtIgnore"]) == 0))
            keep = ~np.asarray(e["dtIgnore"][0], dtype=bool)
            scores.extend(np.asarray(e["dtScores"], dtype=np.float64)[keep].tolist())
            tps.extend((np.asarray(e["dtMatches"][0])[keep] > 0).tolist())
        if n_gt == 0 or n_scans == 0:
            empty = np.zeros(0, dtype=np.float64)
            return Froc(empty, empty, None, {})
        order = np.argsort(-np.asarray(scores), kind="mergesort")
        s = np.asarray(scores)[order]
        tp = np.cumsum(np.asarray(tps, dtype=np.float64)[order])
        fp = np.cumsum(1.0 - np.asarray(tps, dtype=np.float64)[order])
        # One operating point per distinct score: the last detection of each tie group.
        last = np.r_[s[1:] != s[:-1], True] if s.size else np.zeros(0, dtype=bool)
        fa = fp[last] / n_scans
        sens = tp[last] / n_gt
        at = {}
        for rate in CPM_RATES:
            reachable = sens[fa <= rate + 1e-12]
            at[rate] = float(reachable.max()) if reachable.size else 0.0
        return Froc(fa, sens, float(np.mean(list(at.values()))), at)

    def ap50_resampler(self, cat_id: int) -> _Ap50Resampler:
        """Callable giving AP50 of ``cat_id`` over a resample of image ids."""
        return _Ap50Resampler(self._ev, self.image_ids, self._eval_imgs(cat_id), cat_id)


class _Ap50Resampler:
    """AP50 of one category on resampled images, by pycocotools' own ``accumulate``.

    Re-running ``accumulate`` on the per-image matches of the drawn images (duplicates
    included) equals a full COCO evaluation of the resampled set with duplicates renamed.
    """

    def __init__(
        self,
        ev: COCOeval,
        image_ids: list[int],
        per_image: list[dict[str, Any] | None],
        cat_id: int,
    ):
        self._position = {image_id: i for i, image_id in enumerate(image_ids)}
        self._per_image = [
            None
            if e is None
            else {
                **e,
                "dtMatches": e["dtMatches"][:1],
                "dtIgnore": e["dtIgnore"][:1],
                "gtMatches": e["gtMatches"][:1],
            }
            for e in per_image
        ]
        params = copy.deepcopy(ev.params)
        params.catIds = [cat_id]
        params.iouThrs = np.array([0.5])
        self._params = params

    def __call__(self, image_ids: Sequence[int]) -> float | None:
        """AP50 over the drawn images ``image_ids`` (length n, repeats allowed)."""
        ev = COCOeval(iouType="bbox")
        params = copy.copy(self._params)
        params.imgIds = list(range(len(image_ids)))
        ev.params = params
        ev._paramsEval = params
        ev.evalImgs = [self._per_image[self._position[i]] for i in image_ids]
        with _quiet():
            ev.accumulate()
        return _mean_valid(ev.eval["precision"][0, :, 0, 0, 0])
