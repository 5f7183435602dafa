"""Tests of weight averaging (``scanguard train --average``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from models.training.averaging import average_checkpoints
from models.training.checkpoint import load_checkpoint
from models.training.errors import CheckpointError
from models.training.lineage import training_phases
from models.training.network import NetworkConfig
from models.training.trainer import train
from tests.models.conftest import small_run_config


def _run(out: Path, cache: Path, net: NetworkConfig, seed: int, init: Path | None) -> Path:
    cfg = small_run_config(out, cache, net, steps=2, seed=seed, init_from=init)
    train(cfg, progress=False)
    return out / "last.pt"


def test_average_is_the_mean_and_lists_every_phase_once(
    standin_cache: Path, tiny_net_config: NetworkConfig, tmp_path: Path
) -> None:
    """The averaged EMA weights are the mean; the phase list holds the common parent once."""
    parent = _run(tmp_path / "parent", standin_cache, tiny_net_config, 0, None)
    a = _run(tmp_path / "a", standin_cache, tiny_net_config, 1, parent)
    b = _run(tmp_path / "b", standin_cache, tiny_net_config, 2, parent)
    path = average_checkpoints([a, b], tmp_path / "soup")
    cfg, soup = load_checkpoint(path)
    _, sa = load_checkpoint(a)
    _, sb = load_checkpoint(b)
    ea, eb, es = sa.ema.state_dict(), sb.ema.state_dict(), soup.ema.state_dict()
    moved = 0
    for key, value in es.items():
        if value.dtype.is_floating_point:
            torch.testing.assert_close(value, (ea[key] + eb[key]) / 2)
            moved += int(not torch.equal(ea[key], eb[key]))
    assert moved > 0  # the two runs really differ
    assert soup.averaged_from == [a.as_posix(), b.as_posix()] and cfg.init_from is None
    phases = training_phases(cfg, soup)
    assert [p.get("run") for p in phases] == [
        (tmp_path / "parent").as_posix(),
        (tmp_path / "a").as_posix(),
        (tmp_path / "b").as_posix(),
        None,
    ]
    assert phases[-1]["averaged_from"] == soup.averaged_from
    assert sum(p["steps"] for p in phases) == 6


def test_average_refuses_one_source_and_different_networks(
    standin_cache: Path, tiny_net_config: NetworkConfig, tmp_path: Path
) -> None:
    """Fewer than two checkpoints, or two different networks, are refused with the fix."""
    a = _run(tmp_path / "a", standin_cache, tiny_net_config, 0, None)
    with pytest.raises(CheckpointError, match="two or more"):
        average_checkpoints([a], tmp_path / "soup")
    wider = NetworkConfig(widths=(8, 8, 16, 16, 32), depths=(0, 1, 1, 0), neck=16, head=8)
    b = _run(tmp_path / "b", standin_cache, wider, 0, None)
    with pytest.raises(CheckpointError, match="same network"):
        average_checkpoints([a, b], tmp_path / "soup")
