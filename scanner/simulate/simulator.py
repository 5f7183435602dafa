"""``simulate_scan``: one randomised full-body transmission scan with labelled contraband."""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field

import numpy as np
from numpy.typing import NDArray

from scanner.simulate import _raster as R
from scanner.simulate._raster import Canvas
from scanner.simulate.contraband import KINDS, make_contraband
from scanner.simulate.distractors import sample_distractors
from scanner.simulate.enums import Category, Concealment, Location, Pose, Sex
from scanner.simulate.errors import ConfigError
from scanner.simulate.imaging import Acquisition, form_image
from scanner.simulate.materials import DetectorMaterial, Material
from scanner.simulate.objects import Placed, splat
from scanner.simulate.phantom import Body, body_extent, draw_body, hiding_places, sample_body
from scanner.simulate.placement import choose_location, choose_pose
from scanner.simulate.spectrum import KVP_RANGE

__all__ = ["SimConfig", "SimObject", "SimulatedScan", "simulate_scan"]

logger = logging.getLogger(__name__)

_PHONE_KINDS = tuple(k[0] for k in KINDS[Category.PHONE])
_OTHER = tuple(c for c in Category if c is not Category.PHONE)


@dataclass(frozen=True)
class SimConfig:
    """What to simulate. Every ``None`` field is drawn at random per scan.

    Attributes
    ----------
    pitch_mm : (float, float), optional
        Pixel spacing (row, col) in mm, each 0.25–5. Random: 0.5–2.0, sometimes anisotropic.
    kvp : float, optional
        Tube voltage (random 100–160).
    al_mm, cu_mm : float, optional
        Added filtration (random 1–3 mm Al, 0–1 mm Cu).
    detector : DetectorMaterial or str, optional
        ``"CsI"``, ``"CdWO4"`` or ``"Gd2O2S"``.
    detector_mm : float, optional
        Scintillator thickness.
    dose_ugy : float, optional
        Entrance air kerma (random log-uniform 0.1–4 µGy).
    has_phone : bool, optional
        Force a positive (phone present) or negative scan; random with ``positive_fraction``.
    positive_fraction : float
        Probability of a phone when ``has_phone`` is None.
    n_phones : int, optional
        Phones in a positive scan (random 1–3, mostly 1).
    phone_kinds : tuple of str, optional
        Allowed phone kinds (``"smartphone"``, ``"feature_phone"``, ``"mini_phone"``).
    n_other : int, optional
        Other contraband objects (power banks, batteries, SIMs, blades, drug packages).
    other_categories : tuple of Category, optional
        Allowed categories for the other contraband.
    locations : tuple of Location, optional
        Allowed hiding places.
    concealment : Concealment, optional
        Force clothing or internal concealment.
    distractors : float, optional
        Amount of innocent clutter (0 none, 1 typical, 3 heavy; random 0–2.5).
    sex, pose : optional
        Phantom body type and arm pose.
    height_mm : float, optional
        Standing height, 1500–2000 mm.
    build : float, optional
        0 (lean) … 1 (obese).
    tilt_max_deg : float
        Largest out-of-plane tilt of contraband (0–90).
    ideal : bool
        No scatter, blur, noise or gain errors (for physics checks).
    n_bins : int
        Energy bins of the polychromatic sum.
    """

    pitch_mm: tuple[float, float] | None = None
    kvp: float | None = None
    al_mm: float | None = None
    cu_mm: float | None = None
    detector: DetectorMaterial | str | None = None
    detector_mm: float | None = None
    dose_ugy: float | None = None
    has_phone: bool | None = None
    positive_fraction: float = 0.5
    n_phones: int | None = None
    phone_kinds: tuple[str, ...] | None = None
    n_other: int | None = None
    other_categories: tuple[Category | str, ...] | None = None
    locations: tuple[Location | str, ...] | None = None
    concealment: Concealment | str | None = None
    distractors: float | None = None
    sex: Sex | str | None = None
    pose: Pose | str | None = None
    height_mm: float | None = None
    build: float | None = None
    tilt_max_deg: float = 90.0
    ideal: bool = False
    n_bins: int = 12

    def __post_init__(self) -> None:
        def bad(msg: str) -> ConfigError:
            return ConfigError(f"SimConfig: {msg}")

        if self.pitch_mm is not None:
            if len(self.pitch_mm) != 2 or not all(0.25 <= float(p) <= 5 for p in self.pitch_mm):
                raise bad(f"pitch_mm={self.pitch_mm!r} must be (row, col) mm, each in 0.25..5")
            object.__setattr__(self, "pitch_mm", (float(self.pitch_mm[0]), float(self.pitch_mm[1])))
        if self.kvp is not None and not 80 <= self.kvp <= KVP_RANGE[1]:
            raise bad(f"kvp={self.kvp} must be in 80..{KVP_RANGE[1]:.0f}")
        for name in ("al_mm", "cu_mm"):
            v = getattr(self, name)
            if v is not None and not 0 <= v <= 10:
                raise bad(f"{name}={v} must be in 0..10 mm")
        if self.detector_mm is not None and not 0.05 <= self.detector_mm <= 10:
            raise bad(f"detector_mm={self.detector_mm} must be in 0.05..10")
        if self.dose_ugy is not None and not 0.005 <= self.dose_ugy <= 100:
            raise bad(f"dose_ugy={self.dose_ugy} must be in 0.005..100 µGy")
        if not 0 <= self.positive_fraction <= 1:
            raise bad(f"positive_fraction={self.positive_fraction} must be in 0..1")
        for name in ("n_phones", "n_other"):
            v = getattr(self, name)
            if v is not None and not 0 <= v <= 10:
                raise bad(f"{name}={v} must be in 0..10")
        if self.has_phone and self.n_phones == 0:
            raise bad("has_phone=True with n_phones=0; drop one of them")
        if self.phone_kinds is not None:
            unknown = set(self.phone_kinds) - set(_PHONE_KINDS)
            if unknown or not self.phone_kinds:
                raise bad(f"phone_kinds={self.phone_kinds!r}: use some of {_PHONE_KINDS}")
        try:
            if self.detector is not None:
                object.__setattr__(self, "detector", DetectorMaterial(self.detector))
            if self.other_categories is not None:
                cats = tuple(Category(c) for c in self.other_categories)
                if Category.PHONE in cats:
                    raise bad("other_categories must not contain 'phone' (use n_phones)")
                object.__setattr__(self, "other_categories", cats)
            if self.locations is not None:
                object.__setattr__(self, "locations", tuple(Location(x) for x in self.locations))
            if self.concealment is not None:
                object.__setattr__(self, "concealment", Concealment(self.concealment))
            if self.sex is not None:
                object.__setattr__(self, "sex", Sex(self.sex))
            if self.pose is not None:
                object.__setattr__(self, "pose", Pose(self.pose))
        except ValueError as exc:
            raise bad(f"{exc}; see the enums in scanner.simulate") from None
        if self.height_mm is not None and not 1400 <= self.height_mm <= 2100:
            raise bad(f"height_mm={self.height_mm} must be in 1400..2100")
        if self.build is not None and not 0 <= self.build <= 1:
            raise bad(f"build={self.build} must be in 0..1")
        if self.distractors is not None and not 0 <= self.distractors <= 5:
            raise bad(f"distractors={self.distractors} must be in 0..5")
        if not 0 <= self.tilt_max_deg <= 90:
            raise bad(f"tilt_max_deg={self.tilt_max_deg} must be in 0..90")


