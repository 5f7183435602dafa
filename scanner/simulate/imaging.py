"""Image formation: polychromatic Beer–Lambert, scatter, blur, quantum and electronic noise,
detector channel gains, dark offset and flat-field correction.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from scanner.simulate._raster import Canvas
from scanner.simulate.materials import DetectorMaterial, Material
from scanner.simulate.spectrum import Beam, make_beam

__all__ = ["Acquisition", "form_image", "transmission"]


@dataclass(frozen=True)
class Acquisition:
    """Every physical setting of one simulated acquisition (randomised per scan).

    Attributes
    ----------
    kvp, al_mm, cu_mm : float
        Tube voltage and added filtration.
    detector : DetectorMaterial
    detector_mm : float
        Scintillator thickness.
    dose_ugy : float
        Entrance air kerma per scan (µGy).
    pitch_mm : (float, float)
        Pixel spacing (row, col).
    scatter_fraction, scatter_sigma_mm : float
        Additive blurred scatter (fraction of the blurred primary) and its kernel width.
    blur_mm : (float, float)
        Gaussian focal-spot/motion blur sigma (row, col) of the signal.
    crosstalk_px : float
        Gaussian sigma (pixels) of optical cross-talk between detector elements, which also
        correlates the quantum noise.
    electronic_noise : float
        Electronic noise sigma in photon equivalents per pixel.
    swank : float
        Scintillator Swank factor (noise-equivalent fraction).
    gain_sigma, line_sigma, dark_sigma : float
        Residual channel gain error after flat-field, tube-output fluctuation per line, and
        residual dark offset (fraction of air signal).
    channel_axis : int
        Image axis along which detector channels are arrayed (0: rows are channels, stripes are
        horizontal; 1: columns are channels, stripes are vertical).
    bad_channels : int
        Channels left badly corrected (gain off by 3–30 %).
    heel : float
        Amplitude of the smooth residual intensity drift along the detector (heel effect).
    """

    kvp: float
    al_mm: float
    cu_mm: float
    detector: DetectorMaterial
    detector_mm: float
    dose_ugy: float
    pitch_mm: tuple[float, float]
    scatter_fraction: float = 0.03
    scatter_sigma_mm: float = 40.0
    blur_mm: tuple[float, float] = (0.4, 0.4)
    crosstalk_px: float = 0.0
    electronic_noise: float = 2.0
    swank: float = 0.9
    gain_sigma: float = 0.003
    line_sigma: float = 0.002
    dark_sigma: float = 0.0005
    channel_axis: int = 1
    bad_channels: int = 0
    heel: float = 0.0

    def beam(self, n_bins: int = 12) -> Beam:
        """The binned beam for this acquisition."""
        return make_beam(self.kvp, self.al_mm, self.cu_mm, self.detector, self.detector_mm, n_bins)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready mapping."""
        out = asdict(self)
        out["detector"] = self.detector.value
        out["pitch_mm"] = list(self.pitch_mm)
        out["blur_mm"] = list(self.blur_mm)
        return out


def transmission(canvas: Canvas, beam: Beam) -> NDArray[np.float32]:
    """Noise-free polychromatic transmission ``sum_b w_b exp(-sum_m mu_mb L_m)``.

    Parameters
    ----------
    canvas : Canvas
        Material path lengths, shape (rows, cols).
    beam : Beam

    Returns
    -------
    ndarray of float32, shape (rows, cols)
        Detected signal relative to air (1 in air).
    """
    shape = canvas.shape
    body = [(m, canvas.maps[m]) for m in canvas.maps if np.any(canvas.maps[m])]
    out = np.zeros(shape, dtype=np.float32)
    att = np.empty(shape, dtype=np.float32)
    tmp = np.empty(shape, dtype=np.float32)
    mus = {m: beam.mu_of(m).astype(np.float32) for m in Material}
    for b in range(beam.weights.size):
        att.fill(0.0)
        for m, path in body:
            np.multiply(path, mus[m][b], out=tmp)
            att += tmp
        for p in canvas.patches:
            att[p.window] += p.path * mus[p.material][b]
        np.negative(att, out=att)
        np.exp(att, out=att)
        att *= np.float32(beam.weights[b])
        out += att
    return out


