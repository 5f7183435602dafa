"""``scanguard`` sub-commands of the scanner package: ``info`` (what ingest makes of files).

Add a sub-command by writing an ``_add_<name>(subparsers)`` function that sets ``func=`` and
listing it in :data:`_SUBCOMMANDS`.
"""

from __future__ import annotations

import argparse
import json
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from scanner.conformance import Validation
from scanner.errors import ScanError
from scanner.ingest import read_scan
from scanner.scan import Polarity, Scan

__all__ = ["register"]

#: File suffixes picked up when a directory is given to ``info``.
_SCAN_SUFFIXES = {"", ".dcm", ".dicom", ".png", ".tif", ".tiff"}


def _expand(paths: Sequence[Path]) -> Iterator[Path]:
    """Files as given; directories replaced by the scan files under them (sorted)."""
    for path in paths:
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and p.suffix.lower() in _SCAN_SUFFIXES and not p.name.startswith(".")
            )
            yield from found
        else:
            yield path


def _describe(path: Path, scan: Scan, problems: list[str]) -> dict[str, Any]:
    image = scan.image
    p01, p99 = (float(v) for v in np.percentile(image, [1.0, 99.0]))
    meta = scan.metadata
    return {
        "file": str(path),
        "ok": True,
        "vendor": {"manufacturer": meta.manufacturer, "model": meta.manufacturer_model_name},
        "encoding": scan.normalisation.encoding,
        "transfer_syntax": scan.normalisation.transfer_syntax,
        "spacing_mm": list(scan.spacing),
        "spacing_source": scan.spacing_source.value,
        "stored_shape": list(scan.stored_shape),
        "size_mm": [round(v, 1) for v in scan.size_mm],
        "attenuation": {
            "min": float(image.min()),
            "p01": p01,
            "p99": p99,
            "max": float(image.max()),
        },
        "normalisation": asdict(scan.normalisation),
        "metadata": meta.to_dict(),
        "warnings": problems,
    }


def _info_one(path: Path, args: argparse.Namespace) -> dict[str, Any]:
    spacing = tuple(args.pixel_spacing) if args.pixel_spacing else None
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            scan = read_scan(
                path,
                validation=args.validation,
                pixel_spacing=spacing,  # type: ignore[arg-type]
                polarity=args.polarity,
            )
    except ScanError as exc:
        return {"file": str(path), "ok": False, "error": type(exc).__name__, "message": str(exc)}
    prefix = f"{path}: "
    problems = [str(w.message).removeprefix(prefix) for w in caught]
    return _describe(path, scan, problems)


def _print_text(report: dict[str, Any]) -> None:
    print(report["file"])
    if not report["ok"]:
        print(f"  ERROR {report['error']}: {report['message']}")
        return
    vendor = " ".join(v for v in report["vendor"].values() if v) or "unknown"
    rows, cols = report["stored_shape"]
    height, width = report["size_mm"]
    att = report["attenuation"]
    row_mm, col_mm = report["spacing_mm"]
    print(f"  vendor:        {vendor}")
    print(f"  encoding:      {report['encoding']}")
    if report["transfer_syntax"]:
        print(f"  transfer:      {report['transfer_syntax']}")
    print(f"  spacing:       {row_mm:g} x {col_mm:g} mm ({report['spacing_source']})")
    print(f"  image:         {rows} x {cols} px = {height:g} x {width:g} mm")
    print(
        f"  attenuation:   {att['min']:.3f} .. {att['max']:.3f} "
        f"(1st-99th percentile {att['p01']:.3f} .. {att['p99']:.3f})"
    )
    print("  normalisation:")
    for step in report["normalisation"]["steps"]:
        print(f"    - {step}")
    for problem in report["warnings"]:
        print(f"  WARNING {problem}")


def _run_info(args: argparse.Namespace) -> int:
    reports = [_info_one(path, args) for path in _expand(args.files)]
    if not reports:
        print("no scan files found under the given directories")
        return 1
    if args.json:
        print(json.dumps(reports, indent=2, default=str))
    else:
        for report in reports:
            _print_text(report)
        failed = sum(not r["ok"] for r in reports)
        print(f"{len(reports)} file(s): {len(reports) - failed} read, {failed} failed")
    return 1 if any(not r["ok"] for r in reports) else 0


def _add_info(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "info",
        help="show what ingest reads from scan files",
        description=(
            "For each file (or each scan file under a directory) print the vendor, the encoding "
            "detected, the spacing and its source, the normalisation applied, the image size and "
            "the attenuation range, or the error. Exit status 1 if any file failed."
        ),
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="scan files or dirs")
    parser.add_argument("--json", action="store_true", help="print a JSON list instead of text")
    parser.add_argument(
        "--validation",
        choices=[v.value for v in Validation],
        default=Validation.WARN.value,
        help="policy for non-conformant files (default: warn)",
    )
    add_image_input_arguments(parser)
    parser.set_defaults(func=_run_info)


def add_image_input_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--pixel-spacing ROW COL`` and ``--polarity`` (what PNG/TIFF inputs need).

    Every command that reads scans offers the same two options, so they are defined once here.
    """
    parser.add_argument(
        "--pixel-spacing",
        nargs=2,
        type=float,
        metavar=("ROW_MM", "COL_MM"),
        help="pixel spacing of PNG/TIFF scans in mm (and of DICOM files without spacing)",
    )
    parser.add_argument(
        "--polarity",
        choices=[p.value for p in Polarity],
        help=(
            "what PNG/TIFF pixel values mean, or auto to read it from the image (DICOM files "
            "say it themselves)"
        ),
    )


#: Functions that add one sub-command each.
_SUBCOMMANDS: list[Callable[[Any], None]] = [_add_info]


def register(subparsers: Any) -> None:
    """Add the scanner package's sub-commands to the ``scanguard`` parser."""
    for add in _SUBCOMMANDS:
        add(subparsers)
