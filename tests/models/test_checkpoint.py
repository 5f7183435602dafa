"""Tests of checkpoints: saving and loading, seed bounds, starting from a parent's weights."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from models.training.checkpoint import (
    TrainConfig,
    _copy_parent_weights,
    format_seed_span,
    load_checkpoint,
    new_state,
    record_seed_bounds,
    save_checkpoint,
)
from models.training.errors import CheckpointError
from models.training.network import NetworkConfig


def test_load_checkpoint_errors(tmp_path: Path) -> None:
    """A missing or foreign checkpoint raises CheckpointError with the fix."""
    with pytest.raises(CheckpointError, match="drop --resume"):
        load_checkpoint(tmp_path / "none.pt")
    torch.save({"weights": 1}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a usable training checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


def test_seed_span_from_record_names() -> None:
    """Seed bounds come from the record file names as numbers; the span names gaps' count."""
    paths = [Path(f"train-{s:012d}.npz") for s in (12, 3, 10000007)]
    assert record_seed_bounds(paths) == (3, 10000007)
    assert format_seed_span((3, 10000007), 3) == "3 scans among 3..10000007"
    gapless = record_seed_bounds([Path(f"train-{s}.npz") for s in (5, 4, 6)])
    assert format_seed_span(gapless, 3) == "4..6"
    assert record_seed_bounds([]) is None and format_seed_span(None, 0) == ""


def test_checkpoint_seed_bounds_round_trip_and_legacy_text(
    tmp_path: Path, tiny_net_config: NetworkConfig
) -> None:
    """Seed bounds are saved as numbers; a checkpoint holding the older text form still loads."""
    cfg = TrainConfig(out=str(tmp_path), cache=str(tmp_path), network=tiny_net_config)
    state = new_state(cfg)
    state.seed_bounds, state.records = (30000000, 30003745), 3414
    save_checkpoint(state, cfg, tmp_path / "last.pt", np.random.default_rng(0))
    assert load_checkpoint(tmp_path / "last.pt")[1].seed_bounds == (30000000, 30003745)
    payload = torch.load(tmp_path / "last.pt", weights_only=False)
    del payload["seed_bounds"]
    payload["seed_span"] = "6902 scans among seeds 10000000..10007999"
    torch.save(payload, tmp_path / "old.pt")
    assert load_checkpoint(tmp_path / "old.pt")[1].seed_bounds == (10000000, 10007999)


def test_stride2_network_starts_as_its_stride4_parent() -> None:
    """A stride-2 run started from a stride-4 checkpoint starts from its parent's features."""
    net4 = NetworkConfig(widths=(8, 8, 16, 16, 24), depths=(0, 1, 1, 0), neck=16, head=8)
    net2 = replace(net4, stride=2)
    parent = new_state(TrainConfig(network=net4))
    with torch.no_grad():  # non-trivial batch-norm statistics, as after training
        for m in parent.ema.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    child = new_state(TrainConfig(network=net2, seed=1))
    _copy_parent_weights(child, parent.ema.state_dict(), "parent.pt")
    x = torch.rand(1, 1, 128, 96)
    with torch.no_grad():
        parent.ema.eval(), child.ema.eval()
        f4, f2 = parent.ema.features(x), child.ema.features(x)
        out4, out2 = parent.ema(x), child.ema(x)
    assert f2.shape == (1, 16, 64, 48) and out2.heatmap_logits.shape == (1, 6, 64, 48)
    up = torch.nn.functional.interpolate(f4, scale_factor=2.0, mode="nearest")
    assert torch.allclose(up, f2, atol=1e-6)
    # the heads then see the same features at twice the scale: close to the parent, not equal
    up = torch.nn.functional.interpolate(out4.heatmap_logits, scale_factor=2.0, mode="nearest")
    assert float((up - out2.heatmap_logits).abs().max()) < 0.05
    # the other way round, or another width, is refused with a message
    with pytest.raises(CheckpointError, match="other layers"):
        _copy_parent_weights(
            new_state(TrainConfig(network=net4)), child.ema.state_dict(), "child.pt"
        )
    wider = new_state(TrainConfig(network=replace(net4, neck=24)))
    with pytest.raises(CheckpointError, match="layer sizes"):
        _copy_parent_weights(wider, parent.ema.state_dict(), "parent.pt")
