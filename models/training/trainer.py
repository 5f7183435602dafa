"""The training loop: AdamW with warm-up and cosine decay, EMA weights, resumable checkpoints.

A run folder holds ``last.pt`` (latest checkpoint), ``history.json`` (losses), ``loss.png`` (plot)
and ``train.log``. The learning-rate schedule depends only on ``epochs * steps_per_epoch``, so a run
stopped by ``minutes`` and resumed follows the same schedule.

Training runs on CUDA when a GPU is present (``device="auto"``) and on the CPU otherwise; a
checkpoint written on one resumes on the other. Each batch is drawn with its own generator seeded
from the run's generator, so batches are the same whether they are prepared inline or by
``loader_threads`` background threads (worthwhile on a GPU, where preparing crops is the
bottleneck).
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import re
import time
from collections import deque
from collections.abc import Callable, Generator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from models.training.classes import CLASSES
from models.training.data import AugmentConfig, Batch, CropSampler
from models.training.errors import CheckpointError, DataError, DeviceError
from models.training.loss import LossWeights, centernet_loss
from models.training.network import CenterNet, NetworkConfig
from models.training.onnx_weights import fit_batchnorm, is_onnx_model, load_onnx_network

__all__ = [
    "TrainConfig",
    "TrainState",
    "load_checkpoint",
    "memory_format",
    "resolve_device",
    "train",
]

logger = logging.getLogger(__name__)

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


def _lr_at(step: int, cfg: TrainConfig) -> float:
    total = max(1, cfg.epochs * cfg.steps_per_epoch)
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    t = min(1.0, (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps))
    return cfg.lr * (0.03 + 0.97 * 0.5 * (1 + math.cos(math.pi * t)))


def _new_state(cfg: TrainConfig) -> TrainState:
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
        state = _new_state(cfg)
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


def _plot(history: list[dict[str, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not history:
        return
    steps = [h["step"] for h in history]
    fig, ax = plt.subplots(figsize=(7, 4))
    for key in ("total", "heatmap", "wh", "offset"):
        ax.plot(steps, [h[key] for h in history], label=key)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


@torch.no_grad()
def _ema_update(ema: CenterNet, model: CenterNet, decay: float) -> None:
    for e, m in zip(ema.state_dict().values(), model.state_dict().values(), strict=True):
        if e.dtype.is_floating_point:
            e.mul_(decay).add_(m.detach(), alpha=1 - decay)
        else:
            e.copy_(m)


def _wait_for_records(
    sampler: CropSampler, need: int, producing: Callable[[], bool] | None = None, epoch: int = 0
) -> int:
    """Block until the cache holds ``need`` records; fail if nothing is producing them."""
    while True:
        try:
            n = sampler.refresh(epoch)
        except DataError:
            n = 0
        if n >= need:
            return n
        if producing is None or not producing():
            raise DataError(
                f"only {n} training records in {str(sampler.folder)!r}, {need} needed, and no "
                "generator is running; check the generator logs beside the cache folder, or "
                "generate data with `scanguard train --stages data`"
            )
        logger.info("waiting for training records: %d of %d", n, need)
        time.sleep(10)


def _seed_bounds(paths: list[Path]) -> tuple[int, int] | None:
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


def resolve_device(name: str) -> torch.device:
    """The torch device for a :attr:`TrainConfig.device` setting.

    Raises
    ------
    DeviceError
        If ``name`` is unknown, or is ``"cuda"`` on a machine where PyTorch sees no GPU.
    """
    if name not in ("auto", "cpu", "cuda"):
        raise DeviceError(f"unknown device {name!r}; choose auto, cpu or cuda")
    if name == "cuda" and not torch.cuda.is_available():
        raise DeviceError(
            "--device cuda was asked for but PyTorch sees no CUDA GPU (CPU-only build or no "
            "driver); use --device auto or cpu, or install a CUDA build of torch"
        )
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def memory_format(device: torch.device) -> torch.memory_format:
    """Layout of the network's weights and inputs while training on ``device``.

    Channels-last on the CPU, where the depthwise convolutions of a training step then run about
    1.5x faster (``benchmarks/training_step.py``); the default layout elsewhere.
    """
    return torch.channels_last if device.type == "cpu" else torch.contiguous_format


def _to_device(state: TrainState, device: torch.device) -> None:
    """Move the model, its EMA copy and the optimiser state to ``device``."""
    state.model.to(device)
    state.ema.to(device)
    # re-loading the state dict places each optimiser buffer beside its parameter
    state.optimizer.load_state_dict(state.optimizer.state_dict())


def _batches(
    sampler: CropSampler, size: int, rng: np.random.Generator, threads: int
) -> Generator[Batch, None, None]:
    """Endless training batches, each drawn with its own generator seeded from ``rng``.

    With ``threads`` > 0 up to ``2 * threads`` batches are prepared ahead in background threads;
    they come out in the order they were seeded, so the sequence does not depend on ``threads``.
    """

    def draw(seed: int) -> Batch:
        return sampler.batch(size, np.random.default_rng(seed))

    if threads <= 0:
        while True:
            yield draw(int(rng.integers(2**63)))
    with ThreadPoolExecutor(threads, thread_name_prefix="batches") as pool:
        pending: deque[Future[Batch]] = deque()
        try:
            while True:
                while len(pending) < 2 * threads:
                    pending.append(pool.submit(draw, int(rng.integers(2**63))))
                yield pending.popleft().result()
        finally:
            for f in pending:
                f.cancel()


#: Layers a stride-2 network has beyond a stride-4 one (they start as the identity).
_STRIDE2_LAYERS = ("lateral2.", "smooth2.")


#: Batches of training crops whose statistics the batch norms of an ONNX-started run are refit to.
_BATCHNORM_FIT_BATCHES = 8


def _init_from_parent(state: TrainState, path: str) -> bool:
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


def train(
    cfg: TrainConfig,
    resume: bool = False,
    progress: bool = True,
    producing: Callable[[], bool] | None = None,
) -> TrainState:
    """Train (or continue training) a detector.

    Parameters
    ----------
    cfg : TrainConfig
        Settings; with ``resume`` the checkpoint's settings win except ``minutes``, ``cache``,
        ``max_records``, ``epochs``, ``threads``, ``device`` and ``loader_threads``.
    resume : bool
        Continue from ``<out>/last.pt``.
    progress : bool
        Show a tqdm progress bar.
    producing : callable, optional
        Returns whether a generator is still writing records; training waits for
        ``min_records`` only while it does.

    Returns
    -------
    TrainState
        The final state (``ema`` holds the weights to export).
    """
    torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt = out / CHECKPOINT
    if resume:
        saved, state = load_checkpoint(ckpt)
        saved.minutes, saved.cache, saved.max_records = cfg.minutes, cfg.cache, cfg.max_records
        saved.epochs, saved.threads, saved.out = cfg.epochs, cfg.threads, cfg.out
        saved.device, saved.loader_threads = cfg.device, cfg.loader_threads
        saved.memory_gb = cfg.memory_gb
        cfg = saved
        rng = np.random.default_rng()
        assert state.rng_state is not None
        rng.bit_generator.state = state.rng_state["numpy"]
        torch.set_rng_state(state.rng_state["torch"])
        logger.info("resumed %s at step %d (epoch %d)", ckpt, state.step, state.epoch)
        refit_batchnorm = False
    else:
        state = _new_state(cfg)
        rng = np.random.default_rng(cfg.seed)
        refit_batchnorm = False
        if cfg.init_from:
            refit_batchnorm = _init_from_parent(state, cfg.init_from)
    sampler = CropSampler(
        cfg.cache,
        cfg.crop,
        cfg.network.num_classes,
        augment=cfg.augment,
        max_records=cfg.max_records,
        stride=cfg.network.stride,
        pitch_mm=cfg.pitch_mm,
        memory_bytes=round(cfg.memory_gb * 1e9) if cfg.memory_gb else None,
    )
    _wait_for_records(sampler, cfg.min_records, producing, state.epoch)
    if refit_batchnorm:
        # its own generator, so the training batches that follow do not depend on this
        fit_rng = np.random.default_rng([cfg.seed, 1])
        crops = (
            sampler.batch(cfg.batch_size, fit_rng).image for _ in range(_BATCHNORM_FIT_BATCHES)
        )
        n_norms = fit_batchnorm(state.model, crops)
        state.ema.load_state_dict(state.model.state_dict())
        logger.info(
            "batch norms refit to %d training batches (%d layers)", _BATCHNORM_FIT_BATCHES, n_norms
        )
    cfg.device = device.type  # the checkpoint records where this run trained
    _to_device(state, device)
    layout = memory_format(device)
    # converted in place: the parameters stay the optimiser's
    state.model.to(memory_format=layout)  # type: ignore[call-overload]
    logger.info("training on %s", device)
    batches = _batches(sampler, cfg.batch_size, rng, cfg.loader_threads)
    t_start = time.monotonic()
    elapsed0 = state.elapsed_s
    last_save = t_start
    total_steps = cfg.epochs * cfg.steps_per_epoch
    state.model.train()
    stop = False
    window: list[dict[str, float]] = []
    while state.step < total_steps and not stop:
        n_rec = sampler.refresh(state.epoch)
        if n_rec >= state.records:
            state.records, state.seed_bounds = n_rec, _seed_bounds(sampler.paths)
        bar = tqdm(
            total=cfg.steps_per_epoch,
            disable=not progress,
            mininterval=5.0,
            desc=f"epoch {state.epoch + 1}/{cfg.epochs} ({n_rec} scans)",
        )
        bar.update(state.step - state.epoch * cfg.steps_per_epoch)
        while state.step < (state.epoch + 1) * cfg.steps_per_epoch:
            batch = next(batches)
            for g in state.optimizer.param_groups:
                g["lr"] = _lr_at(state.step, cfg)
            out_t = state.model(batch.image.to(device, non_blocking=True, memory_format=layout))
            loss, parts = centernet_loss(
                out_t,
                batch.heatmap.to(device, non_blocking=True),
                batch.log_wh.to(device, non_blocking=True),
                batch.offset.to(device, non_blocking=True),
                batch.mask.to(device, non_blocking=True),
                cfg.loss,
            )
            state.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(state.model.parameters(), 10.0)
            state.optimizer.step()
            _ema_update(
                state.ema, state.model, min(cfg.ema_decay, (1 + state.step) / (10 + state.step))
            )
            state.step += 1
            window.append(parts)
            bar.update(1)
            bar.set_postfix(loss=f"{parts['total']:.3f}", hm=f"{parts['heatmap']:.3f}")
            if len(window) == 25:
                _flush(window, state, cfg)
            now = time.monotonic()
            state.elapsed_s = elapsed0 + (now - t_start)
            if cfg.minutes is not None and now - t_start >= cfg.minutes * 60:
                stop = True
                break
            if now - last_save >= cfg.checkpoint_minutes * 60:
                _checkpoint(state, cfg, ckpt, rng, out, window)
                last_save = now
        bar.close()
        if not stop:
            state.epoch += 1
            _checkpoint(state, cfg, ckpt, rng, out, window)
            last_save = time.monotonic()
    batches.close()
    _checkpoint(state, cfg, ckpt, rng, out, window)
    logger.info(
        "stopped at step %d of %d after %.0f s of training",
        state.step,
        total_steps,
        state.elapsed_s,
    )
    return state


def _flush(window: list[dict[str, float]], state: TrainState, cfg: TrainConfig) -> None:
    """Append the mean of the pending per-step losses to the history and empty ``window``."""
    if not window:
        return
    mean = {k: float(np.mean([w[k] for w in window])) for k in window[0]}
    mean["step"] = state.step
    mean["lr"] = _lr_at(state.step, cfg)
    state.history.append(mean)
    window.clear()


def _checkpoint(
    state: TrainState,
    cfg: TrainConfig,
    ckpt: Path,
    rng: np.random.Generator,
    out: Path,
    window: list[dict[str, float]],
) -> None:
    _flush(window, state, cfg)
    save_checkpoint(state, cfg, ckpt, rng)
    (out / "history.json").write_text(json.dumps(state.history, indent=1), encoding="utf-8")
    try:
        _plot(state.history, out / "loss.png")
    except Exception as exc:  # a plotting problem must not stop training
        logger.warning("loss plot not written: %s", exc)
