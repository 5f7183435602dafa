"""What standing turned scans upright is worth to the detector.

Simulates full-body scans (half with a phone) and hands each to the shipped detector as stored
upright, mirrored top to bottom (upside down), turned 180 degrees, and turned a quarter turn
either way. Each variant is detected twice, side by side: as the detector does now (the scan
stood upright by ``scanner.stature.upright_turn``, boxes mapped back) and as it is stored (no
turn). Reports how often ``upright_turn`` finds the right turn, leaves the scan as it is, or
errs, its time, and the scan-level detection (ALARM on phone scans) and false-alarm rates (ALARM
on the others) with 95 % Clopper-Pearson intervals.

Usage::

    .venv/bin/python benchmarks/orientation.py [--n 200] [--seed 8400000] [--json OUT]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any
from unittest import mock

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

from scan_benchmark import run  # noqa: E402

from detect import Detector  # noqa: E402
from scanner.scan import Scan, SpacingSource  # noqa: E402
from scanner.simulate import SimConfig, simulate_scan  # noqa: E402
from scanner.stature import upright_turn  # noqa: E402
from validation.metrics import exact_interval  # noqa: E402

#: How the scan is stored: (name, function of the upright image, turn that stands it up).
VARIANTS: tuple[tuple[str, Any, int | None], ...] = (
    ("upright", lambda a: a, 0),
    ("mirrored top to bottom", lambda a: a[::-1], 2),
    ("turned 180", lambda a: np.rot90(a, 2), 2),
    ("quarter turn left", lambda a: np.rot90(a, 1), 3),
    ("quarter turn right", lambda a: np.rot90(a, 3), 1),
)
WAYS = ("stood upright", "as stored")


def _scan(image: Any, spacing: tuple[float, float], quarter: bool) -> Scan:
    img = np.ascontiguousarray(image, dtype=np.float32)
    return Scan(
        image=img,
        spacing=(spacing[1], spacing[0]) if quarter else spacing,
        spacing_source=SpacingSource.CALLER,
        stored_shape=(int(img.shape[0]), int(img.shape[1])),
    )


def measure(n: int, seed: int, detector: Detector) -> list[dict[str, Any]]:
    """One row per scan: per variant, the turn found, its time and both ways' decisions."""
    rows = []
    upright_turn(np.zeros((64, 32), np.float32))  # compile the body mask before timing it
    for i in tqdm(range(n), desc="scans", mininterval=5.0):
        phone = i % 2 == 0
        sim = simulate_scan(seed + i, SimConfig(has_phone=phone))
        att = -np.log(np.clip(sim.transmission, 1e-6, None)).astype(np.float32)
        spacing = (float(sim.spacing[0]), float(sim.spacing[1]))
        row: dict[str, Any] = {"phone": phone, "pose": str(sim.body.pose)}
        for name, store, want in VARIANTS:
            scan = _scan(store(att), spacing, quarter=want in (1, 3))
            t0 = time.perf_counter()
            turn = upright_turn(scan.image)
            ms = (time.perf_counter() - t0) * 1000
            cell: dict[str, Any] = {"turn": turn, "want": want, "ms": ms}
            cell["stood upright"] = detector.detect(scan).decision.value
            with mock.patch("detect.detector.upright_turn", return_value=0):
                cell["as stored"] = detector.detect(scan).decision.value
            row[name] = cell
        rows.append(row)
    return rows


def _rate(k: int, n: int) -> tuple[float, float, float]:
    ci = exact_interval(k, n)
    return (k / max(1, n), float(ci["low"] or 0.0), float(ci["high"] or 0.0))


def report(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Print and return the turn accuracy and both ways' detection rates per variant."""
    n = len(rows)
    out: dict[str, Any] = {"n_scans": n, "variants": {}}
    print(f"{n} scans, half with a phone")
    for name, _, _ in VARIANTS:
        cells = [r[name] for r in rows]
        right = sum(c["turn"] == c["want"] for c in cells)
        kept = sum(c["turn"] in (None, 0) and c["want"] != 0 for c in cells)
        wrong = n - right - kept
        fig: dict[str, Any] = {"turn_right": right / n, "left_as_stored": kept / n}
        fig["turned_wrongly"] = wrong / n
        print(f"  {name}: turn right {right}/{n}, left as stored {kept}, turned wrongly {wrong}")
        for way in WAYS:
            pos = [r[name][way] == "ALARM" for r in rows if r["phone"]]
            neg = [r[name][way] == "ALARM" for r in rows if not r["phone"]]
            pd, pd_lo, pd_hi = _rate(sum(pos), len(pos))
            fa, fa_lo, fa_hi = _rate(sum(neg), len(neg))
            fig[way] = {"pd": pd, "pd_ci95": [pd_lo, pd_hi], "pfa": fa, "pfa_ci95": [fa_lo, fa_hi]}
            print(
                f"    {way:<14} Pd {pd:.2f} [{pd_lo:.2f}, {pd_hi:.2f}] (n={len(pos)})  "
                f"Pfa {fa:.2f} [{fa_lo:.2f}, {fa_hi:.2f}] (n={len(neg)})"
            )
        out["variants"][name] = fig
    ms = np.asarray([r["upright"]["ms"] for r in rows])
    out["upright_turn_ms_upright"] = {
        "p50": float(np.median(ms)),
        "p95": float(np.percentile(ms, 95)),
    }
    print(
        f"upright_turn on upright scans: p50 {np.median(ms):.1f} ms, "
        f"p95 {np.percentile(ms, 95):.1f} ms"
    )
    return out


def main(argv: list[str] | None = None) -> int:
    return run(__doc__, 8_400_000, measure, report, argv)


if __name__ == "__main__":
    raise SystemExit(main())