@dataclass
class SimObject:
    """A labelled object in a simulated scan.

    Attributes
    ----------
    category : str
        Contraband class (``"phone"``…) or ``"distractor"``.
    kind : str
        Sub-type (``"smartphone"``, ``"mini_phone"``, ``"belt_buckle"``…).
    bbox : list of float
        [x, y, w, h] in pixels, the tight box of the projected footprint.
    concealment : str
        ``"clothing"``, ``"internal"`` (or ``"body"`` for implants).
    location : str
        Hiding place (``"waistband"``, ``"rectal"``…).
    angle_deg, tilt_deg : float
        In-plane rotation and out-of-plane tilt.
    """

    category: str
    kind: str
    bbox: list[float]
    concealment: str
    location: str
    angle_deg: float = 0.0
    tilt_deg: float = 0.0
    window: tuple[slice, slice] | None = field(default=None, repr=False)
    coverage: NDArray[np.float32] | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready mapping (without the footprint arrays)."""
        return {
            "category": self.category, "kind": self.kind, "bbox": [round(v, 2) for v in self.bbox],
            "concealment": self.concealment, "location": self.location,
            "angle_deg": round(self.angle_deg, 2), "tilt_deg": round(self.tilt_deg, 2),
        }  # fmt: skip


@dataclass
class SimulatedScan:
    """One simulated acquisition.

    Attributes
    ----------
    transmission : ndarray of float32, shape (rows, cols)
        Flat-fielded ``I / I_air`` with scatter, blur, noise, stripes (head at row 0).
    attenuation : ndarray of float32, shape (rows, cols)
        Noise-free line integral ``-ln(T)`` of the primary beam.
    spacing : (float, float)
        Pixel spacing (row, col) in mm.
    objects : list of SimObject
        Contraband with boxes.
    distractors : list of SimObject
        Innocent clutter with boxes (category ``"distractor"``).
    acquisition : Acquisition
    body : Body
    """

    transmission: NDArray[np.float32]
    attenuation: NDArray[np.float32]
    spacing: tuple[float, float]
    objects: list[SimObject]
    distractors: list[SimObject]
    acquisition: Acquisition
    body: Body

    @property
    def has_phone(self) -> bool:
        """True when a phone is in the scan."""
        return any(o.category == Category.PHONE.value for o in self.objects)

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols)."""
        return (int(self.transmission.shape[0]), int(self.transmission.shape[1]))

    def metadata(self) -> dict[str, object]:
        """Acquisition and body parameters as a JSON-ready mapping."""
        body = asdict(self.body)
        body["sex"], body["pose"] = self.body.sex.value, self.body.pose.value
        return {"acquisition": self.acquisition.to_dict(), "body": body}


