"""Fixtures of the bench tests: a tiny annotated DICOM set with a planned detector.

The set (64x48 scans, categories phone=1, blade=2) and what the fake detector reports:

====  ========  =================================  =========================================
scan  site      ground truth                       planned findings (score = scan score)
====  ========  =================================  =========================================
s1    A         phone [10,10,10,20] clothing       phone 0.9 [10,12,10,20] (IoU 180/220=0.818)
s2    B         phone [5,5,10,10] internal         phone 0.5 [12,5,10,10] (IoU 30/170, miss)
s3    A         phone [20,20,10,10] clothing,      phone 0.7 exact, blade 0.8 exact
                blade [30,5,8,8] clothing
s4    A         (negative)                         phone 0.65 [5,40,10,10]
s5    B         (negative)                         nothing, score 0
s6    B         (negative)                         phone 0.3 [5,40,10,10]
s7    A         phone [1,1,5,5]  -- file missing   --
s8    B         (negative) -- file is garbage      --
====  ========  =================================  =========================================
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.validation import fakes

IMAGES: list[dict[str, Any]] = [
    {"id": 1, "file_name": "s1.dcm", "ref": "R1", "site": "A", "kvp": 140.0},
    {"id": 2, "file_name": "s2.dcm", "ref": "R2", "site": "B", "kvp": 120.0},
    {"id": 3, "file_name": "s3.dcm", "ref": "R3", "site": "A", "kvp": 140.0},
    {"id": 4, "file_name": "s4.dcm", "ref": "R4", "site": "A", "kvp": 140.0},
    {"id": 5, "file_name": "s5.dcm", "ref": "R5", "site": "B", "kvp": 120.0},
    {"id": 6, "file_name": "s6.dcm", "ref": "R6", "site": "B", "kvp": 120.0},
    {"id": 7, "file_name": "s7.dcm", "ref": "R7", "site": "A", "kvp": 140.0},
    {"id": 8, "file_name": "s8.dcm", "ref": "R8", "site": "B", "kvp": 120.0},
]
ANNOTATIONS: list[dict[str, Any]] = [
    {"image_id": 1, "category_id": 1, "bbox": [10, 10, 10, 20], "concealment": "clothing"},
    {"image_id": 2, "category_id": 1, "bbox": [5, 5, 10, 10], "concealment": "internal"},
    {"image_id": 3, "category_id": 1, "bbox": [20, 20, 10, 10], "concealment": "clothing"},
    {
        "image_id": 3,
        "category_id": 2,
        "bbox": [30, 5, 8, 8],
        "attributes": {"concealment": "clothing"},
    },
    {"image_id": 7, "category_id": 1, "bbox": [1, 1, 5, 5], "concealment": "internal"},
]
PLAN = {
    "s1.dcm": fakes.Planned(0.9, [("phone", 0.9, (10, 12, 10, 20))]),
    "s2.dcm": fakes.Planned(0.5, [("phone", 0.5, (12, 5, 10, 10))]),
    "s3.dcm": fakes.Planned(0.7, [("phone", 0.7, (20, 20, 10, 10)), ("blade", 0.8, (30, 5, 8, 8))]),
    "s4.dcm": fakes.Planned(0.65, [("phone", 0.65, (5, 40, 10, 10))]),
    "s5.dcm": fakes.Planned(0.0, []),
    "s6.dcm": fakes.Planned(0.3, [("phone", 0.3, (5, 40, 10, 10))]),
}


def _by_uid(uids: dict[str, str], plan: dict[str, fakes.Planned]) -> dict[str, fakes.Planned]:
    return {uids[name]: p for name, p in plan.items() if name in uids}


@pytest.fixture(scope="session")
def tiny_set(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The table's set on disk (s7 missing, s8 garbage); returns (folder, file name -> UID)."""
    root = tmp_path_factory.mktemp("tiny_set")
    uids = fakes.write_set(root, IMAGES, ANNOTATIONS, missing=["s7.dcm"], corrupt=["s8.dcm"])
    return root, uids


@pytest.fixture(scope="session")
def planned_detector(tiny_set: tuple[Path, dict[str, str]]) -> fakes.TableDetector:
    """Fake detector answering the table's findings."""
    return fakes.TableDetector(_by_uid(tiny_set[1], PLAN))


@pytest.fixture(scope="session")
def perfect_detector(tiny_set: tuple[Path, dict[str, str]]) -> fakes.TableDetector:
    """Fake detector reporting every ground-truth box at confidence 1 and no false positive."""
    plan: dict[str, fakes.Planned] = {}
    for im in IMAGES:
        boxes: list[fakes.Box] = []
        for a in ANNOTATIONS:
            if a["image_id"] == im["id"]:
                x, y, w, h = a["bbox"]
                boxes.append(("phone" if a["category_id"] == 1 else "blade", 1.0, (x, y, w, h)))
        has_phone = any(b[0] == "phone" for b in boxes)
        plan[str(im["file_name"])] = fakes.Planned(1.0 if has_phone else 0.0, boxes)
    return fakes.TableDetector(_by_uid(tiny_set[1], plan))
