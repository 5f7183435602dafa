"""Materials of bodies, contraband and clutter, with linear attenuation from ``xraydb``.

Compositions are mass fractions (ICRU-44 body tissues, engineering compositions for the rest); they
are turned into the atom-ratio formulas :func:`xraydb.material_mu` understands.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache

import numpy as np
import xraydb
from numpy.typing import NDArray

__all__ = ["BODY_MATERIALS", "DetectorMaterial", "Material", "detector_mu", "mu_table"]


class Material(StrEnum):
    """Materials the simulator can put in the beam. Path lengths are in mm of the bulk material."""

    TISSUE = "tissue"
    FAT = "fat"
    BONE = "bone"
    LUNG = "lung"
    CLOTH = "cloth"
    RUBBER = "rubber"
    PLASTIC = "plastic"
    PVC = "pvc"
    GLASS = "glass"
    CATHODE = "cathode"
    GRAPHITE = "graphite"
    COPPER = "copper"
    ALUMINIUM = "aluminium"
    STEEL = "steel"
    FR4 = "fr4"
    SILICON = "silicon"
    TITANIUM = "titanium"
    COCR = "cocr"
    BRASS = "brass"
    AMALGAM = "amalgam"
    ZINC = "zinc"
    DRUG = "drug"
    FERRITE = "ferrite"
    MAGNET = "magnet"


#: Materials kept as full-image maps (everything else is stored as small patches).
BODY_MATERIALS: tuple[Material, ...] = (
    Material.TISSUE,
    Material.FAT,
    Material.BONE,
    Material.LUNG,
    Material.CLOTH,
)

_ATOMIC_MASS = {
    "H": 1.008, "Li": 6.94, "B": 10.81, "C": 12.011, "N": 14.007, "O": 15.999, "Na": 22.99,
    "Mg": 24.305, "Al": 26.982, "Si": 28.085, "P": 30.974, "S": 32.06, "Cl": 35.45, "K": 39.098,
    "Ca": 40.078, "Ti": 47.867, "V": 50.942, "Cr": 51.996, "Mn": 54.938, "Fe": 55.845,
    "Co": 58.933, "Ni": 58.693, "Cu": 63.546, "Zn": 65.38, "Br": 79.904, "Mo": 95.95,
    "Ag": 107.87, "Sn": 118.71, "Nd": 144.24, "Hg": 200.59,
}  # fmt: skip

# (mass fractions or a formula, density g/cm^3)
_COMPOSITION: dict[Material, tuple[dict[str, float] | str, float]] = {
    Material.TISSUE: ({"H": .102, "C": .143, "N": .034, "O": .708, "Na": .002, "P": .003,
                       "S": .003, "Cl": .002, "K": .003}, 1.06),
    Material.FAT: ({"H": .114, "C": .598, "N": .007, "O": .278, "Na": .001, "S": .001,
                    "Cl": .001}, 0.95),
    Material.BONE: ({"H": .034, "C": .155, "N": .042, "O": .435, "Na": .001, "Mg": .002,
                     "P": .103, "S": .003, "Ca": .225}, 1.92),
    Material.LUNG: ({"H": .103, "C": .105, "N": .031, "O": .749, "Na": .002, "P": .002,
                     "S": .003, "Cl": .003, "K": .002}, 0.26),
    Material.CLOTH: ("C6H10O5", 1.50),
    Material.RUBBER: ({"C": .80, "H": .10, "O": .04, "Si": .04, "Zn": .02}, 1.15),
    Material.PLASTIC: ("C16H14O3", 1.20),
    Material.PVC: ("C2H3Cl", 1.38),
    Material.GLASS: ({"Si": .290, "O": .480, "Al": .095, "Na": .089, "K": .033, "Mg": .013},
                     2.45),
    Material.CATHODE: ("LiCoO2", 3.30),
    Material.GRAPHITE: ("C", 1.60),
    Material.COPPER: ("Cu", 8.96),
    Material.ALUMINIUM: ("Al", 2.70),
    Material.STEEL: ({"Fe": .70, "Cr": .19, "Ni": .09, "Mn": .02}, 7.90),
    Material.FR4: ({"C": .30, "H": .03, "O": .37, "Si": .16, "Ca": .06, "Al": .04, "Br": .04},
                   1.85),
    Material.SILICON: ("Si", 2.33),
    Material.TITANIUM: ({"Ti": .90, "Al": .06, "V": .04}, 4.43),
    Material.COCR: ({"Co": .64, "Cr": .28, "Mo": .06, "Ni": .02}, 8.30),
    Material.BRASS: ({"Cu": .63, "Zn": .37}, 8.50),
    Material.AMALGAM: ({"Hg": .50, "Ag": .35, "Sn": .15}, 11.7),
    Material.ZINC: ({"Zn": .96, "Al": .04}, 6.60),
    Material.DRUG: ("C17H21NO4", 1.25),
    Material.FERRITE: ("Fe3O4", 4.80),
    Material.MAGNET: ("Nd2Fe14B", 7.50),
}  # fmt: skip


class DetectorMaterial(StrEnum):
    """Scintillators of energy-integrating line detectors."""

    CSI = "CsI"
    CDWO4 = "CdWO4"
    GOS = "Gd2O2S"


_DETECTOR_DENSITY = {DetectorMaterial.CSI: 4.51, DetectorMaterial.CDWO4: 7.90,
                     DetectorMaterial.GOS: 7.32}  # fmt: skip


def _formula(composition: dict[str, float] | str) -> str:
    """Atom-ratio formula from mass fractions (or a formula passed through)."""
    if isinstance(composition, str):
        return composition
    return "".join(f"{el}{frac / _ATOMIC_MASS[el] * 100:.4f}" for el, frac in composition.items())


def density(material: Material) -> float:
    """Density of ``material`` in g/cm^3."""
    return _COMPOSITION[Material(material)][1]


@lru_cache(maxsize=64)
def _mu_cached(material: Material, energies_key: tuple[float, ...]) -> NDArray[np.float64]:
    composition, rho = _COMPOSITION[material]
    energies_ev = np.asarray(energies_key) * 1e3
    mu_cm = xraydb.material_mu(_formula(composition), energies_ev, density=rho)
    return np.asarray(mu_cm, dtype=np.float64) / 10.0


def mu_table(
    materials: tuple[Material, ...] | list[Material], energies_kev: NDArray[np.floating]
) -> NDArray[np.float64]:
    """Linear attenuation coefficients.

    Parameters
    ----------
    materials : sequence of Material, length M
    energies_kev : ndarray, shape (E,)
        Photon energies in keV (10–200).

    Returns
    -------
    ndarray of float64, shape (M, E)
        Linear attenuation in 1/mm.
    """
    key = tuple(float(e) for e in np.asarray(energies_kev, dtype=np.float64))
    return np.stack([_mu_cached(Material(m), key) for m in materials])


@lru_cache(maxsize=16)
def _detector_mu_cached(material: DetectorMaterial, key: tuple[float, ...]) -> NDArray[np.float64]:
    energies_ev = np.asarray(key) * 1e3
    mu_cm = xraydb.material_mu(material.value, energies_ev, density=_DETECTOR_DENSITY[material])
    return np.asarray(mu_cm, dtype=np.float64) / 10.0


def detector_mu(
    material: DetectorMaterial | str, energies_kev: NDArray[np.floating]
) -> NDArray[np.float64]:
    """Linear attenuation (1/mm, shape (E,)) of a scintillator at ``energies_kev`` (keV, (E,))."""
    key = tuple(float(e) for e in np.asarray(energies_kev, dtype=np.float64))
    return _detector_mu_cached(DetectorMaterial(material), key)
