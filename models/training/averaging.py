"""Weight averaging: one checkpoint whose weights are the mean of several fine-tuned runs.

Runs fine-tuned from the same parent (on different scans, seeds or learning rates) land in one
basin of the loss; the mean of their weights is often better than each of them ("model soup",
Wortsman et al., ICML 2022). The averaged checkpoint records its sources, so the manifest lists
every training phase behind it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from models.training.checkpoint import CHECKPOINT, TrainConfig, load_checkpoint, save_checkpoint
from models.training.errors import CheckpointError

__all__ = ["average_checkpoints"]


def _mean_state(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Mean of floating-point tensors; counters (integer buffers) take the largest value."""
    out: dict[str, torch.Tensor] = {}
    for key, first in states[0].items():
        stack = torch.stack([s[key].detach().cpu() for s in states])
        if first.dtype.is_floating_point:
            out[key] = stack.double().mean(dim=0).to(first.dtype)
        else:
            out[key] = stack.max(dim=0).values
    return out


def average_checkpoints(sources: list[str | Path], out: str | Path) -> Path:
    """Write ``<out>/last.pt`` with the mean EMA weights of ``sources``.

    Parameters
    ----------
    sources : list of str or Path
        Two or more training checkpoints of the same network.
    out : str or Path
        Run folder of the averaged checkpoint.

    Returns
    -------
    Path
        The checkpoint written.

    Raises
    ------
    CheckpointError
        If fewer than two sources are given, one cannot be read, or their networks differ.
    """
    if len(sources) < 2:
        raise CheckpointError(
            f"weight averaging needs two or more checkpoints, got {len(sources)}; pass "
            "--average RUN_A/last.pt RUN_B/last.pt"
        )
    loaded = [load_checkpoint(p) for p in sources]
    cfg0 = loaded[0][0]
    for path, (other, _) in zip(sources, loaded, strict=True):
        if other.network != cfg0.network:
            raise CheckpointError(
                f"{str(path)!r} has network {other.network}, {str(sources[0])!r} has "
                f"{cfg0.network}; only checkpoints of the same network can be averaged"
            )
    mean = _mean_state([state.ema.state_dict() for _, state in loaded])
    cfg: TrainConfig = dataclasses.replace(cfg0, out=str(out), init_from=None, minutes=None)
    state = loaded[0][1]
    state.model.load_state_dict(mean)
    state.ema.load_state_dict(mean)
    state.step = state.epoch = 0
    state.elapsed_s = 0.0
    state.history = []
    state.records, state.seed_bounds = 0, None
    state.averaged_from = [Path(p).as_posix() for p in sources]
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / CHECKPOINT
    save_checkpoint(state, cfg, path, np.random.default_rng(cfg.seed))
    return path
