"""Where the phone detector fails on a held-out set.

Two questions decide what to change next: does the network find a phone at all (any heatmap peak
matching it, whatever its score), and what are the other things it calls a phone? The first
separates phones the network never sees from phones it ranks too low; the second names the
objects that outrank them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from detect.postprocess import box_iou
from models.training.classes import CLASSES

if TYPE_CHECKING:
    from models.training.evaluate import ScanPrediction

__all__ = ["NO_OBJECT", "PHONE_BOX", "phone_failures"]

#: Overlap (IoU) with an annotated object that attributes a false phone finding to it.
OVERLAP_IOU = 0.1
#: Group of false phone findings on a phone that another peak already matched, or badly boxed.
PHONE_BOX = "phone (second peak or box off)"
#: Group of false phone findings on no annotated object (body, clutter, noise).
NO_OBJECT = "no annotated object"


def phone_failures(
    preds: Sequence[ScanPrediction],
    conf: Sequence[NDArray[np.float64]],
    level: float,
    classes: Sequence[str] = CLASSES,
) -> dict[str, Any]:
    """Phones without any peak, and false phone findings by what they lie on.

    Parameters
    ----------
    preds : sequence of ScanPrediction
        Matched predictions of the held-out scans (:func:`models.training.evaluate.match_peaks`).
    conf : sequence of ndarray, shape (K_i,)
        Calibrated confidence of each scan's peaks.
    level : float
        Confidence from which an unmatched phone peak counts as a false finding (the level
        from which findings are reported to the officer).
    classes : sequence of str
        Class names by label.

    Returns
    -------
    dict
        ``phones`` (annotated phones), ``with_peak`` (phones matched by a phone peak of any
        score), ``without_peak_by_kind`` and ``without_peak_by_location`` (counts),
        ``false_findings_level`` and ``false_findings`` (unmatched phone peaks with confidence
        >= level, counted by the annotated object they overlap most: a class name,
        :data:`PHONE_BOX` or :data:`NO_OBJECT`).
    """
    phones = with_peak = 0
    by_kind: Counter[str] = Counter()
    by_location: Counter[str] = Counter()
    false: Counter[str] = Counter()
    for p, c in zip(preds, conf, strict=True):
        for j in np.nonzero(p.gt_labels == 0)[0]:
            phones += 1
            if p.gt_hit_by[j] >= 0:
                with_peak += 1
                continue
            obj = p.objects[j] if j < len(p.objects) else {}
            by_kind[str(obj.get("kind"))] += 1
            by_location[str(obj.get("location"))] += 1
        for i in np.nonzero((p.labels == 0) & ~p.matched & (c >= level))[0]:
            false[_lies_on(p, int(i), classes)] += 1
    return {
        "phones": phones,
        "with_peak": with_peak,
        "without_peak_by_kind": dict(by_kind.most_common()),
        "without_peak_by_location": dict(by_location.most_common()),
        "false_findings_level": level,
        "false_findings": dict(false.most_common()),
    }


def _lies_on(p: ScanPrediction, i: int, classes: Sequence[str]) -> str:
    if len(p.gt_boxes) == 0:
        return NO_OBJECT
    ious = box_iou(p.boxes[i], p.gt_boxes)
    j = int(np.argmax(ious))
    if ious[j] < OVERLAP_IOU:
        return NO_OBJECT
    return PHONE_BOX if p.gt_labels[j] == 0 else classes[int(p.gt_labels[j])]
