"""The detector network: a CenterNet head on a small depthwise-separable backbone.

Input: one channel of scaled attenuation at the working pitch, ``[N, 1, H, W]`` with ``H`` and ``W``
multiples of 32. Outputs at the output stride (4, or 2 for finer peaks on small objects): a
per-class heatmap (logits during training, sigmoid in the exported model), box width/height in
input pixels (log-space during training) and the sub-cell centre offset.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

__all__ = ["STRIDE", "STRIDES", "CenterNet", "DetectorOutputs", "ExportWrapper", "NetworkConfig"]

#: Default output stride of the heatmap relative to the input.
STRIDE = 4
#: Output strides the network can be built with.
STRIDES = (2, 4)
#: Prior probability of an object at a heatmap cell (initial heatmap bias).
_PRIOR = 0.01
#: Initial box size (input pixels) the wh head starts from.
_WH_PRIOR_PX = 32.0
#: Range of the log box size, in input pixels (exp(-1) .. exp(7.5) ~ 0.4 .. 1800 px).
_LOG_WH_MIN, _LOG_WH_MAX = -1.0, 7.5


@dataclass(frozen=True)
class NetworkConfig:
    """Widths of the network.

    Attributes
    ----------
    num_classes : int
        Heatmap channels, one per class.
    widths : tuple of int
        Channels at strides 2, 4, 8, 16 and 32.
    depths : tuple of int
        Extra residual blocks at strides 4, 8, 16 and 32.
    neck : int
        Channels of the top-down feature pyramid (stride 32 to the output stride).
    head : int
        Hidden channels of each prediction head.
    stride : int
        Output stride, 4 or 2. Stride 2 adds one more pyramid level (from the stem) and runs the
        heads on four times as many cells: finer peaks for small objects at a higher cost.
    """

    num_classes: int = 6
    widths: tuple[int, int, int, int, int] = (16, 32, 64, 128, 224)
    depths: tuple[int, int, int, int] = (1, 2, 3, 2)
    neck: int = 48
    head: int = 32
    stride: int = STRIDE

    def __post_init__(self) -> None:
        if self.stride not in STRIDES:
            raise ValueError(f"output stride must be one of {STRIDES}, got {self.stride}")


class _ConvBNAct(nn.Sequential):
    def __init__(
        self,
        c_in: int,
        c_out: int,
        k: int = 3,
        stride: int = 1,
        groups: int = 1,
        dilation: int = 1,
        act: bool = True,
    ) -> None:
        pad = dilation * (k - 1) // 2
        layers: list[nn.Module] = [
            nn.Conv2d(c_in, c_out, k, stride, pad, dilation=dilation, groups=groups, bias=False),
            nn.BatchNorm2d(c_out),
        ]
        if act:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class _DWSep(nn.Module):
    """Depthwise 3x3 (strided or dilated) then pointwise 1x1; residual when shapes match."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.dw = _ConvBNAct(c_in, c_in, 3, stride, groups=c_in, dilation=dilation)
        self.pw = _ConvBNAct(c_in, c_out, 1, act=False)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: Tensor) -> Tensor:
        y = self.pw(self.dw(x))
        if self.residual:
            y = y + x
        return F.relu(y)


def _stage(c_in: int, c_out: int, depth: int, dilations: tuple[int, ...] = (1,)) -> nn.Sequential:
    blocks: list[nn.Module] = [_DWSep(c_in, c_out, stride=2)]
    for i in range(depth):
        blocks.append(_DWSep(c_out, c_out, dilation=dilations[i % len(dilations)]))
    return nn.Sequential(*blocks)


