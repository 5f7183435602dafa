"""What the benchmarks that simulate scans and run the shipped detector on them share.

``wilson`` gives the 95 % intervals of their proportions and ``run`` their command line
(``--n``, ``--seed``, ``--threads``, ``--json``): ``measure(n, seed, detector)`` returns one row
per scan, ``report(rows)`` prints and returns the figures, and ``--json`` writes both.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from detect import Detector

Rows = list[dict[str, Any]]


def wilson(k: int, n: int) -> tuple[float, float]:
    """95 % Wilson interval of a proportion ``k / n``."""
    if n == 0:
        return (math.nan, math.nan)
    z, p = 1.959964, k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def run(
    doc: str,
    default_seed: int,
    measure: Callable[[int, int, Detector], Rows],
    report: Callable[[Rows], dict[str, Any]],
    argv: list[str] | None = None,
) -> int:
    """Parse the shared options, measure, report and write ``--json``; the exit status."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="scans (half with a phone)")
    parser.add_argument(
        "--seed", type=int, default=default_seed, help="first simulator seed (outside training)"
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
