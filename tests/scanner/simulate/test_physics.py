"""Physics checks against the figures in PHYSICS.md (140 kVp, 2.5 mm Al + 0.5 mm Cu)."""

from __future__ import annotations

import numpy as np
import pytest

from scanner.simulate._raster import Canvas
from scanner.simulate.contraband import make_contraband
from scanner.simulate.imaging import Acquisition, form_image
from scanner.simulate.materials import DetectorMaterial, Material
from scanner.simulate.spectrum import make_beam, polychromatic_transmission

ACQ = Acquisition(140.0, 2.5, 0.5, DetectorMaterial.CSI, 2.0, 1.0, (1.0, 1.0))


def _abdomen(shape: tuple[int, int]) -> Canvas:
    cv = Canvas(shape, (1.0, 1.0))
    cv.maps[Material.TISSUE][:] = 200.0
    cv.maps[Material.FAT][:] = 40.0
    return cv


def test_abdomen_transmission() -> None:
    """24 cm of tissue and fat transmit about 1.2 % (PHYSICS.md: 1.19 %)."""
    t = polychromatic_transmission(
        make_beam(140, 2.5, 0.5), {Material.TISSUE: 200.0, Material.FAT: 40.0}
    )
    assert 0.008 < float(t) < 0.016


def test_bone_contrast_behind_abdomen() -> None:
    """1.5 cm cortical bone behind the abdomen: log-contrast 0.60 within ±30 %."""
    cv = _abdomen((40, 40))
    cv.maps[Material.BONE][10:30, 10:30] = 15.0
    _, clean = form_image(cv, ACQ, np.random.default_rng(0), ideal=True)
    att = -np.log(clean)
    contrast = float(att[20, 20] - att[0, 0])
    assert contrast == pytest.approx(0.60, rel=0.30)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_smartphone_contrast_behind_abdomen(seed: int) -> None:
    """A face-on smartphone behind the abdomen: median log-contrast 0.41 within ±30 %."""
    from scanner.simulate.objects import splat

    cv = _abdomen((260, 160))
    model = make_contraband(np.random.default_rng(seed), "phone", "smartphone")
    placed = splat(cv, model, (80.0, 130.0), 0.0)
    assert placed is not None
    _, clean = form_image(cv, ACQ, np.random.default_rng(0), ideal=True)
    att = -np.log(clean)
    inside = att[placed.window][placed.coverage > 0.99] - att[0, 0]
    assert float(np.median(inside)) == pytest.approx(0.41, rel=0.30)


def test_binned_beam_matches_fine_spectrum() -> None:
    """The 12-bin sum reproduces the 1 keV polychromatic transmission within 3 %."""
    beam = make_beam(120, 2.0, 0.3, "CdWO4", 1.5)
    paths = {Material.TISSUE: 180.0, Material.FAT: 30.0, Material.STEEL: 1.0}
    exact = float(polychromatic_transmission(beam, paths))
    att = sum(beam.mu_of(m) * v for m, v in paths.items())
    binned = float(np.sum(beam.weights * np.exp(-att)))
    assert binned == pytest.approx(exact, rel=0.03)


def test_quantum_noise_follows_dose() -> None:
    """Noise in -ln(I) behind the abdomen at 0.25 µGy, 1 mm² is near PHYSICS.md's 0.11."""
    cv = _abdomen((200, 200))
    acq = Acquisition(140.0, 2.5, 0.5, DetectorMaterial.CSI, 3.0, 0.25, (1.0, 1.0),
                      scatter_fraction=0.0, blur_mm=(0.0, 0.0), electronic_noise=0.0, swank=1.0,
                      gain_sigma=0.0, line_sigma=0.0, dark_sigma=0.0)  # fmt: skip
    measured, _ = form_image(cv, acq, np.random.default_rng(1))
    sigma = float(np.std(-np.log(np.clip(measured, 1e-4, None))))
    assert 0.08 < sigma < 0.2
    quieter, _ = form_image(cv, acq.__class__(**{**acq.__dict__, "dose_ugy": 1.0}),
                            np.random.default_rng(1))  # fmt: skip
    assert float(np.std(-np.log(quieter))) == pytest.approx(sigma / 2, rel=0.15)


def test_low_counts_follow_poisson_statistics() -> None:
    """Behind dense material at low dose the counts are Poisson: whole photons, mean preserved."""
    cv = _abdomen((120, 120))
    cv.maps[Material.BONE][:] = 60.0
    acq = Acquisition(100.0, 2.5, 0.5, DetectorMaterial.CSI, 3.0, 0.1, (1.0, 1.0),
                      scatter_fraction=0.0, blur_mm=(0.0, 0.0), electronic_noise=0.0, swank=1.0,
                      gain_sigma=0.0, line_sigma=0.0, dark_sigma=0.0)  # fmt: skip
    measured, clean = form_image(cv, acq, np.random.default_rng(2))
    beam = acq.beam()
    n_air = beam.photons_per_mm2_per_ugy * acq.dose_ugy * beam.efficiency * acq.swank
    counts = measured.astype(np.float64) * n_air
    assert float(clean.mean()) * n_air < 30  # the Poisson regime
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-3)
    assert counts.min() > -1e-3
    assert float(counts.mean()) == pytest.approx(float(clean.mean()) * n_air, rel=0.05)


def test_blade_contrast_behind_abdomen() -> None:
    """A 0.3 mm steel blade face-on behind the abdomen: log-contrast 0.14 within ±30 %."""
    cv = _abdomen((40, 40))
    cv.add(Material.STEEL, (slice(10, 30), slice(10, 30)), np.full((20, 20), 0.3, np.float32))
    _, clean = form_image(cv, ACQ, np.random.default_rng(0), ideal=True)
    att = -np.log(clean)
    assert float(att[20, 20] - att[0, 0]) == pytest.approx(0.14, rel=0.30)
