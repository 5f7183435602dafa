"""Training batches: object-biased crops of cached scans, augmented towards other scanners.

The augmentations imitate what differs between scanners and vendors rather than what our own
simulator does: attenuation gain (kVp, beam hardening), a mild power law (detector response),
extra quantum noise that grows with attenuation, blur (focal spot, detector), column stripes,
small offsets, scale jitter (pitch calibration) and left-right flips.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor
from torch.nn import functional as F

from models.training.cache import CacheRecord, list_records, load_record
from models.training.errors import DataError
from models.training.network import STRIDE
from models.training.record_pool import RecordPool, own_pages
from models.training.targets import make_targets

__all__ = ["AugmentConfig", "Batch", "CropSampler"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AugmentConfig:
    """Strength of the augmentations (probabilities and ranges)."""

    p_object_crop: float = 0.75
    #: Relative chance that an object crop centres on a phone rather than another object.
    phone_weight: float = 3.0
    #: Extra factor for the hard phones: mini phones and internal concealment.
    hard_phone_weight: float = 2.0
    #: Crop size relative to the output crop: above 1 shrinks the objects (0.8 makes them 25 %
    #: larger, 1.35 about 26 % smaller), as a wrongly stated pixel spacing would.
    scale_range: tuple[float, float] = (0.8, 1.35)
    flip: float = 0.5
    gain_range: tuple[float, float] = (0.8, 1.25)
    #: Power law on the attenuation (another detector response or vendor log conversion).
    gamma_range: tuple[float, float] = (0.75, 1.25)
    p_noise: float = 0.3
    #: log10 range of air photons per pixel for the added quantum noise.
    noise_log10_photons: tuple[float, float] = (4.0, 6.5)
    p_blur: float = 0.4
    #: Gaussian sigma of the extra blur in working pixels (2.2 px is 3.5 mm at 1.6 mm pitch).
    blur_sigma: tuple[float, float] = (0.3, 2.2)
    p_stripes: float = 0.3
    stripe_std: float = 0.01
    offset: float = 0.02


@dataclass
class Batch:
    """One training batch.

    Attributes
    ----------
    image : Tensor, shape (B, 1, H, W)
    heatmap : Tensor, shape (B, C, H/4, W/4)
    log_wh, offset : Tensor, shape (B, 2, H/4, W/4)
    mask : Tensor, shape (B, H/4, W/4)
    """

    image: Tensor
    heatmap: Tensor
    log_wh: Tensor
    offset: Tensor
    mask: Tensor


class CropSampler:
    """Draws augmented crops from the records of a cache folder.

    Parameters
    ----------
    folder : str or Path
        Cache folder (``*.npz`` records).
    crop : tuple of int
        (height, width) of a crop in working pixels; multiples of 32.
    num_classes : int
    clip_max : float
        Upper clip of the model input.
    augment : AugmentConfig, optional
        ``None`` for the defaults.
    max_records : int, optional
        Use only the first ``max_records`` records (by name).
    stride : int
        Output stride of the network the targets are built for.
    pitch_mm : float, optional
        Working pitch of the model (mm per pixel). A record made at another pitch is resampled
        to it as it is cropped (a 2 mm record feeds a 1.6 mm model with objects 1.25x larger);
        ``None`` takes every record at its own pitch.
    memory_bytes : int, optional
        Most memory the records may take (:class:`models.training.record_pool.RecordPool`);
        ``None`` for half of the machine's memory. A larger cache is trained on a window of
        records that slides through it one step per epoch.
    """

    def __init__(
        self,
        folder: str | Path,
        crop: tuple[int, int] = (384, 192),
        num_classes: int = 6,
        clip_max: float = 4.0,
        augment: AugmentConfig | None = None,
        max_records: int | None = None,
        stride: int = STRIDE,
        pitch_mm: float | None = None,
        memory_bytes: int | None = None,
    ) -> None:
        if pitch_mm is not None and not 0.0 < pitch_mm <= 50.0:
            raise DataError(
                f"pitch_mm={pitch_mm} is not a working pitch; give mm per pixel, e.g. 2.0"
            )
        if crop[0] % 32 or crop[1] % 32:
            raise DataError(
                f"crop {crop} must be multiples of 32 in both dimensions; pass e.g. --crop 384 192"
            )
        self.folder = Path(folder)
        self.crop = crop
        self.num_classes = num_classes
        self.clip_max = clip_max
        self.augment = augment or AugmentConfig()
        self.max_records = max_records
        self.stride = stride
        self.pitch_mm = pitch_mm
        self._pool = RecordPool(_load_trimmed, memory_bytes)
        self._held: list[CacheRecord] = []
        #: The usable records of the folder drawn from up to the last refreshed epoch: all of
        #: them, or those a sliding window has reached when they do not fit in memory.
        self.paths: list[Path] = []

    def refresh(self, epoch: int = 0) -> int:
        """Take in records that appeared since the last call and hold those of ``epoch``.

        Returns
        -------
        int
            How many records the run has drawn from up to ``epoch`` (all usable records when
            they fit in memory).
        """
        paths = list_records(self.folder)
        if self.max_records is not None:
            paths = paths[: self.max_records]
        held = self._pool.update(paths, epoch)
        self.paths = self._pool.drawn(paths, epoch)
        # one assignment, so batches drawn in background threads see either list whole
        self._held = held
        if not held:
            raise DataError(
                f"no training records in {str(self.folder)!r}; generate them first "
                "(`scanguard train` starts a generator) or check --cache"
            )
        return len(self.paths)

    # -- cropping -------------------------------------------------------------------------------
    def _crop_one(
        self, rec: CacheRecord, rng: np.random.Generator
    ) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.int64]]:
        aug = self.augment
        ch, cw = self.crop
        s = float(np.exp(rng.uniform(*np.log(aug.scale_range))))
        if self.pitch_mm is not None:
            s *= self.pitch_mm / rec.pitch_mm  # crop less of a coarser record, then enlarge it
        sh, sw = max(8, round(ch * s)), max(8, round(cw * s))
        h, w = rec.image.shape
        boxes, labels = rec.boxes, rec.labels
        if len(boxes) and rng.random() < aug.p_object_crop:
            weights = _object_weights(rec, aug)
            i = int(rng.choice(len(boxes), p=weights / weights.sum()))
            bx, by, bw, bh = boxes[i]
            cx, cy = bx + bw / 2, by + bh / 2
            y0 = round(cy - rng.uniform(0.1, 0.9) * sh)
            x0 = round(cx - rng.uniform(0.1, 0.9) * sw)
        else:
            y0 = int(rng.integers(min(0, h - sh), max(0, h - sh) + 1))
            x0 = int(rng.integers(min(0, w - sw), max(0, w - sw) + 1))
        patch = np.zeros((sh, sw), np.float32)
        ys0, ys1 = max(0, y0), min(h, y0 + sh)
        xs0, xs1 = max(0, x0), min(w, x0 + sw)
        if ys1 > ys0 and xs1 > xs0:
            patch[ys0 - y0 : ys1 - y0, xs0 - x0 : xs1 - x0] = rec.image[ys0:ys1, xs0:xs1]
        if len(boxes):
            b = boxes.copy()
            b[:, 0] -= x0
            b[:, 1] -= y0
            cx = b[:, 0] + b[:, 2] / 2
            cy = b[:, 1] + b[:, 3] / 2
            keep = (cx >= 0) & (cx < sw) & (cy >= 0) & (cy < sh)
            b, lab = b[keep], labels[keep]
            x1 = np.clip(b[:, 0] + b[:, 2], 0, sw)
            y1 = np.clip(b[:, 1] + b[:, 3], 0, sh)
            b[:, 0] = np.clip(b[:, 0], 0, sw)
            b[:, 1] = np.clip(b[:, 1], 0, sh)
            b[:, 2] = x1 - b[:, 0]
            b[:, 3] = y1 - b[:, 1]
            b *= np.array([cw / sw, ch / sh, cw / sw, ch / sh], np.float32)
        else:
            b, lab = np.zeros((0, 4), np.float32), np.zeros(0, np.int64)
        if (sh, sw) != (ch, cw):
            t = torch.from_numpy(patch)[None, None]
            patch = F.interpolate(t, size=(ch, cw), mode="bilinear", align_corners=False)[
                0, 0
            ].numpy()
        if rng.random() < aug.flip:
            patch = patch[:, ::-1].copy()
            if len(b):
                b[:, 0] = cw - b[:, 0] - b[:, 2]
        return patch, b, lab

    def _intensity(self, x: Tensor, rng: np.random.Generator) -> Tensor:
        """Per-sample photometric augmentation of a (B, 1, H, W) batch of scaled attenuation."""
        aug = self.augment
        out = []
        for i in range(x.shape[0]):
            xi = x[i : i + 1]
            body = xi > 0
            gamma = rng.uniform(*aug.gamma_range)
            xi = 0.5 * (xi / 0.5).clamp(min=0) ** gamma
            xi = xi * rng.uniform(*aug.gain_range)
            if rng.random() < aug.p_blur:
                xi = _blur(xi, rng.uniform(*aug.blur_sigma))
            if rng.random() < aug.p_noise:
                photons = 10 ** rng.uniform(*aug.noise_log10_photons)
                # quantum noise on -ln(I): std = 1/sqrt(N0 * exp(-att)); att = x / 0.25
                att = (xi / 0.25).clamp(max=12.0)
                std = 0.25 * torch.exp(att / 2) / np.sqrt(photons)
                gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
                xi = xi + std.clamp(max=0.5) * torch.randn(xi.shape, generator=gen)
            if rng.random() < aug.p_stripes:
                # residual detector-channel gain errors: stripes along either image axis
                axis = int(rng.integers(2))
                n = xi.shape[-1] if axis == 1 else xi.shape[-2]
                lines = torch.from_numpy(rng.normal(0.0, aug.stripe_std, n).astype(np.float32))
                xi = xi + (lines.view(1, 1, 1, -1) if axis == 1 else lines.view(1, 1, -1, 1))
            xi = xi + rng.uniform(-aug.offset, aug.offset)
            xi = torch.where(body, xi, xi * 0.0 + rng.uniform(0.0, aug.offset))
            out.append(xi)
        return torch.cat(out).clamp(0.0, self.clip_max)

    def batch(self, size: int, rng: np.random.Generator, augment: bool = True) -> Batch:
        """Draw one batch of ``size`` crops (records drawn uniformly with replacement)."""
        if not self._held:
            self.refresh()
        held = self._held
        ch, cw = self.crop
        ho, wo = ch // self.stride, cw // self.stride
        imgs = np.zeros((size, 1, ch, cw), np.float32)
        heat = np.zeros((size, self.num_classes, ho, wo), np.float32)
        lwh = np.zeros((size, 2, ho, wo), np.float32)
        off = np.zeros((size, 2, ho, wo), np.float32)
        mask = np.zeros((size, ho, wo), np.float32)
        for k in range(size):
            rec = held[int(rng.integers(len(held)))]
            patch, boxes, labels = self._crop_one(rec, rng)
            imgs[k, 0] = patch
            t = make_targets(boxes, labels, (ho, wo), self.num_classes, self.stride)
            heat[k], lwh[k], off[k], mask[k] = t.heatmap, t.log_wh, t.offset, t.mask
        x = torch.from_numpy(imgs)
        if augment:
            x = self._intensity(x, rng)
        return Batch(
            x,
            torch.from_numpy(heat),
            torch.from_numpy(lwh),
            torch.from_numpy(off),
            torch.from_numpy(mask),
        )


def _object_weights(rec: CacheRecord, aug: AugmentConfig) -> NDArray[np.float64]:
    """Chance of each object to centre an object crop: phones first, hard phones more."""
    weights = np.where(rec.labels == 0, aug.phone_weight, 1.0)
    objects = rec.meta.get("objects") or []
    if len(objects) == len(weights):
        for i, obj in enumerate(objects):
            hard = obj.get("kind") == "mini_phone" or obj.get("concealment") == "internal"
            if rec.labels[i] == 0 and hard:
                weights[i] *= aug.hard_phone_weight
    return weights


#: Scaled attenuation above which a pixel counts as "not air" when trimming records.
_AIR_LEVEL = 0.02
#: Margin (working pixels) of air kept around the body when trimming.
_TRIM_MARGIN = 48


def _load_trimmed(path: Path) -> CacheRecord | None:
    """A record with the air around the body cut; None (and a warning) if it is unreadable."""
    try:
        return _trim(load_record(path))
    except DataError as exc:
        logger.warning("%s", exc)
        return None


def _trim(rec: CacheRecord) -> CacheRecord:
    """Cut the air around the body (keeps memory down); boxes follow the cut."""
    rows = np.nonzero((rec.image > _AIR_LEVEL).any(axis=1))[0]
    cols = np.nonzero((rec.image > _AIR_LEVEL).any(axis=0))[0]
    h, w = rec.image.shape
    y0, y1, x0, x1 = 0, h, 0, w  # all air: kept whole
    if rows.size and cols.size:
        y0, y1 = max(0, int(rows[0]) - _TRIM_MARGIN), min(h, int(rows[-1]) + 1 + _TRIM_MARGIN)
        x0, x1 = max(0, int(cols[0]) - _TRIM_MARGIN), min(w, int(cols[-1]) + 1 + _TRIM_MARGIN)
    boxes = rec.boxes.copy()
    boxes[:, 0] -= x0
    boxes[:, 1] -= y0
    # a copy even where the cut is contiguous, so that the whole image is freed
    return CacheRecord(own_pages(rec.image[y0:y1, x0:x1]), boxes, rec.labels, rec.meta)


def _blur(x: Tensor, sigma: float) -> Tensor:
    r = max(1, int(np.ceil(2.5 * sigma)))
    k = torch.exp(-(torch.arange(-r, r + 1, dtype=torch.float32) ** 2) / (2 * sigma * sigma))
    k = k / k.sum()
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), k.view(1, 1, 1, -1))
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), k.view(1, 1, -1, 1))