class _Head(nn.Sequential):
    def __init__(self, c_in: int, hidden: int, c_out: int, bias: float) -> None:
        final = nn.Conv2d(hidden, c_out, 1)
        nn.init.normal_(final.weight, std=0.01)
        assert final.bias is not None
        nn.init.constant_(final.bias, bias)
        super().__init__(
            nn.Conv2d(c_in, c_in, 3, 1, 1, groups=c_in, bias=False),
            nn.BatchNorm2d(c_in),
            nn.Conv2d(c_in, hidden, 1, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU(inplace=True),
            final,
        )


@dataclass
class DetectorOutputs:
    """Raw training outputs at the output stride ``s`` (4 or 2).

    Attributes
    ----------
    heatmap_logits : Tensor, shape (N, C, H/s, W/s)
    log_wh : Tensor, shape (N, 2, H/s, W/s)
        Natural log of the box width and height in input pixels.
    offset : Tensor, shape (N, 2, H/s, W/s)
        Sub-cell centre offset (x, y) in output cells.
    """

    heatmap_logits: Tensor
    log_wh: Tensor
    offset: Tensor


class CenterNet(nn.Module):
    """Anchor-free CenterNet detector on a depthwise-separable backbone with a small FPN neck."""

    def __init__(self, config: NetworkConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or NetworkConfig()
        w = cfg.widths
        self.stem = _ConvBNAct(1, w[0], 3, stride=2)
        self.s4 = _stage(w[0], w[1], cfg.depths[0])
        self.s8 = _stage(w[1], w[2], cfg.depths[1])
        self.s16 = _stage(w[2], w[3], cfg.depths[2], dilations=(1, 2))
        self.s32 = _stage(w[3], w[4], cfg.depths[3], dilations=(1, 2))
        self.lateral = nn.ModuleList(
            [_ConvBNAct(c, cfg.neck, 1, act=False) for c in (w[1], w[2], w[3], w[4])]
        )
        self.smooth = nn.ModuleList([_DWSep(cfg.neck, cfg.neck) for _ in range(3)])
        if cfg.stride == 2:
            # The stride-2 level starts as the upsampled stride-4 features (zeroed last batch-norm
            # scales), so a stride-4 parent's weights are a working start; only the heads' 3x3
            # depthwise filters then see the features at twice the scale.
            self.lateral2 = _ConvBNAct(w[0], cfg.neck, 1, act=False)
            self.smooth2 = _DWSep(cfg.neck, cfg.neck)
            for norm in (self.lateral2[1], self.smooth2.pw[1]):
                assert isinstance(norm, nn.BatchNorm2d)
                nn.init.zeros_(norm.weight)
        prior_bias = float(torch.log(torch.tensor(_PRIOR / (1.0 - _PRIOR))))
        self.heatmap = _Head(cfg.neck, cfg.head, cfg.num_classes, prior_bias)
        self.wh = _Head(cfg.neck, cfg.head, 2, float(torch.log(torch.tensor(_WH_PRIOR_PX))))
        self.offset = _Head(cfg.neck, cfg.head, 2, 0.5)

    def features(self, x: Tensor) -> Tensor:
        """Neck features the heads run on.

        Parameters
        ----------
        x : Tensor, shape (N, 1, H, W)
            Scaled attenuation; ``H`` and ``W`` multiples of 32.

        Returns
        -------
        Tensor, shape (N, neck, H/s, W/s)
        """
        c2 = self.stem(x)
        c4 = self.s4(c2)
        c8 = self.s8(c4)
        c16 = self.s16(c8)
        c32 = self.s32(c16)
        p = self.lateral[3](c32)
        for level, feat in zip((2, 1, 0), (c16, c8, c4), strict=True):
            p = F.interpolate(p, scale_factor=2.0, mode="nearest") + self.lateral[level](feat)
            p = self.smooth[level](p)
        if self.config.stride == 2:
            p = F.interpolate(p, scale_factor=2.0, mode="nearest") + self.lateral2(c2)
            p = self.smooth2(p)
        return p

    def forward(self, x: Tensor) -> DetectorOutputs:
        """Run the network on ``x`` (as in :meth:`features`) and its heads."""
        p = self.features(x)
        log_wh = self.wh(p).clamp(_LOG_WH_MIN, _LOG_WH_MAX)
        return DetectorOutputs(self.heatmap(p), log_wh, self.offset(p))


class ExportWrapper(nn.Module):
    """The deployed form: ``heatmap`` after sigmoid, ``wh`` in input pixels, ``offset`` in cells."""

    def __init__(self, net: CenterNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, image: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Map ``image`` [N, 1, H, W] to (heatmap, wh, offset), each [N, *, H/s, W/s]."""
        out = self.net(image)
        return torch.sigmoid(out.heatmap_logits), torch.exp(out.log_wh), out.offset


def count_parameters(net: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad)