def _smooth(image: NDArray[np.float32], sigma_px: tuple[float, float]) -> NDArray[np.float32]:
    """Wide Gaussian blur done on a block-averaged copy (fast for scatter kernels)."""
    k = max(1, int(min(sigma_px) / 3))
    if k == 1:
        return ndimage.gaussian_filter(image, sigma_px, mode="nearest")
    rows, cols = image.shape
    r, c = rows // k * k, cols // k * k
    small = image[:r, :c].reshape(r // k, k, c // k, k).mean(axis=(1, 3))
    small = ndimage.gaussian_filter(small, (sigma_px[0] / k, sigma_px[1] / k), mode="nearest")
    big = ndimage.zoom(small, (rows / small.shape[0], cols / small.shape[1]), order=1,
                       mode="nearest", grid_mode=True)  # fmt: skip
    return big.astype(np.float32)


def form_image(
    canvas: Canvas,
    acq: Acquisition,
    rng: np.random.Generator,
    *,
    n_bins: int = 12,
    ideal: bool = False,
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Simulate the detector image.

    Parameters
    ----------
    canvas : Canvas
        Material path lengths, shape (rows, cols).
    acq : Acquisition
    rng : numpy.random.Generator
    n_bins : int
        Energy bins.
    ideal : bool
        Skip scatter, blur, noise and gain errors (exact polychromatic transmission).

    Returns
    -------
    measured : ndarray of float32, shape (rows, cols)
        Flat-fielded transmission ``I / I_air`` with all detector effects (can exceed 1 by noise).
    clean : ndarray of float32, shape (rows, cols)
        Noise-free primary transmission.
    """
    beam = acq.beam(n_bins)
    clean = transmission(canvas, beam)
    if ideal:
        return clean.copy(), clean
    pr, pc = acq.pitch_mm
    img = clean
    if acq.scatter_fraction > 0:
        scatter = _smooth(clean, (acq.scatter_sigma_mm / pr, acq.scatter_sigma_mm / pc))
        total = clean + np.float32(acq.scatter_fraction) * scatter
        img = (total / np.float32(1 + acq.scatter_fraction)).astype(np.float32)
    n_air = beam.photons_per_mm2_per_ugy * acq.dose_ugy * pr * pc * beam.efficiency * acq.swank
    n_air = max(n_air, 1.0)
    # focal-spot and motion blur act on the signal; quantum noise follows; optical cross-talk
    # between detector elements then correlates the noise; electronic noise is white
    sig = (acq.blur_mm[0] / pr, acq.blur_mm[1] / pc)
    if max(sig) > 0.05:
        img = ndimage.gaussian_filter(img, sig, mode="nearest", truncate=3.0)
    noise = rng.standard_normal(img.shape, dtype=np.float32)
    noise *= np.sqrt(np.maximum(img, 0) * np.float32(1.0 / n_air))
    # Poisson statistics where few photons arrive (behind metal, low dose); Gaussian elsewhere
    low = img * np.float32(n_air) < 30.0
    if low.any():
        expected = np.maximum(img[low], 0) * n_air
        noise[low] = (rng.poisson(expected) - expected).astype(np.float32) / np.float32(n_air)
    img = img + noise
    if acq.crosstalk_px > 0.05:
        img = ndimage.gaussian_filter(img, acq.crosstalk_px, mode="nearest", truncate=3.0)
    if acq.electronic_noise > 0:
        electronic = rng.standard_normal(img.shape, dtype=np.float32)
        electronic *= np.float32(acq.electronic_noise / n_air)
        img += electronic
    rows, cols = img.shape
    n_channels = (rows, cols)[acq.channel_axis]
    n_lines = (rows, cols)[1 - acq.channel_axis]
    gain = 1.0 + np.asarray(rng.normal(0.0, acq.gain_sigma, n_channels))
    if acq.heel > 0:
        u = np.linspace(-1.0, 1.0, n_channels)
        gain *= 1.0 + acq.heel * (rng.uniform(-1, 1) * u + rng.uniform(-1, 1) * (u * u - 0.5))
    for _ in range(acq.bad_channels):
        gain[int(rng.integers(n_channels))] *= rng.choice([-1.0, 1.0]) * rng.uniform(0.03, 0.3) + 1
    dark = np.asarray(rng.normal(0.0, acq.dark_sigma, n_channels))
    line = 1.0 + ndimage.gaussian_filter1d(
        rng.normal(0.0, acq.line_sigma, n_lines) * 3.0, 3.0, mode="nearest"
    )
    if acq.channel_axis == 1:
        img = img * (gain[None, :] * line[:, None]).astype(np.float32) + dark[None, :].astype(
            np.float32
        )
    else:
        img = img * (gain[:, None] * line[None, :]).astype(np.float32) + dark[:, None].astype(
            np.float32
        )
    return img.astype(np.float32), clean
