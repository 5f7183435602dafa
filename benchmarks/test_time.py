"""What each test-time option of the detector is worth, and what other options would be.

Simulates held-out scans (seeds outside training, cached as model inputs at the shipped model's
working pitch; ``--cache`` keeps them for a rerun) and runs the shipped model over them with
each option set: no test-time passes, the flip test alone, the flip test with the zoom-test
pass at several enlargements (the manifest's is marked), and the shipped set followed by
cross-class suppression (a phone peak dropped, or its score lowered, where a higher peak of
another class, such as a power bank or a battery, covers the same object). Every option applies
the manifest's size prior (``calibration.size_prior``) before NMS, as the detector does; one
row shows the shipped passes without it. Phone peaks are
matched to true phones at IoU 0.5 as in the model's evaluation. Reports phone AP50 with a paired
bootstrap 95 % interval of its difference from the shipped options, and the scan-level
detection rate at the threshold that gives at most 5 % and 2 % false alarms on the phone-free
scans (the threshold is chosen on the same scans, so these rates rank options, they are not
operating-point estimates).

Usage::

    .venv/bin/python benchmarks/test_time.py [--n 400] [--seed 8500000] [--cache DIR] [--json OUT]
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
# The project root first: this folder holds scripts whose names shadow packages (kernels.py).
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() not in (ROOT, HERE))]

from detect.postprocess import box_iou  # noqa: E402
from models import DEFAULT_MANIFEST_PATH, DEFAULT_MODEL_PATH, Manifest  # noqa: E402
from models.training.cache import Source, generate  # noqa: E402
from models.training.classes import CLASSES  # noqa: E402
from models.training.evaluate import (  # noqa: E402
    ScanPrediction,
    finish_peaks,
    match_peaks,
    predict_records,
)
from models.training.metrics import ci95, class_ap50, pd_at_pfa  # noqa: E402

PHONE = CLASSES.index("phone")
#: Overlap (IoU) from which a peak of another class covers a phone peak.
COVER_IOU = 0.3

Rescore = Callable[[ScanPrediction], NDArray[np.float64]]


@dataclass(frozen=True)
class Option:
    """One set of test-time options: the passes run, then an optional re-scoring of the peaks."""

    name: str
    flip: bool
    zoom: float | None
    rescore: Rescore | None = None
    size_prior: bool = True


def _rescored_phones(
    p: ScanPrediction, weight: Callable[[float, NDArray[np.float64]], float]
) -> NDArray[np.float64]:
    """Raw scores with each phone peak's multiplied by ``weight(score, covering scores)``: the
    scores of the other classes' peaks that cover it (IoU > ``COVER_IOU``)."""
    raw = p.raw.copy()
    other = p.labels != PHONE
    if not other.any():
        return raw
    for i in np.nonzero(p.labels == PHONE)[0]:
        cover = p.raw[other][box_iou(p.boxes[i], p.boxes[other]) > COVER_IOU]
        raw[i] *= weight(float(p.raw[i]), cover)
    return raw


def covered(factor: float, ratio: float = 1.0) -> Rescore:
    """Re-scoring: phone peaks covered by another class's peak above ``ratio`` x their score
    are multiplied by ``factor``."""

    def weight(score: float, cover: NDArray[np.float64]) -> float:
        return factor if (cover > ratio * score).any() else 1.0

    return lambda p: _rescored_phones(p, weight)


def soft_covered(p: ScanPrediction) -> NDArray[np.float64]:
    """Re-scoring: phone peak score x (1 - the highest covering peak of another class)."""
    return _rescored_phones(p, lambda score, cover: 1.0 - float(cover.max(initial=0.0)))


def options(shipped_zoom: float | None) -> list[Option]:
    zooms = sorted({1.05, 1.1, 1.2, *([shipped_zoom] if shipped_zoom else [])})
    out = [Option("no flip, no zoom", False, None), Option("flip test only", True, None)]
    out += [Option(f"flip + zoom x{z:g}", True, z) for z in zooms]
    out += [
        Option("shipped, covered phone peaks dropped", True, shipped_zoom, covered(0.0)),
        Option("shipped, covered phone peaks halved", True, shipped_zoom, covered(0.5)),
        Option("shipped, soft cover suppression", True, shipped_zoom, soft_covered),
        Option("shipped passes, no size prior", True, shipped_zoom, size_prior=False),
    ]
    return out


def rescored(preds: list[ScanPrediction], fn: Rescore) -> list[ScanPrediction]:
    out = []
    for p in preds:
        q = copy.copy(p)
        q.raw = fn(p)
        match_peaks(q)
        out.append(q)
    return out


