"""Write simulated scans as DICOM files in random vendor encodings plus COCO ``annotations.json``.

Per-scan randomness comes from ``np.random.SeedSequence(seed).spawn(n)``, so a dataset is the same
file for file whatever ``jobs`` is; UIDs, patient ids and dates are derived from the seed.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from scanner.scan import ScanMetadata
from scanner.simulate.enums import CATEGORY_IDS, Category
from scanner.simulate.errors import ConfigError
from scanner.simulate.simulator import SimConfig, SimObject, SimulatedScan, simulate_scan
from scanner.simulate.spectrum import make_beam

__all__ = ["MANUFACTURERS", "coco_annotations", "coco_categories", "simulate_dataset", "write_scan"]

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())

#: Fictitious vendor names and models written to Manufacturer / Manufacturer's Model Name.
MANUFACTURERS: tuple[tuple[str, str], ...] = (
    ("Northgate Imaging", "BodyTrace T9"),
    ("Aurora Security Systems", "ClearPass 300"),
    ("Kestrel Scan", "K-Line Full Body"),
    ("Meridian X-Ray", "Sentinel TX-2"),
    ("Halden Detection", "HD-Transit"),
    ("Osprey Medical Security", "OS-Portal 160"),
)
_EPOCH = dt.datetime(2025, 1, 1, 8, 0, 0)


def coco_categories() -> list[dict[str, Any]]:
    """COCO ``categories`` with the fixed ids (phone=1 … drug_package=6)."""
    return [
        {"id": CATEGORY_IDS[c], "name": c.value, "supercategory": "contraband"} for c in Category
    ]


@dataclass(frozen=True)
class _Task:
    index: int
    seed: int
    seq: np.random.SeedSequence
    out_dir: str
    config: SimConfig
    file_name: str


def _uid(seed: int, index: int, role: str) -> str:
    from pydicom.uid import generate_uid

    return str(generate_uid(entropy_srcs=["scanguard-sim", str(seed), str(index), role]))


def write_scan(
    scan: SimulatedScan,
    path: str | os.PathLike[str],
    rng: np.random.Generator,
    *,
    seed: int = 0,
    index: int = 0,
    encoding: Any = None,
) -> dict[str, Any]:
    """Write one simulated scan as DICOM and return its COCO image entry (without ``id``).

    Parameters
    ----------
    scan : SimulatedScan
    path : path
        Output file.
    rng : numpy.random.Generator
        Draws the encoding and the vendor.
    seed, index : int
        Make the UIDs, patient id and acquisition time.
    encoding : scanner.encoding.Encoding or str, optional
        Fixed encoding (object or preset name); random when omitted.

    Returns
    -------
    dict
        ``file_name``, ``width``, ``height``, ``has_phone``, ``kvp``, ``pitch_mm``, ``dose_uGy``,
        ``encoding``, ``manufacturer`` and the other acquisition parameters.
    """
    from scanner import encoding as enc_mod

    enc = enc_mod.random_encoding(rng) if encoding is None else encoding
    if isinstance(enc, str):
        if enc not in enc_mod.ENCODINGS:
            raise ConfigError(f"unknown encoding {enc!r}; use one of {sorted(enc_mod.ENCODINGS)}")
        enc = enc_mod.ENCODINGS[enc]
    vendor, model = MANUFACTURERS[int(rng.integers(len(MANUFACTURERS)))]
    acq = scan.acquisition
    when = _EPOCH + dt.timedelta(days=seed % 997, minutes=7 * index)
    meta = ScanMetadata(
        sop_instance_uid=_uid(seed, index, "instance"),
        study_instance_uid=_uid(seed, index, "study"),
        series_instance_uid=_uid(seed, index, "series"),
        patient_id=f"SIM{seed % 100000:05d}-{index:06d}",
        patient_name=f"SIMULATED^{index:06d}",
        station_name="SIM",
        institution_name="ScanGuard simulator",
        device_serial_number=f"SN{int(rng.integers(100_000, 1_000_000))}",
        manufacturer=vendor,
        manufacturer_model_name=model,
        kvp=round(acq.kvp, 1),
        acquisition_datetime=when,
    )
    ds = enc_mod.encode_dicom(scan.transmission, scan.spacing, enc, meta)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    rows, cols = scan.shape
    return {
        "file_name": path.name,
        "width": cols,
        "height": rows,
        "has_phone": scan.has_phone,
        "kvp": round(acq.kvp, 2),
        "pitch_mm": [round(acq.pitch_mm[0], 4), round(acq.pitch_mm[1], 4)],
        "dose_uGy": round(acq.dose_ugy, 4),
        "encoding": enc.describe(),
        "spacing_tag": str(enc.spacing_tag),
        "manufacturer": vendor,
        "al_mm": round(acq.al_mm, 3),
        "cu_mm": round(acq.cu_mm, 3),
        "detector": acq.detector.value,
        "detector_mm": round(acq.detector_mm, 3),
        "sex": scan.body.sex.value,
        "pose": scan.body.pose.value,
        "height_mm": round(scan.body.height, 1),
        "distractors": [{"kind": d.kind, "bbox": d.bbox} for d in scan.distractors],
        "sop_instance_uid": meta.sop_instance_uid,
    }


def coco_annotations(scan: SimulatedScan) -> list[dict[str, Any]]:
    """COCO annotations (without ``id``/``image_id``) of a scan's contraband."""
    return [object_annotation(obj) for obj in scan.objects]


