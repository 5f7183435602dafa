"""Physics-based full-body transmission scan simulator and threat image projection.

Quick use::

    from scanner.simulate import SimConfig, simulate_scan

    scan = simulate_scan(42, SimConfig(pitch_mm=(1.0, 1.0), has_phone=True))
    scan.transmission   # float32 (rows, cols): flat-fielded I / I_air with scatter, blur,
                        # quantum + electronic noise, channel stripes; head at row 0
    scan.attenuation    # float32 (rows, cols): noise-free line integral -ln(T)
    scan.spacing        # (row, col) mm
    scan.objects        # list[SimObject]: category ("phone", "power_bank", "battery",
                        # "sim_card", "blade", "drug_package"), kind ("smartphone",
                        # "feature_phone", "mini_phone", ...), bbox [x, y, w, h] in pixels
                        # (exact projected footprint, >= 1 px), concealment ("clothing" /
                        # "internal"), location ("waistband", "pocket", "rectal", ...)
    scan.distractors    # list[SimObject] with category "distractor" (buckles, coins, implants)
    scan.acquisition    # Acquisition: kvp, al_mm, cu_mm, detector, detector_mm, dose_ugy,
                        # pitch_mm, scatter, blur, noise and stripe settings
    scan.has_phone      # bool

Every ``SimConfig`` field left ``None`` is drawn at random per scan: pitch 0.5–2 mm (sometimes
anisotropic), 100–160 kVp, 1–3 mm Al + 0–1 mm Cu, CsI/CdWO4/Gd2O2S detector, dose 0.1–4 µGy,
phones in ``positive_fraction`` of scans (1–3, any of the three kinds), 0–3 other contraband,
0–2.5 amount of distractors, male/female phantom of 1.5–2.0 m with three arm poses.
Fix fields for controlled sets, e.g. ``SimConfig(pitch_mm=(1, 1), has_phone=False)`` for
negatives, ``phone_kinds=("mini_phone",)``, ``concealment="internal"``, ``ideal=True``.
The same seed and config always give the same scan.

Datasets and threat image projection::

    from scanner.simulate import simulate_dataset, project_threat, write_projection

    simulate_dataset(1000, seed=1, out_dir="sim", jobs=2, positive_fraction=0.5)
    # -> sim/scan_000000.dcm ... (random vendor encodings) + sim/annotations.json (COCO)

    scan = read_scan("clean.dcm")  # from scanner import read_scan
    proj = project_threat(scan, "phone", "mini_phone", seed=3)
    write_projection(scan, proj, "out", "clean_tip.dcm")  # same encoding + COCO entry

Command line: ``scanguard simulate --n N --seed S --out DIR [--jobs J] [--positive-fraction F]``
and ``scanguard tip SCAN --object phone[:kind] [--x --y --angle --tilt] --out DIR``;
``python -m scanner.simulate.samples`` regenerates ``sample_scans/`` and ``docs/gallery/``.
"""

import logging

from scanner.simulate.dataset import simulate_dataset
from scanner.simulate.enums import CATEGORY_IDS, Category, Concealment, Location, Pose, Sex
from scanner.simulate.errors import ConfigError, PlacementError, ProjectionError, SimulationError
from scanner.simulate.imaging import Acquisition
from scanner.simulate.materials import DetectorMaterial, Material
from scanner.simulate.simulator import SimConfig, SimObject, SimulatedScan, simulate_scan
from scanner.simulate.tip import Projection, project_threat, write_projection

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "CATEGORY_IDS",
    "Acquisition",
    "Category",
    "Concealment",
    "ConfigError",
    "DetectorMaterial",
    "Location",
    "Material",
    "PlacementError",
    "Pose",
    "Projection",
    "ProjectionError",
    "Sex",
    "SimConfig",
    "SimObject",
    "SimulatedScan",
    "SimulationError",
    "project_threat",
    "simulate_dataset",
    "simulate_scan",
    "write_projection",
]
