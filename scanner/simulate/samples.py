"""Regenerate ``sample_scans/`` (small simulated scans + ``annotations.json``) and the gallery.

Usage::

    python -m scanner.simulate.samples [--out sample_scans] [--gallery docs/gallery]

Each sample is a fixed (seed, configuration, encoding) triple, so the files are reproducible.
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scanner.simulate.dataset import coco_annotations, coco_categories, write_scan
from scanner.simulate.enums import Category, Location, Pose, Sex
from scanner.simulate.simulator import SimConfig, simulate_scan

__all__ = ["SAMPLES", "Sample", "render_gallery", "write_samples"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sample:
    """One sample scan: file name, seed, configuration, encoding preset and a caption."""

    name: str
    seed: int
    config: SimConfig
    encoding: str
    caption: str


_CLOTHING = (Location.WAISTBAND, Location.POCKET, Location.BRA, Location.ARMPIT)
SAMPLES: tuple[Sample, ...] = (
    Sample("clean.dcm", 101, SimConfig(pitch_mm=(2.0, 2.0), has_phone=False, n_other=0,
                                       distractors=1.0, sex=Sex.MALE, pose=Pose.ARMS_DOWN),
           "lin-rle-16", "clean scan, everyday clutter"),
    Sample("phone_waistband.dcm", 102, SimConfig(pitch_mm=(1.5, 1.5), has_phone=True, n_phones=1,
                                                 n_other=0, phone_kinds=("smartphone",),
                                                 locations=(Location.WAISTBAND,),
                                                 tilt_max_deg=20),
           "log-jpegls-14", "smartphone in the waistband"),
    Sample("phone_internal.dcm", 103, SimConfig(pitch_mm=(1.5, 1.5), has_phone=True, n_phones=1,
                                                n_other=0, phone_kinds=("mini_phone",),
                                                locations=(Location.RECTAL,)),
           "cr-rle-log-16", "mini phone concealed internally (rectal)"),
    Sample("mini_phone_sock.dcm", 104, SimConfig(pitch_mm=(1.5, 1.5), has_phone=True, n_phones=1,
                                                 n_other=0, phone_kinds=("mini_phone",),
                                                 locations=(Location.SOCK,)),
           "lin-j2k-16", "mini phone in a sock"),
    Sample("distractors.dcm", 105, SimConfig(pitch_mm=(2.0, 2.0), has_phone=False, n_other=0,
                                             distractors=4.0, sex=Sex.FEMALE),
           "lin-rle-16", "no contraband, heavy clutter (buckle, coins, underwire, implants)"),
    Sample("feature_phone_bra.dcm", 106, SimConfig(pitch_mm=(1.5, 1.5), has_phone=True,
                                                   n_phones=1, n_other=1, sex=Sex.FEMALE,
                                                   phone_kinds=("feature_phone",),
                                                   locations=(Location.BRA, Location.WAISTBAND)),
           "cr-rle-log-16", "feature phone in a bra, other contraband"),
    Sample("other_contraband.dcm", 107, SimConfig(pitch_mm=(1.75, 1.75), has_phone=False,
                                                  n_other=3, locations=(*_CLOTHING, Location.SHOE),
                                                  other_categories=(Category.POWER_BANK,
                                                                    Category.BLADE,
                                                                    Category.SIM_CARD)),
           "log-jpegls-14", "power bank, blade and SIM card, no phone"),
    Sample("arms_up_anisotropic.dcm", 108, SimConfig(pitch_mm=(1.2, 1.8), has_phone=True,
                                                     n_phones=2, n_other=0, pose=Pose.ARMS_UP),
           "lin-j2k-16", "arms raised, anisotropic pixels, two phones"),
)  # fmt: skip


def write_samples(out_dir: str | Path = "sample_scans") -> Path:
    """Write every sample and ``annotations.json`` into ``out_dir``; returns the COCO path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for i, sample in enumerate(SAMPLES):
        scan = simulate_scan(sample.seed, sample.config)
        image = write_scan(scan, out / sample.name, np.random.default_rng(sample.seed),
                           seed=sample.seed, index=i, encoding=sample.encoding)  # fmt: skip
        images.append({"id": i + 1, **image, "caption": sample.caption})
        for ann in coco_annotations(scan):
            annotations.append({"id": len(annotations) + 1, "image_id": i + 1, **ann})
        logger.info("wrote %s (%d x %d)", sample.name, *scan.shape)
    coco = {
        "info": {"description": "ScanGuard sample scans (simulated)", "version": "1"},
        "licenses": [],
        "categories": coco_categories(),
        "images": images,
        "annotations": annotations,
    }
    path = out / "annotations.json"
    path.write_text(json.dumps(coco, indent=1))
    return path


def render_gallery(samples_dir: str | Path, out_dir: str | Path, limit: int = 6) -> list[Path]:
    """Draw the samples (read back through :func:`scanner.read_scan`) with their boxes as PNGs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from scanner import read_scan

    src, out = Path(samples_dir), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    coco = json.loads((src / "annotations.json").read_text())
    names = {c["id"]: c["name"] for c in coco["categories"]}
    written = []
    for image in coco["images"][:limit]:
        scan = read_scan(src / image["file_name"])
        att = scan.image
        vmax = float(np.percentile(att, 99.7))
        h_mm, w_mm = scan.size_mm
        fig, ax = plt.subplots(figsize=(4.2, 4.2 * h_mm / w_mm * 0.9 + 0.6))
        ax.imshow(att, cmap="gray_r", vmin=0.0, vmax=vmax,
                  aspect=scan.spacing[0] / scan.spacing[1], interpolation="lanczos")  # fmt: skip
        for ann in coco["annotations"]:
            if ann["image_id"] != image["id"]:
                continue
            x, y, w, h = ann["bbox"]
            colour = "red" if names[ann["category_id"]] == "phone" else "orange"
            ax.add_patch(Rectangle((x - 1, y - 1), w + 2, h + 2, fill=False, lw=1.2, color=colour))
            ax.text(x, y - 4, f"{names[ann['category_id']]} ({ann['kind']})", color=colour,
                    fontsize=6, va="bottom")  # fmt: skip
        ax.set_title(f"{image['caption']}\n{image['kvp']:.0f} kVp, {image['dose_uGy']:.2f} µGy, "
                     f"{image['encoding'].split(',')[0]}", fontsize=7)  # fmt: skip
        ax.set_axis_off()
        fig.tight_layout()
        path = out / (Path(image["file_name"]).stem + ".png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description="Regenerate the simulated sample scans and gallery.")
    ap.add_argument("--out", type=Path, default=Path("sample_scans"))
    ap.add_argument("--gallery", type=Path, default=None, help="also render PNGs here")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    write_samples(args.out)
    if args.gallery is not None:
        render_gallery(args.out, args.gallery)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
