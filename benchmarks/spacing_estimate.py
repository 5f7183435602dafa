"""How well a missing pixel spacing is estimated, and what it is worth to the detector.

Simulates full-body scans (half with a phone), writes each as a DICOM file without any spacing
attribute (the ``lin-nospacing-16`` vendor preset) and reads it back with
``scanner.read_scan``, which estimates the spacing from the height of the person scanned
(``scanner.stature``). Reports the estimate's error against the simulator's true pitch (by
arm pose), and the shipped detector's scan-level detection rate (ALARM on phone scans) and
false-alarm rate (ALARM on phone-free scans) side by side for three spacings of the same
scans: the estimate, the 1 mm a reader would otherwise assume, and the true spacing. Intervals
are 95 % Clopper-Pearson intervals.

Usage::

    .venv/bin/python benchmarks/spacing_estimate.py [--n 200] [--seed 8100000] [--json OUT]
"""

from __future__ import annotations

import dataclasses
import io
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
# The project root first: this folder holds scripts whose names shadow packages (kernels.py);
# it comes last, for the helpers the benchmarks share (scan_benchmark.py).
sys.path[:] = [
    str(ROOT),
    *(p for p in sys.path if Path(p or ".").resolve() not in (ROOT, HERE)),
    str(HERE),
]

from scan_benchmark import interval, run  # noqa: E402

from detect import Detector  # noqa: E402
from scanner import Validation, read_scan  # noqa: E402
from scanner.encoding import encode_dicom  # noqa: E402
from scanner.simulate import SimConfig, simulate_scan  # noqa: E402
from scanner.stature import estimate_spacing  # noqa: E402

#: The spacings each scan is detected at.
VARIANTS = ("estimated", "assumed 1 mm", "true")


def measure(n: int, seed: int, detector: Detector) -> list[dict[str, Any]]:
    """One row per scan: true pitch, pose, the reader's spacing and each variant's decision."""
    rows = []
    for i in tqdm(range(n), desc="scans", mininterval=5.0):
        phone = i % 2 == 0
        sim = simulate_scan(seed + i, SimConfig(has_phone=phone))
        buf = io.BytesIO()
        encode_dicom(sim.transmission, sim.spacing, "lin-nospacing-16").save_as(buf)
        scan = read_scan(buf.getvalue(), validation=Validation.IGNORE)
        t0 = time.perf_counter()  # read_scan ran the estimate already; this times it alone
        estimate_spacing(scan.image)
        estimate_ms = (time.perf_counter() - t0) * 1000
        spacings = {
            "estimated": scan.spacing,
            "assumed 1 mm": (1.0, 1.0),
            "true": (float(sim.spacing[0]), float(sim.spacing[1])),
        }
        row: dict[str, Any] = {
            "phone": phone,
            "pose": str(sim.body.pose),
            "pitch": list(spacings["true"]),
            "spacing": list(scan.spacing),
            "source": scan.spacing_source.value,
            "shape": list(scan.image.shape),
            "estimate_ms": estimate_ms,
        }
        for name in VARIANTS:
            result = detector.detect(dataclasses.replace(scan, spacing=spacings[name]))
            row[name] = result.decision.value
        rows.append(row)
    return rows


def report(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Print and return the estimate's error and the detection rates per variant."""
    out: dict[str, Any] = {"n_scans": len(rows)}
    estimated = [r for r in rows if r["source"] == "estimated"]
    print(f"spacing estimated on {len(estimated)} of {len(rows)} scans (the rest: assumed 1 mm)")
    by_pose: dict[str, list[float]] = defaultdict(list)
    for r in estimated:
        by_pose[r["pose"]].append(r["spacing"][0] / r["pitch"][0])
    by_pose["all"] = [v for vs in list(by_pose.values()) for v in vs]
    print("estimate / true row pitch:")
    head = ("pose", "n", "mean", "sd", "min", "max", "within 10 %")
    print(
        f"  {head[0]:<10} {head[1]:>4} "
        + " ".join(f"{h:>6}" for h in head[2:6])
        + f" {head[6]:>12}"
    )
    out["ratio"] = {}
    for pose, vs in sorted(by_pose.items()):
        a = np.asarray(vs)
        within = float(np.mean(np.abs(a - 1) <= 0.10))
        out["ratio"][pose] = {
            "n": a.size,
            "mean": float(a.mean()),
            "sd": float(a.std()),
            "min": float(a.min()),
            "max": float(a.max()),
            "within_10pct": within,
        }
        print(
            f"  {pose:<10} {a.size:>4} {a.mean():>6.3f} {a.std():>6.3f} {a.min():>6.3f} "
            f"{a.max():>6.3f} {within:>12.2f}"
        )
    ms = np.asarray([r["estimate_ms"] for r in rows])
    mpx = np.asarray([r["shape"][0] * r["shape"][1] / 1e6 for r in rows])
    out["estimate_ms"] = {"p50": float(np.median(ms)), "p95": float(np.percentile(ms, 95))}
    print(
        f"estimate time: p50 {np.median(ms):.1f} ms, p95 {np.percentile(ms, 95):.1f} ms "
        f"(images {np.median(mpx):.1f} Mpx median, {mpx.max():.1f} max)"
    )
    print("detector, scan level (ALARM):")
    out["detection"] = {}
    for name in VARIANTS:
        pos = [r[name] == "ALARM" for r in rows if r["phone"]]
        neg = [r[name] == "ALARM" for r in rows if not r["phone"]]
        pd, pfa = sum(pos), sum(neg)
        lo_d, hi_d = interval(pd, len(pos))
        lo_f, hi_f = interval(pfa, len(neg))
        out["detection"][name] = {
            "pd": pd / max(1, len(pos)),
            "pd_ci95": [lo_d, hi_d],
            "pfa": pfa / max(1, len(neg)),
            "pfa_ci95": [lo_f, hi_f],
        }
        print(
            f"  spacing {name:<13} Pd {pd / max(1, len(pos)):.2f} [{lo_d:.2f}, {hi_d:.2f}] "
            f"(n={len(pos)})  Pfa {pfa / max(1, len(neg)):.2f} [{lo_f:.2f}, {hi_f:.2f}] "
            f"(n={len(neg)})"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    return run(__doc__, 8_100_000, measure, report, argv)


if __name__ == "__main__":
    raise SystemExit(main())
