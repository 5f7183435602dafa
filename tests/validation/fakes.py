"""Test doubles for the bench: table-driven detectors and a writer of tiny DICOM scan sets."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from detect.result import (
    BodyZone,
    Decision,
    Finding,
    ImageInfo,
    ModelIdentity,
    Result,
    StageTimings,
)
from scanner.encoding import encode_dicom
from scanner.scan import Scan, ScanMetadata

ROWS, COLS = 64, 48
SPACING = (2.0, 2.0)
ALARM, CLEAR_BELOW = 0.6, 0.25

#: (label, confidence, [x, y, w, h]) of one finding.
Box = tuple[str, float, tuple[float, float, float, float]]


@dataclass(frozen=True)
class Planned:
    """What the fake detector answers for one scan (keyed by SOP Instance UID)."""

    score: float
    findings: Sequence[Box] = ()
    fail: bool = False


def decision_for(score: float) -> Decision:
    """The contract's decision rule with the default thresholds."""
    if score >= ALARM:
        return Decision.ALARM
    if score < CLEAR_BELOW:
        return Decision.CLEAR
    return Decision.INCONCLUSIVE


@dataclass
class TableDetector:
    """SupportsDetect double answering from a table keyed by the scan's SOP Instance UID."""

    table: Mapping[str, Planned]
    default: Planned = field(default_factory=lambda: Planned(0.0))

    @property
    def identity(self) -> ModelIdentity:
        """A fixed identity."""
        return ModelIdentity(name="table-fake", version="0.0.1", sha256="0" * 64)

    def detect(self, scan: Scan, *, decode_ms: float = 0.0) -> Result:
        """Return the planned result of this scan."""
        plan = self.table.get(scan.metadata.sop_instance_uid or "", self.default)
        if plan.fail:
            raise RuntimeError("planned failure")
        sy, sx = scan.spacing
        findings = [
            Finding(
                label=label,
                confidence=conf,
                bbox_px=bbox,
                bbox_mm=(bbox[0] * sx, bbox[1] * sy, bbox[2] * sx, bbox[3] * sy),
                zone=BodyZone.ABDOMEN,
            )
            for label, conf, bbox in plan.findings
        ]
        return Result(
            decision=decision_for(plan.score),
            scan_score=plan.score,
            findings=findings,
            model=self.identity,
            timings=StageTimings(decode_ms=decode_ms, preprocess_ms=1.0, infer_ms=2.0),
            image=ImageInfo(
                rows=scan.shape[0],
                cols=scan.shape[1],
                spacing_mm=scan.spacing,
                spacing_source="PixelSpacing",
            ),
            sop_instance_uid=scan.metadata.sop_instance_uid,
        )


def uid_for(name: str) -> str:
    """A stable SOP Instance UID per scan name."""
    return "1.2.826.0.1.3680043.10.1234." + str(
        sum(ord(c) * 31**i for i, c in enumerate(name)) % 10**12
    )


def write_scan(path: Path, name: str, seed: int = 0) -> str:
    """Write a 64x48 DICOM scan at ``path``; returns its SOP Instance UID."""
    rng = np.random.default_rng(seed)
    transmission = np.clip(0.5 + 0.05 * rng.standard_normal((ROWS, COLS)), 0.05, 1.0)
    uid = uid_for(name)
    ds = encode_dicom(
        transmission.astype(np.float32), SPACING, "lin-mono2-16", ScanMetadata(sop_instance_uid=uid)
    )
    ds.save_as(path)
    return uid


def write_set(
    root: Path,
    images: Sequence[Mapping[str, Any]],
    annotations: Sequence[Mapping[str, Any]],
    categories: Sequence[str] = ("phone", "blade"),
    *,
    missing: Sequence[str] = (),
    corrupt: Sequence[str] = (),
) -> dict[str, str]:
    """Write a COCO set: scans for every image except ``missing``, garbage for ``corrupt``.

    Returns file name -> SOP Instance UID.
    """
    root.mkdir(parents=True, exist_ok=True)
    uids: dict[str, str] = {}
    for i, im in enumerate(images):
        name = im["file_name"]
        if name in missing:
            continue
        if name in corrupt:
            (root / name).write_bytes(b"this is not a scan" * 10)
            continue
        uids[name] = write_scan(root / name, name, seed=i)
    doc = {
        "images": [{"width": COLS, "height": ROWS, **im} for im in images],
        "annotations": [{"id": i + 1, "iscrowd": 0, **a} for i, a in enumerate(annotations)],
        "categories": [{"id": i + 1, "name": n} for i, n in enumerate(categories)],
    }
    (root / "annotations.json").write_text(json.dumps(doc), encoding="utf-8")
    return uids
