"""``scanguard bench``: measure the detector on an annotated scan set."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from scanner._cli import add_image_input_arguments
from validation.errors import BenchError


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {value}")
    return value


def register(subparsers: Any) -> None:
    """Add the ``bench`` sub-command."""
    p = subparsers.add_parser(
        "bench",
        help="measure the detector on an annotated scan set (COCO)",
        description=(
            "Run the detector over a folder of scans annotated in COCO format and write "
            "predictions.json, scans.json, report.json and report.html to --out."
        ),
    )
    p.add_argument("dataset", metavar="DATASET", help="folder of scans with annotations.json")
    p.add_argument(
        "--annotations", metavar="FILE", help="COCO file (default DATASET/annotations.json)"
    )
    p.add_argument(
        "--out", metavar="DIR", default="bench-out", help="output folder (default bench-out)"
    )
    p.add_argument(
        "--jobs",
        metavar="N",
        type=_positive_int,
        default=os.cpu_count() or 1,
        help="worker processes (default: number of CPU cores)",
    )
    p.add_argument(
        "--model", metavar="PATH", help="ONNX model, manifest.json beside it (default: shipped)"
    )
    p.add_argument(
        "--bootstrap",
        metavar="N",
        type=_non_negative_int,
        default=1000,
        help="bootstrap resamples for the 95%% intervals (default 1000, 0 = none)",
    )
    add_image_input_arguments(p)
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument(
        "--all-peaks",
        action="store_true",
        help="score boxes (AP, FROC) on every decoded peak, not only the reported findings",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Execute ``scanguard bench``; 0 on success, 2 on bad input, 1 when no scan could be scored."""
    from validation.bench import run_bench
    from validation.runner import make_reader

    try:
        result = run_bench(
            args.dataset,
            args.annotations,
            out_dir=args.out,
            jobs=args.jobs,
            model=args.model,
            n_boot=args.bootstrap,
            seed=args.seed,
            progress=not args.no_progress,
            all_peaks=args.all_peaks,
            reader=make_reader(args.pixel_spacing, args.polarity)
            if args.pixel_spacing is not None or args.polarity is not None
            else None,
        )
    except BenchError as exc:
        print(f"scanguard bench: error: {exc}", file=sys.stderr)
        return 2
    r = result.report
    scan = r["scan"]
    phone = r["detection"].get("phone", {})

    def f(v: Any) -> str:
        return "n/a" if v is None else f"{v:.3f}"

    print(
        f"{r['n_scans']} scans ({r['n_positive']} positive, {r['n_failed']} failed); "
        f"phone AP50 {f(phone.get('ap50'))}, ROC AUC {f(scan['roc_auc'])}, "
        f"Pd@FA0.05 {f(scan['pd_at_fa']['0.05'])}, decision Pd {f(scan['decision']['pd'])} "
        f"Pfa {f(scan['decision']['pfa'])}, p50 {f(r['latency_ms']['p50'])} ms"
    )
    for failed in r["failed"]:
        print(f"  failed: {failed['file_name']}: {failed['error']}", file=sys.stderr)
    print(f"report: {result.paths['report_html']}")
    if result.n_scored == 0:
        print("scanguard bench: error: no scan could be scored (see failed above)", file=sys.stderr)
        return 1
    return 0
