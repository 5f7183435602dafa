"""The bench with the shipped model (no injected detector) on the shipped sample scans.

Needs ``models/phone_detector.onnx`` + ``models/manifest.json`` and ``sample_scans/``; fails,
not skips, when either is missing.
"""

from __future__ import annotations

import json
from pathlib import Path

from models import DEFAULT_MANIFEST_PATH, Manifest
from scanner import samples
from validation import run_bench


def test_shipped_model_on_sample_scans(tmp_path: Path) -> None:
    """Every sample is scored by the shipped model; identity and outputs are consistent."""
    manifest = Manifest.load(DEFAULT_MANIFEST_PATH)
    result = run_bench(samples.samples_dir(), out_dir=tmp_path, n_boot=0, progress=False)
    r = result.report
    assert r["n_scans"] == len(samples.list_samples()) and r["n_failed"] == 0
    assert r["model"] == {
        "name": manifest.name,
        "version": manifest.version,
        "sha256": manifest.sha256,
    }
    assert r["detection"]["phone"]["n_gt"] > 0
    assert r["detection"]["phone"]["ap50"] > 0.0  # phones are found at IoU 0.5
    preds = json.loads((tmp_path / "predictions.json").read_text())
    phone_id = next(
        c["id"] for c in samples.load_annotations()["categories"] if c["name"] == "phone"
    )
    assert sum(p["category_id"] == phone_id for p in preds) == r["detection"]["phone"]["n_pred"]
    scans = json.loads((tmp_path / "scans.json").read_text())
    assert {s["decision"] for s in scans} <= {"ALARM", "CLEAR", "INCONCLUSIVE"}
