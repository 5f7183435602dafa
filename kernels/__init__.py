"""Numba image kernels of ScanGuard.

Every public function validates its input (raising :class:`KernelInputError` /
:class:`KernelDtypeError`, which are ``ValueError`` / ``TypeError``) and calls private, cached,
compiled kernels. Images are 2-D ``(rows, cols)`` arrays; rows run along the body's height.
Results are new float32 arrays (uint8 for display) and inputs are never modified.

Call :func:`warmup` once at start-up so no request pays for compilation.
"""

import logging

from kernels._config import set_threads
from kernels.contrast import clahe
from kernels.denoise import denoise, estimate_noise
from kernels.destripe import DEFAULT_STRIPE_SIGMA, destripe, stripe_profile
from kernels.display import ColourMap, colour_lut, pseudo_colour, window_level
from kernels.enhance import gaussian_blur, unsharp
from kernels.errors import EmptyMaskError, KernelDtypeError, KernelError, KernelInputError
from kernels.mask import DEFAULT_BODY_THRESHOLD, BodyBounds, axis_run, body_bounds, body_mask
from kernels.normalize import (
    DEFAULT_EPSILON,
    counts_to_attenuation,
    estimate_air_level,
    grid_sample,
    log_to_attenuation,
    to_unit_range,
)
from kernels.resample import Resampled, resample, resize
from kernels.warmup import warmup

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "DEFAULT_BODY_THRESHOLD",
    "DEFAULT_EPSILON",
    "DEFAULT_STRIPE_SIGMA",
    "BodyBounds",
    "ColourMap",
    "EmptyMaskError",
    "KernelDtypeError",
    "KernelError",
    "KernelInputError",
    "Resampled",
    "axis_run",
    "body_bounds",
    "body_mask",
    "clahe",
    "colour_lut",
    "counts_to_attenuation",
    "denoise",
    "destripe",
    "estimate_air_level",
    "estimate_noise",
    "gaussian_blur",
    "grid_sample",
    "log_to_attenuation",
    "pseudo_colour",
    "resample",
    "resize",
    "set_threads",
    "stripe_profile",
    "to_unit_range",
    "unsharp",
    "warmup",
    "window_level",
]
