"""Time ``simulate_scan`` per full-body scan at a fixed pitch on one core.

Usage: ``python benchmarks/simulate.py [--n 20] [--pitch 1.0] [--seed 0]``

Spectra are cached per 5 kVp step; the cache is warmed first so the figure is the steady-state
cost a dataset run sees.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from scanner.simulate import SimConfig, simulate_scan
from scanner.simulate.spectrum import make_beam


def main() -> None:
    """Run the benchmark and print per-scan times."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--pitch", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    t0 = time.perf_counter()
    for kvp in range(100, 165, 5):
        make_beam(float(kvp))
    warm = time.perf_counter() - t0
    cfg = SimConfig(pitch_mm=(args.pitch, args.pitch))
    times, cpu, pixels = [], [], []
    for i in range(args.n):
        t, c = time.perf_counter(), time.process_time()
        scan = simulate_scan(args.seed + i, cfg)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
        pixels.append(scan.shape[0] * scan.shape[1])
    print(f"spectrum cache warm-up: {warm:.2f} s (once per process)")
    print(
        f"{args.n} scans at {args.pitch} mm: mean {statistics.mean(times):.3f} s, "
        f"median {statistics.median(times):.3f} s, max {max(times):.3f} s, "
        f"mean size {statistics.mean(pixels) / 1e6:.2f} Mpx"
    )
    print(
        f"CPU time per scan: mean {statistics.mean(cpu):.3f} s, median "
        f"{statistics.median(cpu):.3f} s, max {max(cpu):.3f} s"
    )


if __name__ == "__main__":
    main()
