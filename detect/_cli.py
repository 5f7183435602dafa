"""``scanguard detect``: run the detector on scan files; text, JSON and PNG output."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from detect.detector import Detector, read_source
from detect.errors import DetectorError
from detect.render import render_scan_png
from detect.result import Result
from kernels import ColourMap
from scanner._cli import add_image_input_arguments
from scanner.errors import ScanError

#: Exit status when at least one file could not be processed.
EXIT_FILE_FAILED = 1
#: Exit status when the model could not be loaded.
EXIT_MODEL_FAILED = 2


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``detect`` sub-command."""
    p = subparsers.add_parser(
        "detect",
        help="detect phones and other contraband in scan files",
        description=(
            "Run the phone detector on DICOM (or PNG/TIFF) scans and print the decision, scan "
            "score, findings with body zone and confidence, and stage timings per file."
        ),
    )
    p.add_argument("files", nargs="+", type=Path, metavar="FILE", help="scan files to examine")
    p.add_argument(
        "--json", action="store_true", help="print each scan's Result JSON, one line per file"
    )
    p.add_argument(
        "--png", type=Path, metavar="DIR", help="also write DIR/<file>.png with boxes and labels"
    )
    p.add_argument(
        "--model", type=Path, metavar="PATH", help="ONNX model (default: the shipped model)"
    )
    p.add_argument(
        "--manifest",
        type=Path,
        metavar="PATH",
        help="model manifest (default: manifest.json beside the model)",
    )
    p.add_argument(
        "--threads", type=int, default=None, help="onnxruntime intra-op threads (default 2)"
    )
    p.add_argument(
        "--colormap",
        choices=[m.value for m in ColourMap],
        default=ColourMap.GREY.value,
        help="PNG colour map",
    )
    p.add_argument("--invert", action="store_true", help="PNG: show dense material dark")
    add_image_input_arguments(p)
    p.set_defaults(func=run)


def _fmt_box(values: tuple[float, float, float, float], unit: str) -> str:
    x, y, w, h = values
    return f"x={x:.0f} y={y:.0f} w={w:.0f} h={h:.0f} {unit}"


#: Said under the decision when the file stated no spacing (sizes in mm are then less sure).
_SPACING_NOTES = {
    "estimated": "spacing estimated from the person's height (the file states none): mm ±10 %",
    "assumed": "no spacing in the file: 1 mm assumed, sizes in mm unknown",
}


def format_text(name: str, result: Result) -> str:
    """Human-readable summary of one result."""
    t = result.timings
    lines = [
        f"{name}: {result.decision.value}  score {result.scan_score:.3f}  "
        f"({len(result.findings)} finding{'s' if len(result.findings) != 1 else ''})"
    ]
    note = _SPACING_NOTES.get(result.image.spacing_source) if result.image else None
    if note:
        lines.append(f"  {note}")
    turn = result.image.upright_turns if result.image else 0
    if turn:
        stored = "upside down" if turn == 2 else "on its side"
        lines.append(f"  stored {stored}: analysed upright, boxes in the stored image")
    for f in result.findings:
        lines.append(
            f"  {f.label:<13} {f.confidence:5.3f}  {f.zone.value:<13} "
            f"{_fmt_box(f.bbox_px, 'px')}  ({_fmt_box(f.bbox_mm, 'mm')})"
        )
    lines.append(
        f"  timings: decode {t.decode_ms:.1f} ms, preprocess {t.preprocess_ms:.1f} ms, "
        f"infer {t.infer_ms:.1f} ms, postprocess {t.postprocess_ms:.1f} ms, "
        f"total {t.total_ms:.1f} ms"
    )
    return "\n".join(lines)


def _png_path(folder: Path, source: Path, used: set[Path]) -> Path:
    out = folder / f"{source.stem or 'scan'}.png"
    n = 1
    while out in used:
        out = folder / f"{source.stem or 'scan'}-{n}.png"
        n += 1
    used.add(out)
    return out


def run(
    args: argparse.Namespace, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Run ``scanguard detect``; returns the exit status (0: all files done)."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    try:
        detector = Detector(args.model, args.manifest, threads=args.threads)
    except DetectorError as exc:
        print(f"scanguard detect: cannot load the model: {exc}", file=err)
        return EXIT_MODEL_FAILED
    if not args.json:
        m = detector.identity
        print(f"model {m.name} {m.version} (sha256 {m.sha256[:12]})", file=out)
    if args.png is not None:
        try:
            args.png.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            print(f"scanguard detect: cannot create PNG folder {args.png}: {exc}", file=err)
            return EXIT_FILE_FAILED
    failed = 0
    used: set[Path] = set()
    for path in args.files:
        try:
            scan, decode_ms = read_source(
                path,
                pixel_spacing=tuple(args.pixel_spacing) if args.pixel_spacing else None,
                polarity=args.polarity,
            )
            result = detector.detect(scan, decode_ms=decode_ms)
        except (ScanError, DetectorError, OSError, ValueError, TypeError) as exc:
            failed += 1
            print(f"scanguard detect: {path}: {exc}", file=err)
            continue
        if args.json:
            print(result.model_dump_json(), file=out)
        else:
            print(format_text(str(path), result), file=out)
        if args.png is not None:
            target = _png_path(args.png, path, used)
            try:
                target.write_bytes(
                    render_scan_png(scan, result, colormap=args.colormap, invert=args.invert)
                )
            except (DetectorError, OSError) as exc:
                failed += 1
                print(f"scanguard detect: {path}: cannot write {target}: {exc}", file=err)
    if failed:
        print(f"scanguard detect: {failed} of {len(args.files)} file(s) failed", file=err)
        return EXIT_FILE_FAILED
    return 0
