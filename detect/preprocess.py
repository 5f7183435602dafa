"""Scan → model input tensor. Training and inference both use :func:`preprocess`.

Steps (the detector contract): attenuation → :func:`kernels.destripe` (optional) →
:func:`kernels.resample` to the working pitch → ``clip(attenuation * scale, 0, clip_max)`` →
zero-pad bottom/right to a multiple of ``pad_multiple`` → float32 tensor ``[1, 1, H, W]``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from detect.errors import InputError
from kernels import KernelError, destripe, resample
from models.manifest import InputSpec

__all__ = ["InputSpec", "Preprocessed", "Window", "content_window", "preprocess"]

logger = logging.getLogger(__name__)


#: Smallest scan side (in original pixels) the detector accepts.
MIN_SIDE = 8
#: Attenuation above which a working pixel counts as content (air noise is ~0.01-0.02).
CONTENT_THRESHOLD = 0.1
#: Working pixels of air kept around the content (64 mm at 2 mm pitch).
CONTENT_MARGIN = 32


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
            arr = destripe(arr)
        work = resample(arr, (float(spacing[0]), float(spacing[1])), float(spec.pitch_mm)).image
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


@dataclass(frozen=True)
class Window:
    """A window ``[row0:row1, col0:col1]`` of a preprocessed tensor, in working pixels."""

    row0: int
    row1: int
    col0: int
    col1: int

    @property
    def origin(self) -> tuple[int, int]:
        """(row0, col0)."""
        return (self.row0, self.col0)

    def valid_shape(self, pre: Preprocessed) -> tuple[int, int]:
        """Shape of the part of the window inside ``pre.valid_shape``."""
        return (
            max(0, min(self.row1, pre.valid_shape[0]) - self.row0),
            max(0, min(self.col1, pre.valid_shape[1]) - self.col0),
        )

    def crop(self, pre: Preprocessed) -> NDArray[np.float32]:
        """The window of ``pre.tensor`` as a contiguous [1, 1, h, w] array."""
        return np.ascontiguousarray(pre.tensor[:, :, self.row0 : self.row1, self.col0 : self.col1])


def content_window(
    pre: Preprocessed,
    spec: InputSpec,
    *,
    threshold: float = CONTENT_THRESHOLD,
    min_pixels: int = 3,
    margin: int = CONTENT_MARGIN,
) -> Window:
    """Smallest aligned window of the tensor holding everything denser than air.

    Rows and columns with fewer than ``min_pixels`` pixels above ``threshold`` (attenuation) are
    air; the window spans the rest plus ``margin`` working pixels, with its corners on multiples
    of ``spec.pad_multiple`` (so the network sees the content at the same phase of its strides
    as in the full tensor). Outside the window the tensor holds only air and padding.

    Parameters
    ----------
    pre : Preprocessed
        Output of :func:`preprocess`.
    spec : InputSpec
        The input section the tensor was made with.
    threshold : float
        Attenuation above which a pixel is content.
    min_pixels : int
        A row or column needs this many content pixels (ignores isolated noise).
    margin : int
        Working pixels of air kept around the content.

    Returns
    -------
    Window
        The whole tensor when nothing is above the threshold.
    """
    h, w = pre.valid_shape
    full_h, full_w = pre.tensor.shape[2], pre.tensor.shape[3]
    content = pre.tensor[0, 0, :h, :w] > np.float32(threshold * spec.scale)
    rows = np.flatnonzero(np.count_nonzero(content, axis=1) >= min_pixels)
    cols = np.flatnonzero(np.count_nonzero(content, axis=0) >= min_pixels)
    if rows.size == 0 or cols.size == 0:
        return Window(0, full_h, 0, full_w)
    m = spec.pad_multiple

    def span(first: int, last: int, size: int) -> tuple[int, int]:
        lo = max(0, first - margin) // m * m
        hi = min(size, -(-(last + 1 + margin) // m) * m)
        return lo, hi

    r0, r1 = span(int(rows[0]), int(rows[-1]), full_h)
    c0, c1 = span(int(cols[0]), int(cols[-1]), full_w)
    return Window(r0, r1, c0, c1)
