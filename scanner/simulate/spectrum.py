"""Tube spectra (``spekpy``), filtration, detector response and the binned polychromatic beam.

``spekpy`` is slow (~0.3 s a spectrum), so unfiltered spectra are cached on a 5 kVp grid and the
filtration (Al, Cu) is applied analytically with ``xraydb`` attenuation, which is exact and cheap.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from scanner.simulate.errors import ConfigError
from scanner.simulate.materials import DetectorMaterial, Material, detector_mu, mu_table

__all__ = ["KVP_RANGE", "Beam", "make_beam", "tube_spectrum"]

logger = logging.getLogger(__name__)

#: Tube voltages the simulator supports (kVp, inclusive).
KVP_RANGE = (60.0, 200.0)
#: Fine energy grid (keV, bin centres, 1 keV wide) on which everything is computed before binning.
_FINE_E = np.arange(10.5, 200.0, 1.0)
#: Grid step for cached unfiltered spectra (kVp).
_KVP_STEP = 5.0

# Mass energy-absorption coefficient of dry air (cm^2/g), NIST (Hubbell & Seltzer).
_AIR_E = np.array([10, 15, 20, 30, 40, 50, 60, 80, 100, 150, 200], dtype=np.float64)
_AIR_MUEN = np.array([4.742, 1.334, 0.5389, 0.1537, 0.06833, 0.04098, 0.03041, 0.02407,
                      0.02325, 0.02496, 0.02672])  # fmt: skip
_KEV_TO_J = 1.602176634e-16


def _kvp_grid(kvp: float) -> float:
    return float(np.clip(round(kvp / _KVP_STEP) * _KVP_STEP, *KVP_RANGE))


@lru_cache(maxsize=32)
def tube_spectrum(kvp: float) -> NDArray[np.float64]:
    """Unfiltered tungsten-anode spectrum on the fine grid.

    Parameters
    ----------
    kvp : float
        Tube voltage; rounded to the 5 kVp cache grid.

    Returns
    -------
    ndarray of float64, shape (len(_FINE_E),)
        Fluence per keV (photons / cm^2 / mAs at 1 m), zero above ``kvp``.
    """
    import spekpy  # imported lazily: slow to import and only needed on a cache miss

    kvp = _kvp_grid(kvp)
    logger.debug("computing spekpy spectrum at %.0f kVp", kvp)
    spek = spekpy.Spek(kvp=kvp, th=12.0, dk=1.0)
    energies, fluence = spek.get_spectrum()
    out = np.interp(_FINE_E, np.asarray(energies), np.asarray(fluence), left=0.0, right=0.0)
    return np.where(_FINE_E < kvp, out, 0.0)


@lru_cache(maxsize=2)
def _fine_mu() -> NDArray[np.float64]:
    """Attenuation (1/mm) of every :class:`Material` on the fine grid, shape (M, E)."""
    return mu_table(list(Material), _FINE_E)


@lru_cache(maxsize=2)
def _filter_mu() -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    import xraydb

    al = np.asarray(xraydb.material_mu("Al", _FINE_E * 1e3, density=2.70)) / 10.0
    cu = np.asarray(xraydb.material_mu("Cu", _FINE_E * 1e3, density=8.96)) / 10.0
    return al, cu


@dataclass(frozen=True)
class Beam:
    """A binned polychromatic beam as seen by an energy-integrating detector.

    Attributes
    ----------
    kvp, al_mm, cu_mm : float
        Tube voltage and added filtration.
    detector : DetectorMaterial
    detector_mm : float
        Scintillator thickness.
    energies : ndarray, shape (B,)
        Signal-weighted mean energy of each bin (keV).
    weights : ndarray, shape (B,)
        Fraction of the detected (energy-weighted) air signal in each bin; sums to 1.
    mu : ndarray, shape (M, B)
        Bin-averaged attenuation (1/mm) of each :class:`Material`, in enum order.
    photons_per_mm2_per_ugy : float
        Incident fluence per air kerma.
    efficiency : float
        Effective (noise-equivalent) detected photons per incident photon in air.
    """

    kvp: float
    al_mm: float
    cu_mm: float
    detector: DetectorMaterial
    detector_mm: float
    energies: NDArray[np.float64]
    weights: NDArray[np.float64]
    mu: NDArray[np.float64]
    photons_per_mm2_per_ugy: float
    efficiency: float

    def mu_of(self, material: Material) -> NDArray[np.float64]:
        """Bin attenuation (1/mm, shape (B,)) of one material."""
        return self.mu[_MATERIAL_INDEX[Material(material)]]


_MATERIAL_INDEX = {m: i for i, m in enumerate(Material)}


def _fine_signal(
    kvp: float, al_mm: float, cu_mm: float, detector: DetectorMaterial, detector_mm: float
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Filtered fluence, detector absorption, and detected-signal weight on the fine grid."""
    mu_al, mu_cu = _filter_mu()
    fluence = tube_spectrum(kvp) * np.exp(-mu_al * al_mm - mu_cu * cu_mm)
    absorbed = 1.0 - np.exp(-detector_mu(detector, _FINE_E) * detector_mm)
    return fluence, absorbed, fluence * absorbed * _FINE_E


