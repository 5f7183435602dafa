"""``scanguard simulate`` and ``scanguard tip`` sub-commands."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from scanner._cli import add_image_input_arguments

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``simulate`` and ``tip`` sub-commands."""
    sim = subparsers.add_parser(
        "simulate",
        help="simulate a labelled dataset of full-body scans (DICOM + COCO annotations.json)",
        description="Simulate full-body transmission scans with phones and other contraband, "
        "in random vendor encodings, with COCO annotations. The same seed gives identical files.",
    )
    sim.add_argument("--n", type=int, required=True, help="number of scans")
    sim.add_argument("--seed", type=int, default=0, help="dataset seed (default 0)")
    sim.add_argument("--out", type=Path, required=True, help="output directory")
    sim.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    sim.add_argument(
        "--positive-fraction", type=float, default=0.5, help="share of scans with a phone"
    )
    sim.add_argument(
        "--pitch",
        type=float,
        nargs="+",
        metavar="MM",
        help="pixel spacing: one value, or row and column (default: random 0.5-2 mm)",
    )
    sim.add_argument("--kvp", type=float, help="tube voltage (default: random 100-160)")
    sim.add_argument(
        "--phone-kinds",
        help="comma-separated phone kinds (smartphone,feature_phone,mini_phone)",
    )
    sim.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    sim.set_defaults(func=_simulate)

    tip = subparsers.add_parser(
        "tip",
        help="threat image projection: insert a simulated object into an existing scan",
        description="Insert a simulated object (phone, power_bank, battery, sim_card, blade, "
        "drug_package) into a scan in the log domain with matching noise; writes a new DICOM "
        "in the scan's encoding and adds its COCO annotation to OUT/annotations.json.",
    )
    tip.add_argument("scan", type=Path, help="scan file (DICOM, or PNG/TIFF with --pixel-spacing)")
    tip.add_argument(
        "--object",
        default="phone",
        help="category[:kind], e.g. phone, phone:mini_phone, blade:razor (default phone)",
    )
    tip.add_argument("--x", type=float, help="object centre column (pixels); random if omitted")
    tip.add_argument("--y", type=float, help="object centre row (pixels); random if omitted")
    tip.add_argument("--angle", type=float, help="in-plane rotation (degrees)")
    tip.add_argument("--tilt", type=float, help="out-of-plane tilt 0-90 (degrees)")
    tip.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    tip.add_argument("--out", type=Path, required=True, help="output directory")
    tip.add_argument("--name", help="output file name (default <scan>_tip.dcm)")
    add_image_input_arguments(tip)
    tip.set_defaults(func=_tip)


def _simulate(args: argparse.Namespace) -> int:
    from scanner.simulate.dataset import simulate_dataset
    from scanner.simulate.errors import SimulationError
    from scanner.simulate.simulator import SimConfig

    try:
        pitch = None
        if args.pitch:
            if len(args.pitch) > 2:
                raise SimulationError("--pitch takes one value or two (row col)")
            pitch = (args.pitch[0], args.pitch[-1])
        kinds = tuple(k.strip() for k in args.phone_kinds.split(",")) if args.phone_kinds else None
        cfg = SimConfig(pitch_mm=pitch, kvp=args.kvp, phone_kinds=kinds)
        path = simulate_dataset(
            args.n,
            args.seed,
            args.out,
            jobs=args.jobs,
            positive_fraction=args.positive_fraction,
            config=cfg,
            progress=not args.no_progress,
        )
    except SimulationError as exc:
        logger.error("%s", exc)
        return 2
    print(f"wrote {args.n} scans and {path}")
    return 0


def _tip(args: argparse.Namespace) -> int:
    from scanner import read_scan
    from scanner.errors import ScanError
    from scanner.simulate.errors import SimulationError
    from scanner.simulate.tip import project_threat, write_projection

    category, _, kind = args.object.partition(":")
    try:
        spacing = tuple(args.pixel_spacing) if args.pixel_spacing else None
        scan = read_scan(args.scan, pixel_spacing=spacing, polarity=args.polarity)
        proj = project_threat(
            scan,
            category,
            kind or None,
            x=args.x,
            y=args.y,
            angle_deg=args.angle,
            tilt_deg=args.tilt,
            seed=args.seed,
        )
        name = args.name or f"{args.scan.stem}_tip.dcm"
        path, ann = write_projection(scan, proj, args.out, name, source=args.scan.name)
    except (ScanError, SimulationError) as exc:
        logger.error("%s", exc)
        return 2
    x, y, w, h = proj.object.bbox
    print(
        f"inserted {proj.object.category}:{proj.object.kind} at bbox "
        f"[{x:.1f}, {y:.1f}, {w:.1f}, {h:.1f}] -> {path} (annotations: {ann})"
    )
    return 0
