"""What the benchmarks that simulate scans and run the shipped detector on them share.

``interval`` gives the 95 % intervals of their proportions (Clopper-Pearson, as
``validation.metrics.exact_interval`` gives the validation reports) and ``run`` their command line
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
from validation.metrics import exact_interval

Rows = list[dict[str, Any]]


def interval(k: int, n: int) -> tuple[float, float]:
    """95 % Clopper-Pearson interval of a proportion ``k / n`` (nan, nan when ``n`` is 0)."""
    ci = exact_interval(k, n)
    if ci["low"] is None or ci["high"] is None:
        return (math.nan, math.nan)
    return (float(ci["low"]), float(ci["high"]))


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