def make_beam(
    kvp: float,
    al_mm: float = 2.5,
    cu_mm: float = 0.5,
    detector: DetectorMaterial | str = DetectorMaterial.CSI,
    detector_mm: float = 2.0,
    n_bins: int = 12,
) -> Beam:
    """Build the binned beam for one acquisition.

    Parameters
    ----------
    kvp : float
        Tube voltage, 60–200 kVp (spectrum cached on a 5 kVp grid).
    al_mm, cu_mm : float
        Added aluminium and copper filtration (mm), ``>= 0``.
    detector : DetectorMaterial or str
        Scintillator (``"CsI"``, ``"CdWO4"``, ``"Gd2O2S"``).
    detector_mm : float
        Scintillator thickness (mm), ``> 0``.
    n_bins : int
        Number of energy bins, 2–64.

    Returns
    -------
    Beam
    """
    if not KVP_RANGE[0] <= kvp <= KVP_RANGE[1]:
        raise ConfigError(f"kvp={kvp} is outside {KVP_RANGE}; pass a tube voltage in that range")
    if al_mm < 0 or cu_mm < 0:
        raise ConfigError(f"filtration must be >= 0 mm, got al_mm={al_mm}, cu_mm={cu_mm}")
    if detector_mm <= 0:
        raise ConfigError(f"detector_mm must be > 0, got {detector_mm}")
    if not 2 <= n_bins <= 64:
        raise ConfigError(f"n_bins must be in 2..64, got {n_bins}")
    det = DetectorMaterial(detector)
    fluence, _absorbed, signal = _fine_signal(kvp, al_mm, cu_mm, det, detector_mm)
    top = min(float(kvp), float(_FINE_E[-1] + 0.5))
    edges = np.geomspace(15.0, top, n_bins + 1)
    edges[0], edges[-1] = 10.0, top + 1.0
    index = np.clip(np.searchsorted(edges, _FINE_E, side="right") - 1, 0, n_bins - 1)
    fine_mu = _fine_mu()
    weights = np.bincount(index, weights=signal, minlength=n_bins)
    mu = np.stack([np.bincount(index, weights=signal * row, minlength=n_bins) for row in fine_mu])
    energies = np.bincount(index, weights=signal * _FINE_E, minlength=n_bins)
    keep = weights > weights.sum() * 1e-6
    weights, mu, energies = weights[keep], mu[:, keep], energies[keep]
    mu = mu / weights
    energies = energies / weights
    total = weights.sum()
    # air kerma (uGy) per fluence spectrum, and photon count per kerma
    muen = np.exp(np.interp(np.log(_FINE_E), np.log(_AIR_E), np.log(_AIR_MUEN)))
    kerma_ugy = float(np.sum(fluence * _FINE_E * muen) * _KEV_TO_J * 1e3 * 1e6)
    photons_mm2 = float(fluence.sum()) / 100.0
    # noise-equivalent counts of an energy integrator: (sum N a E)^2 / (sum N a E^2) / sum N
    eff = float(signal.sum() ** 2 / np.sum(signal * _FINE_E) / fluence.sum())
    return Beam(
        kvp=float(kvp), al_mm=float(al_mm), cu_mm=float(cu_mm), detector=det,
        detector_mm=float(detector_mm), energies=energies, weights=weights / total, mu=mu,
        photons_per_mm2_per_ugy=photons_mm2 / kerma_ugy, efficiency=eff,
    )  # fmt: skip


def polychromatic_transmission(
    beam: Beam, paths: Mapping[Material, NDArray[np.floating] | float]
) -> NDArray[np.float64]:
    """Exact fine-grid transmission ``sum_E w(E) exp(-sum_m mu_m(E) L_m)`` for reference checks.

    Parameters
    ----------
    beam : Beam
        Only its acquisition parameters are used (the fine grid, not the bins).
    paths : dict of Material to float or ndarray (any shape, broadcastable)
        Path lengths in mm.

    Returns
    -------
    ndarray of float64
        Transmission relative to air, broadcast shape of the paths.
    """
    _, _, signal = _fine_signal(beam.kvp, beam.al_mm, beam.cu_mm, beam.detector, beam.detector_mm)
    fine_mu = _fine_mu()
    arrays = {m: np.asarray(v, dtype=np.float64) for m, v in paths.items()}
    shape = np.broadcast_shapes(*(a.shape for a in arrays.values())) if arrays else ()
    total = np.zeros((*shape, _FINE_E.size))
    for m, a in arrays.items():
        total += a[..., None] * fine_mu[_MATERIAL_INDEX[Material(m)]]
    return np.asarray(np.exp(-total) @ signal / signal.sum())
