"""The shipped model on the shipped sample scans: phones found, no alarm on the clean scan.

These tests need ``models/phone_detector.onnx`` + ``models/manifest.json`` and the sample scans
(``scanner.samples``); they fail, not skip, when either is missing.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from detect import Decision, Detector, Result, load_detector
from detect.postprocess import box_iou

MIN_IOU = 0.5


@lru_cache(maxsize=1)
def _detector() -> Detector:
    return load_detector()


@lru_cache(maxsize=1)
def _coco() -> dict[str, Any]:
    from scanner import samples

    names = samples.list_samples()
    folder = Path(samples.sample_path(names[0])).parent
    data: dict[str, Any] = json.loads((folder / "annotations.json").read_text())
    return data


def _phone_boxes() -> dict[str, list[list[float]]]:
    """Phone ground-truth boxes per sample file name (clean samples map to [])."""
    coco = _coco()
    phone_ids = {c["id"] for c in coco["categories"] if c["name"] == "phone"}
    boxes: dict[str, list[list[float]]] = {im["file_name"]: [] for im in coco["images"]}
    names = {im["id"]: im["file_name"] for im in coco["images"]}
    for ann in coco["annotations"]:
        if ann["category_id"] in phone_ids:
            boxes[names[ann["image_id"]]].append([float(v) for v in ann["bbox"]])
    return boxes


def _any_annotation() -> set[str]:
    coco = _coco()
    names = {im["id"]: im["file_name"] for im in coco["images"]}
    return {names[a["image_id"]] for a in coco["annotations"]}


def _detect(file_name: str) -> Result:
    from scanner import samples

    return _detector().detect_source(Path(samples.sample_path(Path(file_name).name)))


def test_samples_include_phones_and_a_clean_scan() -> None:
    """The sample set has phone-bearing scans and at least one scan with no object at all."""
    boxes = _phone_boxes()
    assert any(boxes.values()), "no sample scan is annotated with a phone"
    assert set(boxes) - _any_annotation(), "no clean sample scan (without annotations)"


def test_shipped_model_finds_sample_phones() -> None:
    """Every annotated phone in the samples is matched by a phone finding with IoU >= 0.5."""
    misses = []
    for name, truth in _phone_boxes().items():
        if not truth:
            continue
        result = _detect(name)
        found = np.array([f.bbox_px for f in result.findings if f.label == "phone"], float)
        for box in truth:
            best = float(box_iou(np.asarray(box), found).max()) if len(found) else 0.0
            if best < MIN_IOU:
                misses.append(f"{name}: phone {box} best IoU {best:.2f} ({result.decision.value})")
    assert not misses, "missed phones:\n" + "\n".join(misses)


def test_shipped_model_clears_clean_sample() -> None:
    """No clean sample scan raises an alarm."""
    clean = sorted(set(_phone_boxes()) - _any_annotation())
    assert clean
    alarms = [n for n in clean if _detect(n).decision is Decision.ALARM]
    assert not alarms, f"alarm on clean sample(s): {alarms}"
