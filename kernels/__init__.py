"""Numba image kernels of ScanGuard: normalisation, resampling, display (more to come).

Every public function validates its input (raising :class:`KernelInputError` /
:class:`KernelDtypeError`, which are ``ValueError`` / ``TypeError``) and calls a private, cached,
compiled kernel. Arrays are ``(rows, cols)``; rows run along the body's height.
"""

from kernels._config import set_threads
from kernels.display import ColourMap, colour_lut, pseudo_colour, window_level
from kernels.errors import EmptyMaskError, KernelDtypeError, KernelError, KernelInputError
from kernels.normalize import (
    DEFAULT_EPSILON,
    counts_to_attenuation,
    estimate_air_level,
    log_to_attenuation,
    to_unit_range,
)
from kernels.resample import Resampled, resample, resize

__all__ = [
    "DEFAULT_EPSILON",
    "ColourMap",
    "EmptyMaskError",
    "KernelDtypeError",
    "KernelError",
    "KernelInputError",
    "Resampled",
    "colour_lut",
    "counts_to_attenuation",
    "estimate_air_level",
    "log_to_attenuation",
    "pseudo_colour",
    "resample",
    "resize",
    "set_threads",
    "to_unit_range",
    "window_level",
]
