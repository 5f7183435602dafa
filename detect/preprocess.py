"""Scan → model input tensor. Training and inference both use :func:`preprocess`.

Steps (the detector contract): attenuation → :func:`kernels.destripe` (optional) →
:func:`kernels.resample` to the working pitch → ``clip(attenuation * scale, 0, clip_max)`` →
zero-pad bottom/right to a multiple of ``pad_multiple`` → float32 tensor ``[1, 1, H, W]``.
"""

from __future__ import annotations

import itertools
import logging
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from detect.errors import InputError
from kernels import KernelError, destripe, resample, resize
from models.manifest import InputSpec

__all__ = [
    "Enlarged",
    "InputSpec",
    "Preprocessed",
    "Tile",
    "Window",
    "content_window",
    "enlarge",
    "preprocess",
    "tile_window",
]

logger = logging.getLogger(__name__)


#: Smallest scan side (in original pixels) the detector accepts.
MIN_SIDE = 8
#: Attenuation above which a working pixel counts as content (air noise is ~0.01-0.02).
CONTENT_THRESHOLD = 0.1
#: Working pixels of air kept around the content (64 mm at 2 mm pitch).
CONTENT_MARGIN = 32
#: Largest working image accepted (pixels); 16 M is 8 m x 8 m at 2 mm (6.4 m at 1.6 mm), far beyond
#: any body scan.
MAX_WORKING_PIXELS = 16_000_000
#: Largest model input side (working pixels) run in one piece; larger windows are tiled.
MAX_TILE = 1536
#: Overlap of neighbouring tiles (working pixels); objects up to this size lie whole in a tile.
TILE_OVERLAP = 192


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
    pitch = float(spec.pitch_mm)
    work_px = round(arr.shape[0] * spacing[0] / pitch) * round(arr.shape[1] * spacing[1] / pitch)
    if work_px > MAX_WORKING_PIXELS:
        raise InputError(
            f"a {arr.shape[0]}x{arr.shape[1]} image at {spacing[0]:g} x {spacing[1]:g} mm per "
            f"pixel covers {arr.shape[0] * spacing[0] / 1000:.1f} m x "
            f"{arr.shape[1] * spacing[1] / 1000:.1f} m, far more than a body scan; the pixel "
            "spacing is probably wrong (check PixelSpacing / ImagerPixelSpacing, or the spacing "
            "given with a PNG/TIFF)"
        )
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
class Enlarged:
    """A model input enlarged for the zoom test (``OutputSpec.zoom_test``).

    Attributes
    ----------
    tensor : ndarray of float32, shape (1, 1, H, W)
        The enlarged image, zero-padded bottom/right to a multiple of ``pad_multiple``.
    factor : tuple of float
        (row, col) enlarged pixels per input pixel: the requested factor after rounding the size.
    valid_shape : tuple of int
        (rows, cols) of the enlarged image before padding.
    """

    tensor: NDArray[np.float32]
    factor: tuple[float, float]
    valid_shape: tuple[int, int]


def enlarge(image: NDArray[np.float32], factor: float, spec: InputSpec) -> Enlarged:
    """Enlarge a model input (bilinear, :func:`kernels.resize`) for the zoom-test pass.

    Calibration and the detector both enlarge through this function, so the calibrated
    confidences describe what the detector computes.

    Parameters
    ----------
    image : ndarray of float32, shape (h, w)
        The unpadded model input (``clip(attenuation * scale, 0, clip_max)``).
    factor : float
        Enlargement, > 1.
    spec : InputSpec
        Gives the padding multiple.

    Returns
    -------
    Enlarged

    Raises
    ------
    InputError
        If the image is empty or the factor is not above 1.
    """
    if not factor > 1.0 or not math.isfinite(factor):
        raise InputError(f"zoom factor must be a finite number above 1, got {factor!r}")
    h, w = image.shape
    if h < 1 or w < 1:
        raise InputError(f"cannot enlarge an empty model input of shape {image.shape}")
    eh, ew = round(h * factor), round(w * factor)
    m = spec.pad_multiple
    tensor = np.zeros((1, 1, -(-eh // m) * m, -(-ew // m) * m), dtype=np.float32)
    tensor[0, 0, :eh, :ew] = resize(image, (eh, ew))
    return Enlarged(tensor=tensor, factor=(eh / h, ew / w), valid_shape=(eh, ew))


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


@dataclass(frozen=True)
class Tile:
    """One piece of a tiled window: the model runs on ``window``, and keeps the peaks in ``core``.

    The cores of a window's tiles partition it; each core lies at least half the tile overlap
    inside its tile (except at the window's own border), so an object whose centre is in the
    core and that is no larger than the overlap is seen whole by that tile.
    """

    window: Window
    core: Window


def _starts(lo: int, hi: int, tile: int, overlap: int, multiple: int) -> list[int]:
    length = hi - lo
    if length <= tile:
        return [lo]
    step = max(multiple, (tile - overlap) // multiple * multiple)
    n = 1 + -(-(length - tile) // step)
    last = hi - tile
    return [min(last, lo + i * step) for i in range(n - 1)] + [last]


def _cores(starts: list[int], tile: int, lo: int, hi: int) -> list[tuple[int, int]]:
    cuts = [lo] + [(b + a + tile) // 2 for a, b in itertools.pairwise(starts)] + [hi]
    return list(itertools.pairwise(cuts))


def tile_window(
    window: Window,
    spec: InputSpec,
    *,
    max_tile: int = MAX_TILE,
    overlap: int = TILE_OVERLAP,
) -> list[Tile]:
    """Split a window into overlapping tiles no larger than ``max_tile`` per side.

    A window that fits is returned as one tile (the usual case: a 2 m body scan at 2 mm is about
    1000 x 400 working pixels). Tile corners stay on multiples of ``spec.pad_multiple``, so the
    network sees every pixel at the same phase of its strides as in the whole image.

    Parameters
    ----------
    window : Window
        Window of the preprocessed tensor (corners on multiples of ``spec.pad_multiple``).
    spec : InputSpec
        The input section the tensor was made with.
    max_tile : int
        Largest tile side in working pixels; rounded down to a multiple of ``pad_multiple``.
    overlap : int
        Overlap of neighbouring tiles in working pixels; must be smaller than ``max_tile``.

    Returns
    -------
    list of Tile
        Row-major; their cores partition ``window``.

    Raises
    ------
    InputError
        If ``overlap`` is not smaller than the tile size.
    """
    m = spec.pad_multiple
    tile = max(m, max_tile // m * m)
    if not 0 <= overlap < tile:
        raise InputError(
            f"tile overlap {overlap} must be at least 0 and smaller than the tile size {tile}"
        )
    rows = _starts(window.row0, window.row1, tile, overlap, m)
    cols = _starts(window.col0, window.col1, tile, overlap, m)
    row_cores = _cores(rows, tile, window.row0, window.row1)
    col_cores = _cores(cols, tile, window.col0, window.col1)
    out = []
    for r, (cr0, cr1) in zip(rows, row_cores, strict=True):
        for c, (cc0, cc1) in zip(cols, col_cores, strict=True):
            out.append(
                Tile(
                    window=Window(r, min(r + tile, window.row1), c, min(c + tile, window.col1)),
                    core=Window(cr0, cr1, cc0, cc1),
                )
            )
    return out
