"""How well a file's missing intensity relationship and sign are read from the image.

Simulates full-body scans (half with a phone), writes each through a random vendor encoding
(``scanner.encoding.random_encoding``: LIN or LOG, either sign, MONOCHROME1 or 2, 12-16 bits,
any transfer syntax) and removes Pixel Intensity Relationship (0028,1040) and its Sign
(0028,1041), as many CR and Secondary Capture files do. Each file is read twice with
``scanner.read_scan``: as the reader does now (the two values read from the image,
``scanner.intensity``) and with the photometric rule alone (LOG; sign from the Photometric
Interpretation), the fallback for images without air at their edges. Reports, side by side,
how often each way gets the relationship and sign right, how often the attenuation image comes
out right (median error below 0.02), the shipped detector's scan-level detection and false-alarm
rates on both readings, and how often the reading contradicts the tags of the intact file
(should be never). Intervals are 95 % Wilson intervals.

Usage::

    .venv/bin/python benchmarks/intensity_reading.py [--n 200] [--seed 8200000] [--json OUT]
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
# The project root first: this folder holds scripts whose names shadow packages (kernels.py).
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != ROOT)]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from detect import Detector  # noqa: E402
from scanner import Validation, read_scan  # noqa: E402
from scanner.encoding import encode_dicom, random_encoding  # noqa: E402
from scanner.intensity import read_intensity  # noqa: E402
from scanner.simulate import SimConfig, simulate_scan  # noqa: E402

_spec = importlib.util.spec_from_file_location(
    "spacing_estimate", Path(__file__).with_name("spacing_estimate.py")
)
assert _spec is not None and _spec.loader is not None
_spacing_estimate = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_spacing_estimate)
wilson = _spacing_estimate.wilson

#: The two ways a file without (0028,1040/1041) is read.
WAYS = ("read from the image", "photometric rule")
#: Median absolute attenuation error below which an image counts as read right.
RIGHT_BELOW = 0.02


def _bytes(ds: Any) -> bytes:
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def _read(data: bytes, way: str) -> Any:
    if way == "photometric rule":
        with mock.patch("scanner._dicom.read_intensity", return_value=None):
            return read_scan(data, validation=Validation.IGNORE)
    return read_scan(data, validation=Validation.IGNORE)


def measure(n: int, seed: int, detector: Detector) -> list[dict[str, Any]]:
    """One row per scan: the encoding, each way's reading, error and decision."""
    rows = []
    for i in tqdm(range(n), desc="scans", mininterval=5.0):
        phone = i % 2 == 0
        sim = simulate_scan(seed + i, SimConfig(has_phone=phone))
        truth = -np.log(np.clip(sim.transmission.astype(np.float64), 1e-6, None))
        enc = random_encoding(np.random.default_rng(seed + i))
        ds = encode_dicom(sim.transmission, sim.spacing, enc)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            read_scan(_bytes(ds), validation=Validation.WARN)
        contradicted = any("but the image" in str(w.message) for w in caught)
        del ds.PixelIntensityRelationship
        del ds.PixelIntensityRelationshipSign
        data = _bytes(ds)
        row: dict[str, Any] = {
            "phone": phone,
            "encoding": enc.describe(),
            "truth": [str(enc.relationship), enc.sign],
            "contradicted": contradicted,
        }
        for way in WAYS:
            scan = _read(data, way)
            norm = scan.normalisation
            err = float(np.median(np.abs(scan.image.astype(np.float64) - truth)))
            row[way] = {
                "read": [norm.pixel_intensity_relationship, norm.pixel_intensity_relationship_sign],
                "error": err,
                "decision": detector.detect(scan).decision.value,
            }
        t0 = time.perf_counter()
        read_intensity(scan.image)
        row["reading_ms"] = (time.perf_counter() - t0) * 1000
        rows.append(row)
    return rows


def report(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Print and return each way's accuracy and detection rates."""
    out: dict[str, Any] = {"n_scans": len(rows), "ways": {}}
    n = len(rows)
    print(f"{n} files without (0028,1040/1041), random vendor encodings")
    for way in WAYS:
        right = sum(r[way]["read"] == r["truth"] for r in rows)
        image_ok = sum(r[way]["error"] < RIGHT_BELOW for r in rows)
        pos = [r[way]["decision"] == "ALARM" for r in rows if r["phone"]]
        neg = [r[way]["decision"] == "ALARM" for r in rows if not r["phone"]]
        pd, pfa = sum(pos) / max(1, len(pos)), sum(neg) / max(1, len(neg))
        figures = {
            "relationship_and_sign_right": right / n,
            "relationship_and_sign_right_ci95": wilson(right, n),
            "image_right": image_ok / n,
            "pd": pd,
            "pd_ci95": wilson(sum(pos), len(pos)),
            "pfa": pfa,
            "pfa_ci95": wilson(sum(neg), len(neg)),
        }
        out["ways"][way] = figures
        lo, hi = figures["relationship_and_sign_right_ci95"]
        lo_d, hi_d = figures["pd_ci95"]
        lo_f, hi_f = figures["pfa_ci95"]
        print(
            f"  {way:<20} LIN/LOG and sign right {right / n:.2f} [{lo:.2f}, {hi:.2f}]  "
            f"image right {image_ok / n:.2f}  Pd {pd:.2f} [{lo_d:.2f}, {hi_d:.2f}] "
            f"(n={len(pos)})  Pfa {pfa:.2f} [{lo_f:.2f}, {hi_f:.2f}] (n={len(neg)})"
        )
    contradicted = sum(r["contradicted"] for r in rows)
    out["intact_files_contradicted"] = contradicted
    print(f"intact files (tags kept) whose image contradicts the tags: {contradicted} of {n}")
    ms = np.asarray([r["reading_ms"] for r in rows])
    out["reading_ms"] = {"p50": float(np.median(ms)), "p95": float(np.percentile(ms, 95))}
    print(f"reading time: p50 {np.median(ms):.1f} ms, p95 {np.percentile(ms, 95):.1f} ms")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="scans (half with a phone)")
    parser.add_argument(
        "--seed", type=int, default=8_200_000, help="first simulator seed (outside training)"
    )
    parser.add_argument("--threads", type=int, default=2, help="onnxruntime threads")
    parser.add_argument("--json", type=Path, help="also write the figures and rows here")
    args = parser.parse_args(argv)
    if args.n < 2:
        parser.error(f"--n must be at least 2 (one scan with a phone, one without), got {args.n}")
    rows = measure(args.n, args.seed, Detector(threads=args.threads))
    out = report(rows)
    if args.json:
        args.json.write_text(json.dumps({**out, "rows": rows}, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