def top_phone_scores(preds: list[ScanPrediction]) -> NDArray[np.float64]:
    """Each scan's highest raw phone peak, size prior applied (ranks scans as the calibrated
    scan score does)."""
    return np.array([float(p.raw[p.labels == PHONE].max(initial=0.0)) for p in preds])


def measure(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    manifest = Manifest.load(DEFAULT_MANIFEST_PATH)
    seeds = range(args.seed, args.seed + args.n)
    with tqdm(total=args.n, desc="simulate", unit="scan") as bar:
        bar.update(sum(1 for s in seeds if (folder / f"scan-{s:012d}.npz").exists()))
        generate(folder, seeds, Source.SIMULATOR, spec=manifest.input, progress=bar.update)
    # a seed the simulator failed on has no record (generate logs it)
    records = [p for p in (folder / f"scan-{s:012d}.npz" for s in seeds) if p.exists()]
    shipped = (manifest.outputs.flip_test, manifest.outputs.zoom_test)
    runs: dict[tuple[bool, float | None], list[ScanPrediction]] = {}

    def passes(flip: bool, zoom: float | None, size_prior: bool = True) -> list[ScanPrediction]:
        """Peaks of one set of passes (run once however many options re-score them), with or
        without the size prior, after NMS."""
        if (flip, zoom) not in runs:
            runs[flip, zoom] = predict_records(
                DEFAULT_MODEL_PATH,
                records,
                threads=args.threads,
                flip_test=flip,
                zoom_test=zoom,
                stride=manifest.outputs.stride,
                progress=True,
                nms_iou=None,
            )
        cal = manifest.calibration if size_prior else None
        nms_iou = manifest.thresholds.nms_iou
        return [finish_peaks(p, nms_iou, cal) for p in runs[flip, zoom]]

    rng = np.random.default_rng(0)
    boot = [rng.integers(0, len(records), len(records)) for _ in range(args.boot)]
    ref = passes(*shipped)
    ref_ap = class_ap50(ref, PHONE)
    ref_boot = [class_ap50(ref, PHONE, i) for i in boot]
    results: list[dict[str, Any]] = []
    for opt in options(manifest.outputs.zoom_test):
        preds = passes(opt.flip, opt.zoom, opt.size_prior)
        if opt.rescore is not None:
            preds = rescored(preds, opt.rescore)
        positive = np.array([p.positive for p in preds])
        scores = top_phone_scores(preds)
        ap = class_ap50(preds, PHONE)
        delta = [class_ap50(preds, PHONE, i) - r for i, r in zip(boot, ref_boot, strict=True)]
        results.append(
            {
                "option": opt.name,
                "shipped": (opt.flip, opt.zoom) == shipped
                and opt.rescore is None
                and opt.size_prior,
                "ap50_phone": round(ap, 4),
                "delta": round(ap - ref_ap, 4),
                "delta_ci95": ci95(delta),
                "pd_at_pfa_0.05": round(pd_at_pfa(scores, positive, 0.05), 4),
                "pd_at_pfa_0.02": round(pd_at_pfa(scores, positive, 0.02), 4),
            }
        )
    n_pos = int(sum(p.positive for p in ref))
    return {"n_scans": len(records), "n_phone_scans": n_pos, "seed": args.seed, "options": results}


def report(out: dict[str, Any]) -> None:
    print(
        f"\n{out['n_scans']} scans ({out['n_phone_scans']} with a phone), seeds {out['seed']}.., "
        "shipped model"
    )
    print(f"{'option':40s} {'AP50':>6s} {'vs shipped [95 % CI]':>26s} {'Pd@5%':>6s} {'Pd@2%':>6s}")
    for r in out["options"]:
        ci = r["delta_ci95"] or [0.0, 0.0]
        mark = " *" if r["shipped"] else ""
        print(
            f"{r['option'] + mark:40s} {r['ap50_phone']:6.3f} "
            f"{r['delta']:+8.3f} [{ci[0]:+.3f}, {ci[1]:+.3f}]   "
            f"{r['pd_at_pfa_0.05']:6.3f} {r['pd_at_pfa_0.02']:6.3f}"
        )
    print("* the shipped manifest's options")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400, help="scans (about half with a phone)")
    parser.add_argument("--seed", type=int, default=8500000, help="first simulator seed")
    parser.add_argument("--cache", type=Path, help="keep the simulated model inputs here")
    parser.add_argument("--threads", type=int, default=2, help="onnxruntime threads")
    parser.add_argument("--boot", type=int, default=500, help="paired bootstrap resamples")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if args.n < 2:
        parser.error(f"--n must be at least 2 (scans with and without a phone), got {args.n}")
    if args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}")
    if args.boot < 0:
        parser.error(f"--boot must be 0 or more, got {args.boot}")
    with tempfile.TemporaryDirectory() as tmp:
        out = measure(args, args.cache or Path(tmp))
    report(out)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
