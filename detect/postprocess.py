"""CenterNet decoding: heatmap peaks → boxes in original pixels, then class-wise NMS.

Coordinate convention: pixel edges at integers (a pixel ``i`` covers ``[i, i + 1)``). An object
whose centre lies at working-pixel ``(cx, cy)`` has its peak in output cell
``(floor(cx / stride), floor(cy / stride))`` and offset ``(cx / stride - ix, cy / stride - iy)``;
``wh`` is its width and height in working pixels. Working pixels map to original pixels by the
preprocess scale (original pixels per working pixel).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from detect.errors import InferenceError

__all__ = ["Detections", "box_iou", "decode", "nms"]


@dataclass(frozen=True)
class Detections:
    """Decoded peaks of one scan.

    Attributes
    ----------
    boxes : ndarray of float64, shape (N, 4)
        ``[x, y, w, h]`` in original image pixels (x = column), clipped to the image.
    labels : ndarray of int64, shape (N,)
        Class index (heatmap channel).
    scores : ndarray of float64, shape (N,)
        Raw heatmap peak scores, descending.
    """

    boxes: NDArray[np.float64]
    labels: NDArray[np.int64]
    scores: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    def select(self, keep: NDArray[np.intp] | NDArray[np.bool_]) -> Detections:
        """Subset by index array or boolean mask."""
        return Detections(self.boxes[keep], self.labels[keep], self.scores[keep])

    @classmethod
    def empty(cls) -> Detections:
        """No detections."""
        return cls(np.zeros((0, 4)), np.zeros(0, np.int64), np.zeros(0))

    @classmethod
    def concat(cls, parts: list[Detections]) -> Detections:
        """Detections of several tiles in one set, sorted by descending raw score."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        if len(parts) == 1:
            return parts[0]
        scores = np.concatenate([p.scores for p in parts])
        order = np.argsort(-scores, kind="stable")
        boxes = np.concatenate([p.boxes for p in parts])
        labels = np.concatenate([p.labels for p in parts])
        return cls(boxes[order], labels[order], scores[order])


