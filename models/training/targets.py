"""CenterNet training targets: elliptical Gaussian heatmaps, box sizes and centre offsets."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["Targets", "make_targets"]

#: Gaussian spread relative to the box size: sigma = alpha * size / 6 (TTFNet uses 0.54; a
#: wider peak gives more supervision per object and converges faster on a small budget).
GAUSSIAN_ALPHA = 0.8
#: Smallest Gaussian sigma in output cells, so tiny objects still get a learnable peak.
MIN_SIGMA = 0.8


@dataclass
class Targets:
    """Targets of one image at the output stride.

    Attributes
    ----------
    heatmap : ndarray of float32, shape (C, Ho, Wo)
        Per-class maximum of the objects' Gaussians (1 at each object's centre cell).
    log_wh : ndarray of float32, shape (2, Ho, Wo)
        log of box width and height (input pixels) at centre cells.
    offset : ndarray of float32, shape (2, Ho, Wo)
        Sub-cell centre offset (x, y) in [0, 1) at centre cells.
    mask : ndarray of float32, shape (Ho, Wo)
        1 at centre cells (where ``log_wh`` and ``offset`` are defined), else 0.
    """

    heatmap: NDArray[np.float32]
    log_wh: NDArray[np.float32]
    offset: NDArray[np.float32]
    mask: NDArray[np.float32]


def _draw_gaussian(plane: NDArray[np.float32], cx: int, cy: int, sx: float, sy: float) -> None:
    h, w = plane.shape
    rx, ry = int(np.ceil(3 * sx)), int(np.ceil(3 * sy))
    x0, x1 = max(0, cx - rx), min(w, cx + rx + 1)
    y0, y1 = max(0, cy - ry), min(h, cy + ry + 1)
    if x0 >= x1 or y0 >= y1:
        return
    xs = np.arange(x0, x1, dtype=np.float32) - cx
    ys = np.arange(y0, y1, dtype=np.float32) - cy
    g = np.exp(-(ys[:, None] ** 2) / (2 * sy * sy) - (xs[None, :] ** 2) / (2 * sx * sx))
    np.maximum(plane[y0:y1, x0:x1], g.astype(np.float32), out=plane[y0:y1, x0:x1])


def make_targets(
    boxes: NDArray[np.float32],
    labels: NDArray[np.int64],
    out_shape: tuple[int, int],
    num_classes: int,
    stride: int = 4,
) -> Targets:
    """Build the targets of one image.

    Parameters
    ----------
    boxes : ndarray of float32, shape (N, 4)
        Boxes ``[x, y, w, h]`` in input pixels.
    labels : ndarray of int64, shape (N,)
        Class index of each box.
    out_shape : tuple of int
        (Ho, Wo), the output map size (input size / stride).
    num_classes : int
        Heatmap channels.
    stride : int
        Output stride.

    Returns
    -------
    Targets
    """
    ho, wo = out_shape
    heat = np.zeros((num_classes, ho, wo), np.float32)
    log_wh = np.zeros((2, ho, wo), np.float32)
    offset = np.zeros((2, ho, wo), np.float32)
    mask = np.zeros((ho, wo), np.float32)
    # Large boxes first, so a small object's regression target wins a shared centre cell.
    order = np.argsort(-(boxes[:, 2] * boxes[:, 3])) if len(boxes) else np.zeros(0, np.int64)
    for i in order:
        x, y, w, h = (float(v) for v in boxes[i])
        if w <= 0 or h <= 0:
            continue
        cx, cy = (x + w / 2) / stride, (y + h / 2) / stride
        ix, iy = int(np.floor(cx)), int(np.floor(cy))
        if not (0 <= ix < wo and 0 <= iy < ho):
            continue
        sx = max(GAUSSIAN_ALPHA * w / stride / 6, MIN_SIGMA)
        sy = max(GAUSSIAN_ALPHA * h / stride / 6, MIN_SIGMA)
        _draw_gaussian(heat[int(labels[i])], ix, iy, sx, sy)
        heat[int(labels[i]), iy, ix] = 1.0
        log_wh[:, iy, ix] = (np.log(max(w, 0.5)), np.log(max(h, 0.5)))
        offset[:, iy, ix] = (cx - ix, cy - iy)
        mask[iy, ix] = 1.0
    return Targets(heat, log_wh, offset, mask)