def object_annotation(obj: SimObject) -> dict[str, Any]:
    """COCO annotation (without ``id``/``image_id``) of one simulated object."""
    x, y, w, h = obj.bbox
    return {
        "category_id": CATEGORY_IDS[Category(obj.category)],
        "bbox": [x, y, w, h],
        "area": round(w * h, 2),
        "iscrowd": 0,
        "kind": obj.kind,
        "concealment": obj.concealment,
        "location": obj.location,
        "angle_deg": round(obj.angle_deg, 1),
        "tilt_deg": round(obj.tilt_deg, 1),
    }


def _config_dict(cfg: SimConfig) -> dict[str, Any]:
    """JSON-ready ``SimConfig`` (enums as their values)."""

    def plain(v: Any) -> Any:
        if isinstance(v, tuple):
            return [plain(x) for x in v]
        return v.value if hasattr(v, "value") else v

    return {f.name: plain(getattr(cfg, f.name)) for f in fields(cfg)}


def _run(task: _Task) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    sim_seq, enc_seq = task.seq.spawn(2)
    scan = simulate_scan(np.random.default_rng(sim_seq), task.config)
    image = write_scan(
        scan,
        Path(task.out_dir) / task.file_name,
        np.random.default_rng(enc_seq),
        seed=task.seed,
        index=task.index,
    )
    return image, coco_annotations(scan)


def _results(
    tasks: list[_Task], jobs: int
) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    if jobs <= 1:
        for t in tasks:
            yield _run(t)
        return
    # spectra are slow to compute: fill the cache once here, forked workers inherit it
    kvps = [tasks[0].config.kvp] if tasks[0].config.kvp is not None else range(100, 165, 5)
    for kvp in kvps:
        make_beam(float(kvp))
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        yield from pool.map(_run, tasks, chunksize=1)


def simulate_dataset(
    n: int,
    seed: int,
    out_dir: str | os.PathLike[str],
    jobs: int = 1,
    positive_fraction: float = 0.5,
    config: SimConfig | None = None,
    progress: bool = False,
) -> Path:
    """Simulate ``n`` scans into ``out_dir`` as ``scan_000000.dcm``… plus ``annotations.json``.

    Parameters
    ----------
    n : int
        Number of scans, ``>= 1``.
    seed : int
        Dataset seed; the same seed gives identical files.
    out_dir : path
        Created if missing.
    jobs : int
        Worker processes (1: in this process).
    positive_fraction : float
        Share of scans with a phone (unless ``config.has_phone`` fixes it).
    config : SimConfig, optional
        Base configuration (its ``positive_fraction`` is replaced by the argument).
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    pathlib.Path
        The written ``annotations.json``.
    """
    if n < 1:
        raise ConfigError(f"n={n}: ask for at least one scan")
    if jobs < 1:
        raise ConfigError(f"jobs={jobs}: use 1 or more worker processes")
    if seed < 0:
        raise ConfigError(f"seed={seed}: use a non-negative integer")
    cfg = replace(config or SimConfig(), positive_fraction=positive_fraction)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    seqs = np.random.SeedSequence(seed).spawn(n)
    tasks = [_Task(i, seed, s, str(out), cfg, f"scan_{i:06d}.dcm") for i, s in enumerate(seqs)]
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    results = _results(tasks, jobs)
    if progress:
        from tqdm import tqdm

        results = tqdm(results, total=n, unit="scan", desc="simulate")
    for i, (image, anns) in enumerate(results):
        images.append({"id": i + 1, **image})
        for ann in anns:
            annotations.append({"id": len(annotations) + 1, "image_id": i + 1, **ann})
    coco = {
        "info": {
            "description": "ScanGuard simulated full-body transmission scans",
            "version": "1",
            "seed": seed,
            "n": n,
            "positive_fraction": positive_fraction,
            "config": _config_dict(cfg),
        },
        "licenses": [],
        "categories": coco_categories(),
        "images": images,
        "annotations": annotations,
    }
    path = out / "annotations.json"
    path.write_text(json.dumps(coco, indent=1))
    logger.info("wrote %d scans and %d annotations to %s", n, len(annotations), out)
    return path