def decode(
    heatmap: NDArray[np.float32],
    wh: NDArray[np.float32],
    offset: NDArray[np.float32],
    *,
    stride: int,
    scale: tuple[float, float],
    valid_shape: tuple[int, int],
    image_shape: tuple[int, int],
    top_k: int,
    peak_min_score: float,
    origin: tuple[float, float] = (0, 0),
    core: tuple[float, float, float, float] | None = None,
) -> Detections:
    """Decode CenterNet outputs of one image into boxes in original pixels.

    Parameters
    ----------
    heatmap : ndarray of float32, shape (C, Ho, Wo)
        Per-class sigmoid heatmaps.
    wh : ndarray of float32, shape (2, Ho, Wo)
        Box width and height in working (input) pixels.
    offset : ndarray of float32, shape (2, Ho, Wo)
        Sub-cell centre offset (x, y) in output cells.
    stride : int
        Input pixels per output cell.
    scale : tuple of float
        (row_factor, col_factor): original pixels per working pixel.
    valid_shape : tuple of int
        (h, w) of the working image before padding; peaks in the padding are ignored.
    image_shape : tuple of int
        (rows, cols) of the original image; boxes are clipped to it.
    top_k : int
        At most this many peaks (over all classes, highest first).
    peak_min_score : float
        Peaks below this raw score are dropped.
    origin : tuple of float
        (row, col) in input pixels of the model input's top-left corner, when the model ran
        on a window of the working image (see :func:`detect.preprocess.content_window`);
        ``valid_shape`` is then the valid part of that window. For an enlarged input
        (zoom test) both are in enlarged pixels and ``scale`` is divided by the enlargement.
    core : tuple of float, optional
        ``(row0, row1, col0, col1)`` in input pixels: keep only peaks whose box centre lies in
        ``[row0, row1) x [col0, col1)`` (tiled inference, :func:`detect.preprocess.tile_window`).

    Returns
    -------
    Detections
        Sorted by descending raw score.

    Raises
    ------
    InferenceError
        If the output shapes do not agree.
    """
    if heatmap.ndim != 3 or wh.shape != (2, *heatmap.shape[1:]) or offset.shape != wh.shape:
        raise InferenceError(
            f"model outputs disagree in shape: heatmap {heatmap.shape}, wh {wh.shape}, "
            f"offset {offset.shape}; expected (C, H, W), (2, H, W), (2, H, W) — the model "
            "does not follow the detector contract"
        )
    hv = min(heatmap.shape[1], -(-valid_shape[0] // stride))
    wv = min(heatmap.shape[2], -(-valid_shape[1] // stride))
    heat = np.asarray(heatmap[:, :hv, :wv], dtype=np.float32)
    if heat.size == 0 or float(heat.max()) < peak_min_score:
        return Detections.empty()
    cls_idx, ys, xs = _local_maxima(heat, peak_min_score)
    if cls_idx.size == 0:
        return Detections.empty()
    scores = heat[cls_idx, ys, xs].astype(np.float64)
    order = np.argsort(-scores, kind="stable")[:top_k]
    cls_idx, ys, xs, scores = cls_idx[order], ys[order], xs[order], scores[order]
    w = wh[0, ys, xs].astype(np.float64)
    h = wh[1, ys, xs].astype(np.float64)
    cx = (xs + offset[0, ys, xs].astype(np.float64)) * stride + origin[1]
    cy = (ys + offset[1, ys, xs].astype(np.float64)) * stride + origin[0]
    if core is not None:
        inside = (cy >= core[0]) & (cy < core[1]) & (cx >= core[2]) & (cx < core[3])
        cls_idx, scores, w, h, cx, cy = (a[inside] for a in (cls_idx, scores, w, h, cx, cy))
    row_f, col_f = scale
    rows, cols = image_shape
    x0 = np.clip((cx - w / 2) * col_f, 0.0, cols)
    x1 = np.clip((cx + w / 2) * col_f, 0.0, cols)
    y0 = np.clip((cy - h / 2) * row_f, 0.0, rows)
    y1 = np.clip((cy + h / 2) * row_f, 0.0, rows)
    boxes = np.stack([x0, y0, x1 - x0, y1 - y0], axis=1)
    keep = (boxes[:, 2] > 0) & (boxes[:, 3] > 0)
    return Detections(boxes[keep], cls_idx[keep].astype(np.int64), scores[keep])


def _local_maxima(
    heat: NDArray[np.float32], threshold: float
) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.intp]]:
    """Cells ``>= threshold`` that are the maximum of their 3 x 3 neighbourhood (ties kept).

    The same cells as ``heat == maximum_filter(heat, (1, 3, 3))`` (outside = -inf), computed
    only at the candidates above the threshold.
    """
    c, y, x = np.nonzero(heat >= threshold)
    if c.size == 0:
        return c, y, x
    padded = np.pad(heat, ((0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    value = heat[c, y, x]
    keep = np.ones(c.size, dtype=bool)
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            if dy != 1 or dx != 1:
                keep &= value >= padded[c, y + dy, x + dx]
    return c[keep], y[keep], x[keep]


def box_iou(box: NDArray[np.float64], others: NDArray[np.float64]) -> NDArray[np.float64]:
    """IoU of one ``[x, y, w, h]`` box (4,) with boxes (N, 4); returns (N,)."""
    ix0 = np.maximum(box[0], others[:, 0])
    iy0 = np.maximum(box[1], others[:, 1])
    ix1 = np.minimum(box[0] + box[2], others[:, 0] + others[:, 2])
    iy1 = np.minimum(box[1] + box[3], others[:, 1] + others[:, 3])
    inter = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)
    union = box[2] * box[3] + others[:, 2] * others[:, 3] - inter
    return np.asarray(np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0))


def nms(
    boxes: NDArray[np.float64],
    scores: NDArray[np.float64],
    labels: NDArray[np.int64],
    iou_threshold: float,
) -> NDArray[np.intp]:
    """Class-wise greedy non-maximum suppression.

    Parameters
    ----------
    boxes : ndarray, shape (N, 4)
        ``[x, y, w, h]``.
    scores : ndarray, shape (N,)
    labels : ndarray of int, shape (N,)
        Boxes of different labels never suppress each other.
    iou_threshold : float
        A box overlapping a kept, higher-scoring box of its class by IoU > this is dropped.

    Returns
    -------
    ndarray of intp
        Indices of the kept boxes, by descending score.
    """
    order = np.argsort(-scores, kind="stable")
    suppressed = np.zeros(len(scores), dtype=bool)
    keep: list[int] = []
    for pos, i in enumerate(order):
        if suppressed[i]:
            continue
        keep.append(int(i))
        rest = order[pos + 1 :]
        rest = rest[(labels[rest] == labels[i]) & ~suppressed[rest]]
        if rest.size:
            suppressed[rest[box_iou(boxes[i], boxes[rest]) > iou_threshold]] = True
    return np.asarray(keep, dtype=np.intp)
