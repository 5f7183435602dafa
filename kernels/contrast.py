"""Adaptive contrast: contrast-limited adaptive histogram equalisation (CLAHE).

The algorithm is the one of ``skimage.exposure.equalize_adapthist`` (scikit-image 0.26), step
for step, so the two agree to float rounding on integer input:

1. the image is scaled from [min, max] to 14-bit grey levels (``rint``) and binned into
   ``nbins`` bins of ``1 + 16384 // nbins`` levels;
2. it is mirror-padded ("reflect") by half a tile before and up to a whole number of tiles
   plus half a tile after; one histogram per tile of ``kernel_size`` (tiles start at the
   image's top-left corner);
3. each histogram is clipped at ``max(1, int(clip_limit * tile pixels))`` and the excess spread
   over the bins the same way as scikit-image, then turned into a grey-level map by its
   cumulative sum;
4. every pixel's output is the bilinear blend of the maps of the four nearest tiles, truncated
   to an integer grey level, and the result is rescaled from its [min, max] to [0, 1].
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import prange
from numpy.typing import NDArray

from kernels._config import jit, pjit, pjit_ieee, serialized
from kernels._validate import float_image, positive_scalar, real_scalar
from kernels.errors import KernelDtypeError, KernelInputError

__all__ = ["clahe"]

_GREY_LEVELS = 1 << 14


@pjit
def _quantize(image, low, high, out):  # type: ignore[no-untyped-def]
    """out = rint((image - low) / (high - low) * (levels - 1)) as integers."""
    rows, cols = image.shape
    span = high - low
    top = np.float64(_GREY_LEVELS - 1)
    for i in prange(rows):
        for j in range(cols):
            out[i, j] = np.uint16(np.rint((np.float64(image[i, j]) - low) / span * top))


@pjit
def _unit_range(levels, low, high, out):  # type: ignore[no-untyped-def]
    """out = (levels - low) / (high - low) as float32 (division in float64)."""
    rows, cols = levels.shape
    span = np.float64(high - low)
    for i in prange(rows):
        for j in range(cols):
            out[i, j] = np.float32((levels[i, j] - low) / span)


@jit
def _reflect(k, n):  # type: ignore[no-untyped-def]
    """numpy "reflect" padding index (c b | a b c | b a) of position ``k`` on an axis of ``n``."""
    if n == 1:
        return 0
    period = 2 * n - 2
    k = k % period
    if k >= n:
        k = period - k
    return k


@jit
def _clip_histogram(hist, clip):  # type: ignore[no-untyped-def]
    """Clip ``hist`` at ``clip`` and redistribute the excess (scikit-image's scheme); in place."""
    nbins = hist.shape[0]
    n_excess = 0
    for b in range(nbins):
        if hist[b] > clip:
            n_excess += hist[b] - clip
            hist[b] = clip
    bin_incr = n_excess // nbins
    upper = clip - bin_incr
    for b in range(nbins):
        if hist[b] < upper:
            hist[b] += bin_incr
            n_excess -= bin_incr
    for b in range(nbins):
        if upper <= hist[b] < clip:
            n_excess += hist[b] - clip
            hist[b] = clip
    under = np.empty(nbins, dtype=np.bool_)
    while n_excess > 0:
        previous = n_excess
        for index in range(nbins):
            n_under = 0
            for b in range(nbins):
                under[b] = hist[b] < clip
                if under[b]:
                    n_under += 1
            step = max(1, n_under // n_excess)
            for b in range(index, nbins, step):
                if under[b]:
                    hist[b] += 1
                    n_excess -= 1
            if n_excess <= 0:
                break
        if previous == n_excess:
            break


@pjit
def _binned_padded(grey, kr, kc, nbins):  # type: ignore[no-untyped-def]
    """Histogram bin of every pixel of the mirror-padded image (see the module notes)."""
    rows, cols = grey.shape
    bin_size = 1 + _GREY_LEVELS // nbins
    pr0 = kr // 2
    pc0 = kc // 2
    padded_rows = rows + pr0 + (kr - rows % kr) % kr + (kr + 1) // 2
    padded_cols = cols + pc0 + (kc - cols % kc) % kc + (kc + 1) // 2
    src = np.empty(padded_cols, dtype=np.int64)
    for pc in range(padded_cols):
        src[pc] = _reflect(pc - pc0, cols)
    to_bin = np.empty(_GREY_LEVELS, dtype=np.int32)
    for g in range(_GREY_LEVELS):
        to_bin[g] = g // bin_size
    binned = np.empty((padded_rows, padded_cols), dtype=np.int32)
    for pr in prange(padded_rows):
        line = grey[_reflect(pr - pr0, rows)]
        out = binned[pr]
        for pc in range(pc0):
            out[pc] = to_bin[line[src[pc]]]
        inner = out[pc0 : pc0 + cols]
        for j in range(cols):
            inner[j] = to_bin[line[j]]
        for pc in range(pc0 + cols, padded_cols):
            out[pc] = to_bin[line[src[pc]]]
    return binned


@pjit
def _tile_maps(binned, kr, kc, nbins, clip):  # type: ignore[no-untyped-def]
    """Clipped-histogram grey-level map of every tile, edge-padded by one tile."""
    padded_rows, padded_cols = binned.shape
    pr0 = kr // 2
    pc0 = kc // 2
    n_r = padded_rows // kr - 1
    n_c = padded_cols // kc - 1
    maps = np.empty((n_r + 2, n_c + 2, nbins), dtype=np.int64)
    scale = np.float64(_GREY_LEVELS - 1) / (kr * kc)
    for a in prange(n_r):
        hist = np.zeros(nbins, dtype=np.int64)
        for b in range(n_c):
            hist[:] = 0
            for pr in range(pr0 + a * kr, pr0 + (a + 1) * kr):
                line = binned[pr, pc0 + b * kc : pc0 + (b + 1) * kc]
                for j in range(kc):
                    hist[line[j]] += 1
            _clip_histogram(hist, clip)
            acc = 0
            for g in range(nbins):
                acc += hist[g]
                level = min(np.float64(acc) * scale, np.float64(_GREY_LEVELS - 1))
                maps[a + 1, b + 1, g] = np.int64(level)
    for a in range(n_r + 2):
        sa = min(max(a, 1), n_r)
        for b in range(n_c + 2):
            sb = min(max(b, 1), n_c)
            if sa != a or sb != b:
                maps[a, b, :] = maps[sa, sb, :]
    return maps


@pjit_ieee
def _blend(binned, maps, kr, kc, out):  # type: ignore[no-untyped-def]
    """Bilinear blend of the four nearest tile maps, truncated to integer levels.

    Float operations stay in scikit-image's order (no fast-math), so the truncation matches.
    """
    rows, cols = out.shape
    pr0 = kr // 2
    pc0 = kc // 2
    tile_col = np.empty(cols, dtype=np.int64)
    right = np.empty(cols, dtype=np.float64)
    left = np.empty(cols, dtype=np.float64)
    for j in range(cols):
        tile_col[j] = (j + pc0) // kc
        right[j] = np.float64((j + pc0) % kc) / kc
        left[j] = 1.0 - right[j]
    for i in prange(rows):
        pr = i + pr0
        p = pr // kr
        down = np.float64(pr % kr) / kr
        up = 1.0 - down
        for j in range(cols):
            q = tile_col[j]
            g = binned[pr, j + pc0]
            cc = right[j]
            ic = left[j]
            acc = np.float32(0.0)
            acc += np.float32(maps[p, q, g] * (ic * up))
            acc += np.float32(maps[p, q + 1, g] * (cc * up))
            acc += np.float32(maps[p + 1, q, g] * (ic * down))
            acc += np.float32(maps[p + 1, q + 1, g] * (cc * down))
            out[i, j] = np.int32(acc)


def _kernel_size(value: Any, shape: tuple[int, int]) -> tuple[int, int]:
    if value is None:
        return (max(shape[0] // 8, 1), max(shape[1] // 8, 1))
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        items = [int(value), int(value)]
    else:
        try:
            items = [int(v) for v in value]
        except (TypeError, ValueError) as exc:
            raise KernelDtypeError(
                f"kernel_size must be an int or a (rows, cols) pair of ints, got {value!r}"
            ) from exc
    if len(items) != 2 or min(items) < 1:
        raise KernelInputError(f"kernel_size must be positive (rows, cols) ints, got {value!r}")
    return (items[0], items[1])


@serialized
def clahe(
    image: NDArray[Any],
    kernel_size: int | tuple[int, int] | None = None,
    clip_limit: float = 0.01,
    nbins: int = 256,
) -> NDArray[np.float32]:
    """Contrast-limited adaptive histogram equalisation (see the module notes).

    Parameters
    ----------
    image : ndarray, shape (rows, cols)
        Any range; it is scaled from its own [min, max].
    kernel_size : int or (int, int), optional
        Tile (contextual region) size in pixels; default 1/8 of the image per axis.
    clip_limit : float
        Fraction of a tile's pixels one bin may hold (0 to 1; 0 means no clipping, plain
        adaptive equalisation). Higher gives more contrast (and noise).
    nbins : int
        Histogram bins, 2 to 16384.

    Returns
    -------
    ndarray of float32, shape (rows, cols)
        Values in [0, 1]; all 0 for a constant image, all 1 when every pixel gets the same
        non-zero level (e.g. one-pixel tiles), as in scikit-image.
    """
    img = float_image(image)
    shape = (int(img.shape[0]), int(img.shape[1]))
    kr, kc = _kernel_size(kernel_size, shape)
    limit = real_scalar(clip_limit, "clip_limit")
    if not 0.0 <= limit <= 1.0:
        raise KernelInputError(f"clip_limit must be between 0 and 1, got {limit}")
    if isinstance(nbins, bool) or not isinstance(nbins, (int, np.integer)):
        raise KernelDtypeError(f"nbins must be an int, got {nbins!r}")
    if not 2 <= nbins <= _GREY_LEVELS:
        raise KernelInputError(f"nbins must be between 2 and {_GREY_LEVELS}, got {nbins}")
    low = float(img.min())
    high = float(img.max())
    if high == low:
        return np.zeros(shape, dtype=np.float32)
    grey = np.empty(shape, dtype=np.uint16)
    _quantize(img, low, high, grey)
    elements = kr * kc
    clip = max(int(positive_scalar(limit * elements, "clip")), 1) if limit > 0.0 else elements
    levels = np.empty(shape, dtype=np.int32)
    binned = _binned_padded(grey, kr, kc, int(nbins))
    maps = _tile_maps(binned, kr, kc, int(nbins), int(clip))
    _blend(binned, maps, kr, kc, levels)
    lo = int(levels.min())
    hi = int(levels.max())
    if hi == lo:
        # Every pixel got the same level (e.g. one-pixel tiles): 1, or 0 for level 0.
        return np.full(shape, min(hi, 1), dtype=np.float32)
    out = np.empty(shape, dtype=np.float32)
    _unit_range(levels, lo, hi, out)
    return out
