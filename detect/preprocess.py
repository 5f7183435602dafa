"""Scan → model input tensor. Training and inference both use :func:`preprocess`.

Steps (the detector contract): attenuation → destripe (optional) → resample to the working pitch
→ ``clip(attenuation * scale, 0, clip_max)`` → zero-pad bottom/right to a multiple of
``pad_multiple`` → float32 tensor ``[1, 1, H, W]``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from detect.errors import InputError
from kernels import KernelError
from kernels import resample as _resample
from models.manifest import InputSpec

__all__ = ["InputSpec", "Preprocessed", "preprocess"]

logger = logging.getLogger(__name__)

_Filter = Callable[[NDArray[np.float32]], NDArray[np.float32]]
_destripe: _Filter
try:
    from kernels.destripe import destripe as _kernel_destripe

    _destripe = _kernel_destripe
except ImportError:  # kernels without destripe: use the scipy stand-in
    from detect._fallback import destripe as _fallback_destripe

    _destripe = _fallback_destripe

#: Smallest scan side (in original pixels) the detector accepts.
MIN_SIDE = 8


@dataclass(frozen=True)
class Preprocessed:
    """The model input of one scan and how it maps back to the original image.

    Attributes
    ----------
    tensor : ndarray of float32, shape (1, 1, H, W)
        Model input; H and W are multiples of ``InputSpec.pad_multiple``.
    scale : tuple of float
        (row_factor, col_factor): original pixels per working pixel along rows and columns.
        A working-pixel coordinate ``(y, x)`` (pixel edges at integers) is
        ``(y * row_factor, x * col_factor)`` in the original image.
    valid_shape : tuple of int
        (h, w) of the resampled image before padding.
    """

    tensor: NDArray[np.float32]
    scale: tuple[float, float]
    valid_shape: tuple[int, int]


def _check_inputs(image: NDArray[np.float32], spacing: tuple[float, float]) -> NDArray[np.float32]:
    arr = np.asarray(image)
    if arr.ndim != 2:
        raise InputError(
            f"image must be 2-D (rows, cols), got shape {arr.shape}; pass a single-frame "
            "greyscale scan"
        )
    if min(arr.shape) < MIN_SIDE:
        raise InputError(
            f"image of shape {arr.shape} is too small; both sides need at least {MIN_SIDE} pixels"
        )
    if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise InputError(f"image must hold real numbers, got dtype {arr.dtype}")
    if len(spacing) != 2 or not all(math.isfinite(s) and s > 0 for s in spacing):
        raise InputError(
            f"spacing must be two positive finite numbers (row, col) in mm, got {spacing!r}"
        )
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if not (math.isfinite(float(arr.min())) and math.isfinite(float(arr.max()))):
        raise InputError(
            "image contains NaN or infinite values; normalise it with scanner.read_scan or "
            "replace non-finite pixels before detection"
        )
    return arr


def preprocess(
    image: NDArray[np.float32], spacing: tuple[float, float], spec: InputSpec
) -> Preprocessed:
    """Turn an attenuation image into the model's input tensor.

    Parameters
    ----------
    image : ndarray of float32, shape (rows, cols)
        Line integral ``-ln(I / I_air)`` (``Scan.image``).
    spacing : tuple of float
        (row, col) pixel spacing in mm.
    spec : InputSpec
        Input section of the model manifest.

    Returns
    -------
    Preprocessed
        Tensor ``[1, 1, H, W]``, original-per-working pixel scale and the unpadded shape.

    Raises
    ------
    InputError
        If the image is not 2-D, too small, non-finite, or the spacing is not positive.
    """
    arr = _check_inputs(image, spacing)
    try:
        if spec.destripe:
            arr = _destripe(arr)
        work = _resample(arr, (float(spacing[0]), float(spacing[1])), float(spec.pitch_mm)).image
    except KernelError as exc:
        raise InputError(f"cannot preprocess the scan: {exc}") from exc
    h, w = int(work.shape[0]), int(work.shape[1])
    m = spec.pad_multiple
    padded_h, padded_w = -(-h // m) * m, -(-w // m) * m
    tensor = np.zeros((1, 1, padded_h, padded_w), dtype=np.float32)
    np.multiply(work, np.float32(spec.scale), out=tensor[0, 0, :h, :w])
    np.clip(tensor[0, 0, :h, :w], 0.0, np.float32(spec.clip_max), out=tensor[0, 0, :h, :w])
    scale = (arr.shape[0] / h, arr.shape[1] / w)
    return Preprocessed(tensor=tensor, scale=scale, valid_shape=(h, w))
