"""Training runs on disk: their settings, the state a checkpoint restores, and starting a run from
a parent's weights.

A checkpoint (``<run>/last.pt``) holds the run's :class:`TrainConfig`, the model, its EMA copy,
the optimiser, the step, the loss history, the random generators and where its training scans
came from, so a stopped run resumes exactly (:func:`models.training.trainer.train` with
``resume``) and a model card can list every phase (:mod:`models.training.lineage`).
"""

from __future__ import annotations

import copy
import logging
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models.training.classes import CLASSES
from models.training.data import AugmentConfig
from models.training.errors import CheckpointError
from models.training.loss import LossWeights
from models.training.network import CenterNet, NetworkConfig
from models.training.onnx_weights import is_onnx_model, load_onnx_network

__all__ = [
    "CHECKPOINT",
    "TrainConfig",
    "TrainState",
    "format_seed_span",
    "init_from_parent",
    "load_checkpoint",
    "new_state",
    "record_seed_bounds",
    "save_checkpoint",
]

logger = logging.getLogger(__name__)

#: File name of a run's checkpoint inside its folder.
CHECKPOINT = "last.pt"


@dataclass
class TrainConfig:
    """Settings of one training run (saved in every checkpoint).

    Attributes
    ----------
    out : str
        Run folder.
    cache : str
        Folder of training records.
    seed : int
        Seed of weights initialisation and batch sampling.
    epochs, steps_per_epoch, batch_size : int
    crop : tuple of int
        (height, width) of training crops in working pixels.
    lr, weight_decay : float
    warmup_steps : int
    ema_decay : float
    minutes : float, optional
        Stop (after saving a checkpoint) once this much wall time has passed in this process.
    checkpoint_minutes : float
        Save a checkpoint at least this often.
    threads : int
        ``torch.set_num_threads``.
    max_records : int, optional
        Train on the first ``max_records`` cache records only.
    min_records : int
        Wait until the cache holds at least this many records before starting.
    init_from : str, optional
        Start a new run from the EMA weights of this checkpoint (fine-tuning; fresh optimiser
        and schedule).
    device : str
        ``"auto"`` (CUDA when available, else CPU), ``"cpu"`` or ``"cuda"``.
    loader_threads : int
        Background threads preparing batches (0: prepared inline between steps).
    memory_gb : float, optional
        Memory the training records may take, GB (``None``: half of the machine's). A larger
        cache is trained on a window of records that slides through it one step per epoch
        (:class:`models.training.record_pool.RecordPool`).
    pitch_mm : float
        Working pitch of the model (mm per pixel); records made at another pitch are resampled
        to it (:class:`models.training.data.CropSampler`).
    """

    out: str = "runs/train"
    cache: str = "runs/cache/train"
    seed: int = 0
    epochs: int = 30
    steps_per_epoch: int = 200
    batch_size: int = 16
    crop: tuple[int, int] = (384, 192)
    lr: float = 3e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 300
    ema_decay: float = 0.998
    minutes: float | None = None
    checkpoint_minutes: float = 4.0
    threads: int = 2
    max_records: int | None = None
    min_records: int = 1
    init_from: str | None = None
    device: str = "auto"
    loader_threads: int = 0
    memory_gb: float | None = None
    pitch_mm: float = 2.0
    network: NetworkConfig = field(default_factory=NetworkConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    loss: LossWeights = field(default_factory=LossWeights)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Rebuild from :func:`dataclasses.asdict` output."""
        d = dict(data)
        d["crop"] = tuple(d["crop"])
        net = dict(d.pop("network"))
        net["widths"], net["depths"] = tuple(net["widths"]), tuple(net["depths"])
        aug: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in d.pop("augment").items()
        }
        # Checkpoints from before hard phones were weighted drew them like any other phone.
        aug.setdefault("hard_phone_weight", 1.0)
        return cls(
            network=NetworkConfig(**net),
            augment=AugmentConfig(**aug),
            loss=LossWeights(**d.pop("loss")),
            **d,
        )


@dataclass
class TrainState:
    """What a checkpoint restores."""

    model: CenterNet
    ema: CenterNet
    optimizer: torch.optim.Optimizer
    step: int = 0
    epoch: int = 0
    elapsed_s: float = 0.0
    history: list[dict[str, float]] = field(default_factory=list)
    rng_state: dict[str, Any] | None = None
    #: Most training records the run has drawn from (the cache may grow while it trains).
    records: int = 0
    #: First and last scan seed of those records (from the record file names), or None.
    seed_bounds: tuple[int, int] | None = None
    #: Checkpoints whose weights were averaged into this one (see ``models.training.averaging``).
    averaged_from: list[str] = field(default_factory=list)


def new_state(cfg: TrainConfig) -> TrainState:
    """A fresh model, EMA copy and AdamW optimiser (no decay on biases and norms) for ``cfg``."""
    torch.manual_seed(cfg.seed)
    model = CenterNet(cfg.network)
    ema = copy.deepcopy(model).eval()
    for p in ema.parameters():
        p.requires_grad_(False)
    decay: list[torch.nn.Parameter] = []
    no_decay: list[torch.nn.Parameter] = []
    for name, p in model.named_parameters():
        (no_decay if p.ndim <= 1 or name.endswith(".bias") else decay).append(p)
    opt = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": cfg.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=cfg.lr,
    )
    return TrainState(model, ema, opt)


def save_checkpoint(
    state: TrainState, cfg: TrainConfig, path: Path, rng: np.random.Generator
) -> None:
    """Write a checkpoint atomically."""
    payload = {
        "config": asdict(cfg),
        "classes": list(CLASSES[: cfg.network.num_classes]),
        "model": state.model.state_dict(),
        "ema": state.ema.state_dict(),
        "optimizer": state.optimizer.state_dict(),
        "step": state.step,
        "epoch": state.epoch,
        "elapsed_s": state.elapsed_s,
        "history": state.history,
        "records": state.records,
        "seed_bounds": list(state.seed_bounds) if state.seed_bounds else None,
        "averaged_from": state.averaged_from,
        "rng": {"numpy": rng.bit_generator.state, "torch": torch.get_rng_state()},
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | Path) -> tuple[TrainConfig, TrainState]:
    """Read a checkpoint written by :func:`train`.

    Raises
    ------
    CheckpointError
        If the file is missing or is not a training checkpoint.
    """
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
        cfg = TrainConfig.from_dict(payload["config"])
        state = new_state(cfg)
        state.model.load_state_dict(payload["model"])
        state.ema.load_state_dict(payload["ema"])
        state.optimizer.load_state_dict(payload["optimizer"])
    except FileNotFoundError as exc:
        raise CheckpointError(
            f"no checkpoint at {str(path)!r}; train first, or drop --resume to start a new run"
        ) from exc
    except (KeyError, RuntimeError, TypeError, ValueError) as exc:
        raise CheckpointError(
            f"{str(path)!r} is not a usable training checkpoint ({exc}); delete it or choose "
            "another --out"
        ) from exc
    state.step, state.epoch = int(payload["step"]), int(payload["epoch"])
    state.elapsed_s = float(payload["elapsed_s"])
    state.history = list(payload["history"])
    state.records = int(payload.get("records", 0))
    state.seed_bounds = _stored_seed_bounds(payload)
    state.averaged_from = [str(p) for p in payload.get("averaged_from", [])]
    state.rng_state = payload["rng"]
    return cfg, state


def record_seed_bounds(paths: list[Path]) -> tuple[int, int] | None:
    """First and last seed of records named ``<split>-<seed>.npz``; None without any."""
    seeds = [int(t) for p in paths if (t := p.stem.rpartition("-")[2]).isdigit()]
    return (min(seeds), max(seeds)) if seeds else None


def _stored_seed_bounds(payload: dict[str, Any]) -> tuple[int, int] | None:
    bounds = payload.get("seed_bounds")
    if bounds:
        return int(bounds[0]), int(bounds[1])
    # Checkpoints written before seed bounds were numbers kept them as "[N scans among ]a..b".
    match = re.search(r"(\d+)\.\.(\d+)", str(payload.get("seed_span") or ""))
    return (int(match.group(1)), int(match.group(2))) if match else None


def format_seed_span(bounds: tuple[int, int] | None, count: int) -> str:
    """``"first..last"``, or ``"N scans among first..last"`` when the span has gaps.

    Parameters
    ----------
    bounds : (int, int) or None
        First and last seed; None gives ``""``.
    count : int
        How many scans were drawn from the span.
    """
    if bounds is None:
        return ""
    first, last = bounds
    span = f"{first}..{last}"
    return span if count == last - first + 1 else f"{count} scans among {span}"


#: Layers a stride-2 network has beyond a stride-4 one (they start as the identity).
_STRIDE2_LAYERS = ("lateral2.", "smooth2.")


def init_from_parent(state: TrainState, path: str) -> bool:
    """Copy the parent's weights into ``state``'s model and EMA.

    The parent is a training checkpoint (its EMA weights) or an exported ``.onnx`` model (read
    back by :func:`models.training.onnx_weights.load_onnx_network`). A stride-2 network may start
    from a stride-4 parent: the layers only it has keep their identity initialisation. Any other
    difference in the networks is refused.

    Returns
    -------
    bool
        Whether the parent was an ONNX model (its batch norms then need :func:`fit_batchnorm`).
    """
    if is_onnx_model(path):
        weights = load_onnx_network(path).state_dict()
        logger.info("initialised from the ONNX model %s", path)
    else:
        _, source = load_checkpoint(path)
        weights = source.ema.state_dict()
        logger.info("initialised from the EMA weights of %s (step %d)", path, source.step)
    _copy_parent_weights(state, weights, path)
    return is_onnx_model(path)


def _copy_parent_weights(state: TrainState, weights: dict[str, torch.Tensor], path: str) -> None:
    """Load ``weights`` into ``state``'s model and EMA, refusing a different network."""
    for module in (state.model, state.ema):
        try:
            missing, unexpected = module.load_state_dict(weights, strict=False)
        except RuntimeError as exc:
            raise CheckpointError(
                f"cannot start from {path!r}: its network differs from this run's in layer "
                f"sizes ({str(exc).splitlines()[-1].strip()}); start from a checkpoint with the "
                "same widths and depths, or train without --init-from"
            ) from exc
        extra = [k for k in missing if not k.startswith(_STRIDE2_LAYERS)]
        if extra or unexpected:
            raise CheckpointError(
                f"cannot start from {path!r}: its network has other layers than this run's "
                f"(missing {extra[:3]}, unexpected {list(unexpected)[:3]}); a stride-2 run may "
                "start from a stride-4 parent, other changes need training without --init-from"
            )
