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

import json
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Generator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from models.training.checkpoint import (
    CHECKPOINT,
    TrainConfig,
    TrainState,
    init_from_parent,
    load_checkpoint,
    new_state,
    record_seed_bounds,
    save_checkpoint,
)
from models.training.data import Batch, CropSampler
from models.training.errors import DataError, DeviceError
from models.training.loss import centernet_loss
from models.training.network import CenterNet
from models.training.onnx_weights import fit_batchnorm

__all__ = [
    "memory_format",
    "resolve_device",
    "train",
]

logger = logging.getLogger(__name__)


def _lr_at(step: int, cfg: TrainConfig) -> float:
    total = max(1, cfg.epochs * cfg.steps_per_epoch)
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    t = min(1.0, (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps))
    return cfg.lr * (0.03 + 0.97 * 0.5 * (1 + math.cos(math.pi * t)))


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


#: Batches of training crops whose statistics the batch norms of an ONNX-started run are refit to.
_BATCHNORM_FIT_BATCHES = 8


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
        state = new_state(cfg)
        rng = np.random.default_rng(cfg.seed)
        refit_batchnorm = False
        if cfg.init_from:
            refit_batchnorm = init_from_parent(state, cfg.init_from)
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
            state.records, state.seed_bounds = n_rec, record_seed_bounds(sampler.paths)
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
