"""CenterNet loss: penalty-reduced focal loss on the heatmap, L1 on log box size and offset."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn import functional as F

from models.training.network import DetectorOutputs

__all__ = ["LossWeights", "centernet_loss"]


@dataclass(frozen=True)
class LossWeights:
    """Weights of the three loss terms."""

    heatmap: float = 1.0
    wh: float = 1.0
    offset: float = 1.0


def focal_loss(logits: Tensor, target: Tensor, alpha: float = 2.0, beta: float = 4.0) -> Tensor:
    """Penalty-reduced pixel-wise focal loss (CenterNet), normalised by the number of objects.

    Parameters
    ----------
    logits : Tensor, shape (N, C, H, W)
    target : Tensor, shape (N, C, H, W)
        Gaussian heatmap targets, exactly 1 at object centres.

    Returns
    -------
    Tensor
        Scalar loss.
    """
    log_p = F.logsigmoid(logits)
    log_1mp = F.logsigmoid(-logits)
    p = torch.sigmoid(logits)
    pos = target.eq(1.0).float()
    neg = 1.0 - pos
    pos_loss = -log_p * (1 - p) ** alpha * pos
    neg_loss = -log_1mp * p**alpha * (1 - target) ** beta * neg
    num_pos = pos.sum().clamp(min=1.0)
    return (pos_loss.sum() + neg_loss.sum()) / num_pos


def centernet_loss(
    out: DetectorOutputs,
    heatmap: Tensor,
    log_wh: Tensor,
    offset: Tensor,
    mask: Tensor,
    weights: LossWeights | None = None,
) -> tuple[Tensor, dict[str, float]]:
    """Total loss and its parts.

    Parameters
    ----------
    out : DetectorOutputs
        Network outputs at stride 4.
    heatmap : Tensor, shape (N, C, H, W)
    log_wh, offset : Tensor, shape (N, 2, H, W)
    mask : Tensor, shape (N, H, W)
        1 at object centre cells.

    Returns
    -------
    tuple
        (scalar loss, dict of the parts as floats).
    """
    w = weights or LossWeights()
    l_hm = focal_loss(out.heatmap_logits, heatmap)
    m = mask.unsqueeze(1)
    n = m.sum().clamp(min=1.0)
    l_wh = (F.l1_loss(out.log_wh, log_wh, reduction="none") * m).sum() / n
    l_off = (F.l1_loss(out.offset, offset, reduction="none") * m).sum() / n
    total = w.heatmap * l_hm + w.wh * l_wh + w.offset * l_off
    parts = {
        "heatmap": float(l_hm.detach()),
        "wh": float(l_wh.detach()),
        "offset": float(l_off.detach()),
        "total": float(total.detach()),
    }
    return total, parts
