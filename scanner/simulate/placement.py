"""Where contraband goes: hiding places per category, orientation and tilt statistics."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from scanner.simulate.enums import Category, Concealment, Location
from scanner.simulate.errors import PlacementError
from scanner.simulate.phantom import Region

__all__ = ["Pose2D", "choose_location", "choose_pose"]

_L = Location
#: Relative frequency of hiding places per category (clothing, then internal).
_WHERE: dict[Category, dict[Location, float]] = {
    Category.PHONE: {_L.WAISTBAND: 3, _L.POCKET: 3, _L.ARMPIT: 1.5, _L.BRA: 2, _L.SOCK: 1.5,
                     _L.SHOE: 1, _L.SEAM: 1, _L.RECTAL: 2, _L.VAGINAL: 1.5, _L.SWALLOWED: 0.2},
    Category.POWER_BANK: {_L.WAISTBAND: 3, _L.POCKET: 3, _L.ARMPIT: 1, _L.BRA: 1, _L.SOCK: 1},
    Category.BATTERY: {_L.WAISTBAND: 2, _L.POCKET: 2, _L.BRA: 1, _L.SOCK: 1, _L.SHOE: 1,
                       _L.SEAM: 1, _L.RECTAL: 1.5, _L.VAGINAL: 1},
    Category.SIM_CARD: {_L.WAISTBAND: 1, _L.POCKET: 1, _L.BRA: 1, _L.SOCK: 1, _L.SHOE: 2,
                        _L.SEAM: 2, _L.RECTAL: 1, _L.SWALLOWED: 1},
    Category.BLADE: {_L.WAISTBAND: 2, _L.POCKET: 1, _L.BRA: 1, _L.SOCK: 2, _L.SHOE: 2,
                     _L.SEAM: 2, _L.RECTAL: 0.5},
    Category.DRUG_PACKAGE: {_L.WAISTBAND: 1, _L.POCKET: 1, _L.BRA: 1, _L.SOCK: 1,
                            _L.RECTAL: 2, _L.VAGINAL: 1.5, _L.SWALLOWED: 3},
}  # fmt: skip
#: Phones hidden internally are mostly mini phones.
_INTERNAL_PHONE_WEIGHT = {"smartphone": 0.05, "feature_phone": 0.25, "mini_phone": 1.0}


@dataclass(frozen=True)
class Pose2D:
    """Placement of one object in body coordinates (mm, rad)."""

    x: float
    y: float
    angle: float
    tilt: float
    tilt_axis: int
    region: Region


def choose_location(
    rng: np.random.Generator,
    category: Category,
    kind: str,
    places: dict[Location, list[Region]],
    allowed: tuple[Location, ...] | None = None,
    concealment: Concealment | None = None,
) -> Region:
    """Pick a hiding place for an object of ``category``/``kind`` on a body with ``places``."""
    weights: dict[Location, float] = {}
    for loc, w in _WHERE[category].items():
        if loc not in places or (allowed is not None and loc not in allowed):
            continue
        if concealment is not None and loc.concealment is not concealment:
            continue
        if category is Category.PHONE and loc.concealment is Concealment.INTERNAL:
            w *= _INTERNAL_PHONE_WEIGHT.get(kind, 1.0)
        weights[loc] = w
    if not weights:
        raise PlacementError(
            f"no hiding place for {category.value} ({kind}) among "
            f"{sorted(x.value for x in (allowed or tuple(places)))} with concealment "
            f"{concealment.value if concealment else 'any'}; allow more locations"
        )
    locs = list(weights)
    p = np.array([weights[x] for x in locs])
    loc = locs[int(rng.choice(len(locs), p=p / p.sum()))]
    regions = places[loc]
    return regions[int(rng.integers(len(regions)))]


def choose_pose(rng: np.random.Generator, region: Region, tilt_max: float = math.pi / 2) -> Pose2D:
    """Random position inside ``region`` with a rotation and an out-of-plane tilt."""
    x = float(rng.uniform(*region.x))
    y = float(rng.uniform(*region.y))
    if region.location in (Location.RECTAL, Location.VAGINAL):
        angle = float(rng.normal(0.0, 0.35))
    elif region.location in (Location.SOCK, Location.SEAM):
        angle = float(rng.normal(0.0, 0.3) + rng.choice([0.0, math.pi]))
    else:
        angle = float(rng.uniform(0.0, 2 * math.pi))
    u = rng.random()
    if u < 0.55:
        tilt = abs(rng.normal(0.0, 0.25))
    elif u < 0.88:
        tilt = rng.uniform(0.3, 1.2)
    else:
        tilt = rng.uniform(1.2, math.pi / 2)
    if region.location is Location.ARMPIT:
        tilt = rng.uniform(0.6, math.pi / 2)  # held against the side of the chest
    tilt = float(min(tilt, tilt_max))
    return Pose2D(x, y, angle, tilt, int(rng.integers(2)), region)
