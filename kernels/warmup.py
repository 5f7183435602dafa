"""Compile (or load from the on-disk cache) every kernel before the first real scan."""

from __future__ import annotations

import logging
import time

import numpy as np

from kernels.contrast import clahe
from kernels.denoise import denoise
from kernels.destripe import destripe
from kernels.display import pseudo_colour, window_level
from kernels.enhance import gaussian_blur, unsharp
from kernels.mask import body_bounds, body_mask
from kernels.normalize import counts_to_attenuation, estimate_air_level
from kernels.resample import resample

__all__ = ["warmup"]

logger = logging.getLogger(__name__)


def warmup() -> float:
    """Run every kernel once on tiny inputs so later calls do not compile.

    With the on-disk cache warm (a restart) this takes well under a second; the first run on a
    machine compiles everything (tens of seconds).

    Returns
    -------
    float
        Elapsed seconds.
    """
    start = time.perf_counter()
    yy, xx = np.mgrid[0:24, 0:16]
    attenuation = np.where((yy - 12) ** 2 / 80 + (xx - 8) ** 2 / 20 < 1, 2.0, 0.0).astype(
        np.float32
    )
    counts = (4000.0 * np.exp(-attenuation)).astype(np.uint16)
    air = estimate_air_level(counts)
    counts_to_attenuation(counts, air)
    counts_to_attenuation(counts.astype(np.float32), air)
    counts_to_attenuation(counts, flat=np.full(16, air, np.float32))
    counts_to_attenuation(counts.astype(np.float32), flat=np.full(16, air, np.float32))
    image = destripe(attenuation)
    destripe(attenuation, axis=1)
    resample(image, (1.0, 1.0), (2.0, 1.5))
    resample(image, (2.0, 2.0), 1.0)
    mask = body_mask(image)
    body_bounds(mask)
    denoise(image, 0.1)
    unsharp(image)
    gaussian_blur(image, 1.0)
    clahe(image)
    grey = window_level(image, 2.0, 1.0)
    window_level(image, 2.0, 1.0, gamma=0.8)
    pseudo_colour(grey, "density")
    pseudo_colour(grey, np.zeros((256, 3), np.uint8))
    elapsed = time.perf_counter() - start
    logger.info("kernels warmed up in %.2f s", elapsed)
    return elapsed
