"""Wall time of ``scanguard bench`` on a set of full-body scans (default 300 on 2 workers).

Simulates ``--unique`` full-body scans with ``scanner.simulate`` (DICOM + COCO annotations with
per-image and per-box attributes), links them to ``--n`` file names (the per-scan work does not
depend on the content, and linking keeps the set small on disk), and runs
``validation.run_bench`` with ``--jobs`` workers. Uses the shipped model when present, otherwise an
untrained network of the shipped architecture (same compute).

Usage::

    .venv/bin/python benchmarks/bench_speed.py [--n 300] [--unique 12] [--jobs 2]
        [--data DIR] [--model PATH] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from models import DEFAULT_MANIFEST_PATH, DEFAULT_MODEL_PATH  # noqa: E402
from validation import run_bench  # noqa: E402

logger = logging.getLogger("benchmarks.bench_speed")


def _simulate_set(folder: Path, n: int, unique: int, seed: int) -> None:
    """Write ``unique`` simulated scans, ``n`` linked file names and ``annotations.json``."""
    from scanner.encoding import encode_dicom
    from scanner.simulate import CATEGORY_IDS, simulate_scan

    folder.mkdir(parents=True, exist_ok=True)
    ids = {cat.value: cid for cat, cid in CATEGORY_IDS.items()}
    base: list[tuple[str, dict[str, Any], list[dict[str, Any]]]] = []
    for k in range(unique):
        sim = simulate_scan(seed + k)
        name = f"unique_{k:03d}.dcm"
        ds = encode_dicom(sim.transmission, sim.spacing, "lin-mono2-16")
        ds.save_as(folder / name, enforce_file_format=True)
        attrs = {
            "sex": sim.body.sex.value,
            "pose": sim.body.pose.value,
            "kvp_band": "<=120" if sim.acquisition.kvp <= 120 else ">120",
        }
        boxes = [
            {
                "category_id": ids[o.category],
                "bbox": [float(v) for v in o.bbox],
                "kind": o.kind,
                "concealment": o.concealment,
                "location": o.location,
            }
            for o in sim.objects
        ]
        base.append((name, attrs, boxes))
        logger.info("simulated %s: %d objects", name, len(boxes))
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for i in range(n):
        src, attrs, boxes = base[i % unique]
        name = f"scan_{i:04d}.dcm"
        target = folder / name
        if not target.exists():
            os.link(folder / src, target)
        images.append({"id": i + 1, "file_name": name, **attrs})
        for b in boxes:
            annotations.append({"id": len(annotations) + 1, "image_id": i + 1, **b})
    categories = [{"id": cid, "name": cat.value} for cat, cid in CATEGORY_IDS.items()]
    doc = {"images": images, "annotations": annotations, "categories": categories}
    (folder / "annotations.json").write_text(json.dumps(doc), encoding="utf-8")


def _standin_model(folder: Path) -> Path:
    """Export an untrained CenterNet of the shipped architecture with its manifest."""
    import torch

    from models.manifest import Manifest
    from models.training.export import export_onnx
    from models.training.network import CenterNet

    torch.manual_seed(0)
    path = folder / "standin.onnx"
    export_onnx(CenterNet().eval(), path)
    classes = ["phone", "power_bank", "battery", "sim_card", "blade", "drug_package"]
    manifest = Manifest(
        name="untrained-standin", version="0", file=path.name, sha256="0" * 64, classes=classes
    ).with_model(path)
    manifest.save(folder / "manifest.json")
    return path


def main(argv: list[str] | None = None) -> int:
    """Build (or reuse) the set, run the bench, print and optionally save the timing."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="scans in the set")
    parser.add_argument("--unique", type=int, default=12, help="distinct simulated scans")
    parser.add_argument("--jobs", type=int, default=2, help="bench worker processes")
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--data", type=Path, default=None, help="keep/reuse the set here")
    parser.add_argument("--model", type=Path, default=None, help="ONNX model with manifest.json")
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--json", type=Path, default=None, help="also write the timing here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    with tempfile.TemporaryDirectory() as tmp:
        data = args.data or Path(tmp) / "set"
        if not (data / "annotations.json").is_file():
            t0 = time.perf_counter()
            _simulate_set(data, args.n, args.unique, args.seed)
            logger.info("set written in %.1f s", time.perf_counter() - t0)
        if args.model is not None:
            model, note = args.model, f"given model {args.model}"
        elif DEFAULT_MODEL_PATH.exists() and DEFAULT_MANIFEST_PATH.exists():
            model, note = DEFAULT_MODEL_PATH, "shipped model"
        else:
            model = _standin_model(Path(tmp))
            note = "UNTRAINED stand-in of the shipped architecture (no shipped model yet)"
        t0 = time.perf_counter()
        result = run_bench(
            data, out_dir=Path(tmp) / "out", jobs=args.jobs, model=model, n_boot=args.bootstrap
        )
        wall = time.perf_counter() - t0
        r = result.report
    timing = {
        "model": note,
        "n_scans": r["n_scans"],
        "jobs": args.jobs,
        "cpu_count": os.cpu_count(),
        "wall_s": round(wall, 2),
        "detect_wall_s": round(r["run"]["wall_time_s"], 2),
        "scans_per_s": round(r["n_scans"] / wall, 2),
        "latency_ms": r["latency_ms"],
        "n_failed": r["n_failed"],
    }
    print(json.dumps(timing, indent=2))
    if args.json is not None:
        args.json.write_text(json.dumps(timing, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