def _loguniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _acquisition(rng: np.random.Generator, cfg: SimConfig) -> Acquisition:
    if cfg.pitch_mm is not None:
        pitch = cfg.pitch_mm
    else:
        row = _loguniform(rng, 0.5, 2.0)
        col = row if rng.random() < 0.6 else float(np.clip(row * rng.uniform(0.7, 1.4), 0.5, 2.0))
        pitch = (row, col)
    det = cfg.detector or DetectorMaterial(
        rng.choice([d.value for d in DetectorMaterial], p=[0.5, 0.3, 0.2])
    )
    det = DetectorMaterial(det)
    det_range = {DetectorMaterial.CSI: (0.5, 4.0), DetectorMaterial.CDWO4: (0.5, 3.0),
                 DetectorMaterial.GOS: (0.2, 1.0)}[det]  # fmt: skip
    return Acquisition(
        kvp=float(cfg.kvp if cfg.kvp is not None else rng.uniform(100, 160)),
        al_mm=float(cfg.al_mm if cfg.al_mm is not None else rng.uniform(1.0, 3.0)),
        cu_mm=float(cfg.cu_mm if cfg.cu_mm is not None
                    else (0.0 if rng.random() < 0.25 else rng.uniform(0.1, 1.0))),
        detector=det,
        detector_mm=float(cfg.detector_mm if cfg.detector_mm is not None
                          else rng.uniform(*det_range)),
        dose_ugy=float(cfg.dose_ugy if cfg.dose_ugy is not None else _loguniform(rng, 0.1, 4.0)),
        pitch_mm=pitch,
        scatter_fraction=float(rng.uniform(0.01, 0.08)),
        scatter_sigma_mm=float(rng.uniform(20, 80)),
        blur_mm=(float(rng.uniform(0.15, 1.0)), float(rng.uniform(0.15, 1.0))),
        crosstalk_px=float(rng.choice([0.0, rng.uniform(0.3, 0.7)])),
        electronic_noise=float(_loguniform(rng, 0.5, 8.0)),
        swank=float(rng.uniform(0.75, 0.95)),
        gain_sigma=_loguniform(rng, 0.0005, 0.01),
        line_sigma=_loguniform(rng, 0.0003, 0.006),
        dark_sigma=float(rng.uniform(0.0, 0.002)),
        channel_axis=int(rng.integers(2)),
        bad_channels=int(rng.choice(4, p=[0.7, 0.15, 0.1, 0.05])),
        heel=float(rng.uniform(0.0, 0.02)),
    )  # fmt: skip


def _count(rng: np.random.Generator, probs: list[float]) -> int:
    return int(rng.choice(len(probs), p=np.asarray(probs) / sum(probs)))


