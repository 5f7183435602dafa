"""Body mask: the largest connected region clearly above air, and its bounding box.

``body_mask`` equals, pixel for pixel::

    smooth = scipy.ndimage.uniform_filter(image, size=smooth)        # mode "reflect"
    labels = skimage.measure.label(smooth > threshold, connectivity=2)
    mask = labels == (label of the largest region; the first in raster order on a tie)
    mask = scipy.ndimage.binary_fill_holes(mask)                     # if fill_holes

The kernel labels runs of foreground pixels rather than pixels (a body row holds a handful of
runs), so the union-find works on a few thousand items.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numba import prange
from numpy.typing import NDArray

from kernels._config import jit, pjit, serialized
from kernels._validate import as_array, check_2d, float_image, real_scalar
from kernels.errors import EmptyMaskError, KernelDtypeError, KernelInputError

__all__ = ["DEFAULT_BODY_THRESHOLD", "BodyBounds", "axis_run", "body_bounds", "body_mask"]

#: Attenuation above which a (smoothed) pixel is taken for body: well above air noise, below
#: the thinnest body parts (hands, hair ~0.2-0.5).
DEFAULT_BODY_THRESHOLD = 0.15


@pjit
def _box_mean_rows(image, size, out):  # type: ignore[no-untyped-def]
    """Mean over ``size`` columns, mirrored edges ("reflect": d c b a | a b c d | d c b a)."""
    rows, cols = image.shape
    half = size // 2
    period = 2 * cols
    src = np.empty(cols + size - 1, dtype=np.int64)
    for p in range(cols + size - 1):
        k = (p - half) % period
        src[p] = k if k < cols else period - 1 - k
    inv = np.float32(1.0 / size)
    for i in prange(rows):
        padded = np.empty(cols + size - 1, dtype=np.float32)
        padded[half : half + cols] = image[i]  # contiguous copy; only the margins are gathered
        for p in range(half):
            padded[p] = image[i, src[p]]
        for p in range(half + cols, cols + size - 1):
            padded[p] = image[i, src[p]]
        acc = np.zeros(cols, dtype=np.float32)
        for t in range(size):
            shifted = padded[t : t + cols]  # a slice vectorises, padded[j + t] does not
            for j in range(cols):
                acc[j] += shifted[j]
        for j in range(cols):
            out[i, j] = acc[j] * inv


@pjit
def _box_mean_cols_threshold(image, size, threshold, out):  # type: ignore[no-untyped-def]
    """out = (mean over ``size`` rows, mirrored edges) > threshold."""
    rows, cols = image.shape
    half = size // 2
    period = 2 * rows
    inv = np.float32(1.0 / size)
    for i in prange(rows):
        acc = np.zeros(cols, dtype=np.float32)
        for t in range(-half, size - half):
            k = (i + t) % period
            if k >= rows:
                k = period - 1 - k
            for j in range(cols):
                acc[j] += image[k, j]
        for j in range(cols):
            out[i, j] = acc[j] * inv > threshold


@pjit
def _runs(mask, value):  # type: ignore[no-untyped-def]
    """Runs of ``mask == value``: (row offsets (rows + 1,), starts, stops), raster order."""
    rows, cols = mask.shape
    counts = np.zeros(rows + 1, dtype=np.int64)
    for i in prange(rows):
        n = 0
        prev = False
        for j in range(cols):
            cur = mask[i, j] == value
            if cur and not prev:
                n += 1
            prev = cur
        counts[i + 1] = n
    offsets = np.cumsum(counts)
    starts = np.empty(offsets[rows], dtype=np.int64)
    stops = np.empty(offsets[rows], dtype=np.int64)
    for i in prange(rows):
        r = offsets[i]
        prev = False
        for j in range(cols):
            cur = mask[i, j] == value
            if cur and not prev:
                starts[r] = j
            elif prev and not cur:
                stops[r] = j
                r += 1
            prev = cur
        if prev:
            stops[r] = cols
    return offsets, starts, stops


@jit
def _find(parent, a):  # type: ignore[no-untyped-def]
    root = a
    while parent[root] != root:
        root = parent[root]
    while parent[a] != root:
        nxt = parent[a]
        parent[a] = root
        a = nxt
    return root


@jit
def _label_runs(offsets, starts, stops, diagonal):  # type: ignore[no-untyped-def]
    """Union-find over runs; runs of adjacent rows touch (8-connected if ``diagonal``)."""
    n_runs = starts.shape[0]
    parent = np.arange(n_runs)
    reach = 1 if diagonal else 0
    rows = offsets.shape[0] - 1
    for i in range(1, rows):
        a = offsets[i - 1]
        a_end = offsets[i]
        b = offsets[i]
        b_end = offsets[i + 1]
        while a < a_end and b < b_end:
            if starts[a] < stops[b] + reach and starts[b] < stops[a] + reach:
                ra = _find(parent, a)
                rb = _find(parent, b)
                if ra != rb:
                    # The root is the earliest run: the component's first run in raster order.
                    if ra < rb:
                        parent[rb] = ra
                    else:
                        parent[ra] = rb
            if stops[a] < stops[b]:
                a += 1
            else:
                b += 1
    for r in range(n_runs):
        parent[r] = _find(parent, r)
    return parent


@jit
def _largest_component(mask):  # type: ignore[no-untyped-def]
    """Mask of the largest 8-connected True region (first in raster order on a tie)."""
    rows, cols = mask.shape
    offsets, starts, stops = _runs(mask, True)
    out = np.zeros((rows, cols), dtype=np.bool_)
    n_runs = starts.shape[0]
    if n_runs == 0:
        return out
    root = _label_runs(offsets, starts, stops, True)
    size = np.zeros(n_runs, dtype=np.int64)
    for r in range(n_runs):
        size[root[r]] += stops[r] - starts[r]
    best = 0
    for r in range(n_runs):
        if size[r] > size[best]:
            best = r
    for i in range(rows):
        for r in range(offsets[i], offsets[i + 1]):
            if root[r] == best:
                for j in range(starts[r], stops[r]):
                    out[i, j] = True
    return out


@jit
def _fill_holes(mask):  # type: ignore[no-untyped-def]
    """Set background regions (4-connected) that do not touch the border; in place."""
    rows, cols = mask.shape
    offsets, starts, stops = _runs(mask, False)
    n_runs = starts.shape[0]
    if n_runs == 0:
        return
    root = _label_runs(offsets, starts, stops, False)
    outside = np.zeros(n_runs, dtype=np.bool_)
    for i in range(rows):
        for r in range(offsets[i], offsets[i + 1]):
            if i == 0 or i == rows - 1 or starts[r] == 0 or stops[r] == cols:
                outside[root[r]] = True
    for i in range(rows):
        for r in range(offsets[i], offsets[i + 1]):
            if not outside[root[r]]:
                for j in range(starts[r], stops[r]):
                    mask[i, j] = True


@serialized
def body_mask(
    image: NDArray[Any],
    threshold: float = DEFAULT_BODY_THRESHOLD,
    *,
    smooth: int = 5,
    fill_holes: bool = True,
) -> NDArray[np.bool_]:
    """Mask of the body: the largest 8-connected region above ``threshold``.

    Parameters
    ----------
    image : ndarray, shape (rows, cols)
        Attenuation (air ~ 0, body > 0).
    threshold : float
        Attenuation separating body from air, applied after smoothing.
    smooth : int
        Side of the box mean applied first (1 = none); suppresses noise and hot pixels.
    fill_holes : bool
        Also set enclosed air (4-connected background not touching the image border), e.g.
        between arms held against the body.

    Returns
    -------
    ndarray of bool, shape (rows, cols)
        All False when no pixel is above the threshold.
    """
    img = float_image(image)
    thr = real_scalar(threshold, "threshold")
    if isinstance(smooth, bool) or not isinstance(smooth, (int, np.integer)):
        raise KernelDtypeError(f"smooth must be an int >= 1, got {smooth!r}")
    if smooth < 1:
        raise KernelInputError(f"smooth must be >= 1 (1 = no smoothing), got {smooth}")
    fg = np.empty(img.shape, dtype=np.bool_)
    tmp = np.empty_like(img)
    _box_mean_rows(img, int(smooth), tmp)
    _box_mean_cols_threshold(tmp, int(smooth), np.float32(thr), fg)
    mask = _largest_component(fg)
    if fill_holes:
        _fill_holes(mask)
    return mask  # type: ignore[no-any-return]


class BodyBounds(NamedTuple):
    """Bounding box of the body as half-open index ranges: ``image[row_start:row_stop, ...]``."""

    row_start: int
    row_stop: int
    col_start: int
    col_stop: int

    @property
    def slices(self) -> tuple[slice, slice]:
        """``(rows, cols)`` slices selecting the box."""
        return (slice(self.row_start, self.row_stop), slice(self.col_start, self.col_stop))


def body_bounds(mask: NDArray[np.bool_]) -> BodyBounds:
    """Bounding rows and columns of the True pixels of a mask.

    Parameters
    ----------
    mask : ndarray of bool, shape (rows, cols)
        E.g. from :func:`body_mask`.

    Returns
    -------
    BodyBounds

    Raises
    ------
    EmptyMaskError
        The mask has no True pixel (no body in the scan).
    """
    arr = as_array(mask, "mask")
    check_2d(arr, "mask")
    if arr.dtype != np.bool_:
        raise KernelDtypeError(f"mask must be a bool array, got dtype {arr.dtype}; use image > t")
    rows = np.flatnonzero(arr.any(axis=1))
    if rows.size == 0:
        raise EmptyMaskError(
            "the mask is empty: no body found; check the scan or lower the body threshold"
        )
    cols = np.flatnonzero(arr[rows[0] : rows[-1] + 1].any(axis=0))
    return BodyBounds(int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1)


def axis_run(row: NDArray[np.bool_], column: int) -> tuple[int, int] | None:
    """Column range ``[start, stop)`` of the run of True through ``column`` in one mask row.

    Parameters
    ----------
    row : ndarray of bool, shape (cols,)
        One row of a mask (e.g. of :func:`body_mask`).
    column : int
        Column the run must contain (e.g. the body's midline).

    Returns
    -------
    tuple of int or None
        None when ``row[column]`` is False.
    """
    if not row[column]:
        return None
    air = np.flatnonzero(~row)
    start = int(air[air < column].max()) + 1 if (air < column).any() else 0
    stop = int(air[air > column].min()) if (air > column).any() else row.size
    return start, stop