def simulate_scan(
    seed: int | np.random.Generator, config: SimConfig | None = None
) -> SimulatedScan:
    """Simulate one full-body scan.

    Parameters
    ----------
    seed : int or numpy.random.Generator
        The same seed (and config) gives an identical scan.
    config : SimConfig, optional
        Fixed choices; random where ``None``.

    Returns
    -------
    SimulatedScan
    """
    cfg = config or SimConfig()
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    acq = _acquisition(rng, cfg)
    body = sample_body(rng, cfg.sex, cfg.height_mm, cfg.pose, cfg.build)  # type: ignore[arg-type]
    x0, x1, y0, y1 = body_extent(body)
    side = (float(rng.uniform(60, 250)), float(rng.uniform(60, 250)))
    top, bottom = float(rng.uniform(30, 200)), float(rng.uniform(10, 100))
    pr, pc = acq.pitch_mm
    shape = (math.ceil((y1 - y0 + top + bottom) / pr),
             math.ceil((x1 - x0 + side[0] + side[1]) / pc))  # fmt: skip
    cv = Canvas(shape, (pr, pc), (y0 - top, x0 - side[0]))
    draw_body(cv, body, rng)
    _scanner_hardware(cv, body, rng, bottom)

    # --- contraband ------------------------------------------------------------------------
    has_phone = (
        cfg.has_phone
        if cfg.has_phone is not None
        else bool(
            cfg.n_phones if cfg.n_phones is not None else rng.random() < cfg.positive_fraction
        )
    )
    n_phones = (cfg.n_phones if cfg.n_phones is not None else 1 + _count(rng, [80, 15, 5])) \
        if has_phone else 0  # fmt: skip
    n_other = cfg.n_other if cfg.n_other is not None else _count(rng, [50, 30, 15, 5])
    others = cfg.other_categories or _OTHER
    wanted: list[tuple[Category, str | None]] = []
    for _ in range(n_phones):
        kind = None if cfg.phone_kinds is None else str(rng.choice(list(cfg.phone_kinds)))
        wanted.append((Category.PHONE, kind))
    for _ in range(n_other):
        wanted.append((Category(others[int(rng.integers(len(others)))]), None))
    places = hiding_places(body)
    locations = tuple(Location(x) for x in cfg.locations) if cfg.locations else None
    concealment = Concealment(cfg.concealment) if cfg.concealment else None
    objects: list[SimObject] = []
    for category, kind in wanted:
        model = make_contraband(rng, category, kind)
        region = choose_location(rng, category, model.kind, places, locations, concealment)
        pose = choose_pose(rng, region, math.radians(cfg.tilt_max_deg))
        placed = splat(
            cv,
            model,
            (pose.x, pose.y),
            pose.angle,
            pose.tilt,
            pose.tilt_axis,
            internal=region.internal,
        )
        if placed is None:  # cannot happen for places on the body; kept as a guard
            logger.warning("object %s fell outside the image and was dropped", model.kind)
            continue
        objects.append(
            _record(
                placed,
                model.category.value if model.category else "",
                region.location.concealment.value,
                region.location.value,
            )
        )

    # --- distractors -----------------------------------------------------------------------
    amount = cfg.distractors if cfg.distractors is not None else float(rng.uniform(0, 2.5))
    distractors: list[SimObject] = []
    for d in sample_distractors(rng, body, amount):
        placed = splat(cv, d.model, (d.x, d.y), d.angle, d.tilt, 0, internal=d.internal)
        if placed is not None:
            distractors.append(
                _record(placed, "distractor", "body" if d.internal else "clothing", d.location)
            )
    cv.finish()

    measured, clean = form_image(cv, acq, rng, n_bins=cfg.n_bins, ideal=cfg.ideal)
    beam_counts = acq.beam(cfg.n_bins).photons_per_mm2_per_ugy * acq.dose_ugy * pr * pc
    floor = np.float32(0.5 / max(beam_counts, 1.0))
    np.clip(measured, floor, np.float32(2.0), out=measured)
    attenuation = -np.log(np.maximum(clean, np.float32(1e-30)))
    return SimulatedScan(
        transmission=measured, attenuation=attenuation.astype(np.float32), spacing=(pr, pc),
        objects=objects, distractors=distractors, acquisition=acq, body=body,
    )  # fmt: skip


def _scanner_hardware(cv: Canvas, body: Body, rng: np.random.Generator, bottom: float) -> None:
    """Parts of the scanner in the field of view: the platform under the feet, a handrail."""
    x0 = cv.origin[1]
    x1 = x0 + cv.shape[1] * cv.pitch[1]
    floor = body.height + body.sole
    if rng.random() < 0.6:
        thick = float(rng.uniform(8, 40))
        material = Material.ALUMINIUM if rng.random() < 0.7 else Material.STEEL
        depth = float(
            rng.uniform(40, 400) if material is Material.ALUMINIUM else rng.uniform(5, 60)
        )
        R.put(cv, material, R.box(cv, x0, x1, floor + 1.0, floor + 1.0 + min(thick, bottom), depth))
    if rng.random() < 0.25:
        # in the air margin beside the body, clear of the image edge
        bx0, bx1, _, _ = body_extent(body)
        x = (bx1 + x1) / 2 if rng.random() < 0.5 else (bx0 + x0) / 2
        top = float(rng.uniform(0.35, 0.6)) * body.height
        outer = R.segment(cv, (x, top), (x, floor), 16, 16, caps=False)
        inner = R.segment(cv, (x, top), (x, floor), 14.5, 14.5, caps=False)
        R.put(cv, Material.STEEL, R.shell(outer, inner))


def _record(placed: Placed, category: str, concealment: str, location: str) -> SimObject:
    return SimObject(
        category=category, kind=placed.model.kind, bbox=placed.bbox, concealment=concealment,
        location=location, angle_deg=placed.angle_deg % 360.0, tilt_deg=placed.tilt_deg,
        window=placed.window, coverage=placed.coverage,
    )  # fmt: skip
