"""Tests of the loss, the batch sampler and the training loop with checkpoints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from models.training.cache import CacheRecord
from models.training.checkpoint import (
    TrainConfig,
    load_checkpoint,
)
from models.training.data import AugmentConfig, CropSampler, _object_weights
from models.training.errors import DataError, DeviceError
from models.training.loss import centernet_loss
from models.training.network import CenterNet, NetworkConfig, count_parameters
from models.training.trainer import _batches, resolve_device, train
from tests.models.conftest import small_run_config


def test_default_network_size_and_shapes() -> None:
    """The shipped architecture has 0.2-1 M parameters and stride-4 outputs."""
    net = CenterNet().eval()
    assert 200_000 <= count_parameters(net) <= 1_000_000
    with torch.no_grad():
        out = net(torch.zeros(1, 1, 128, 96))
    assert out.heatmap_logits.shape == (1, 6, 32, 24)
    assert out.log_wh.shape == out.offset.shape == (1, 2, 32, 24)


def test_sampler_batches(standin_cache: Path) -> None:
    """Batches have the crop size, stay in the input range and carry object targets."""
    sampler = CropSampler(standin_cache, crop=(128, 96))
    assert sampler.refresh() == 12
    b = sampler.batch(8, np.random.default_rng(0))
    assert b.image.shape == (8, 1, 128, 96)
    assert float(b.image.min()) >= 0.0 and float(b.image.max()) <= 4.0
    assert b.heatmap.shape == (8, 6, 32, 24)
    assert float(b.mask.sum()) >= 1.0


def test_object_crops_favour_phones_and_hard_phones() -> None:
    objects = [
        {"kind": "smartphone", "concealment": "clothing"},
        {"kind": "mini_phone", "concealment": "clothing"},
        {"kind": "smartphone", "concealment": "internal"},
        {"kind": "power_bank", "concealment": "internal"},
    ]
    rec = CacheRecord(
        np.zeros((64, 64), np.float16),
        np.zeros((4, 4), np.float32),
        np.array([0, 0, 0, 1]),
        {"objects": objects},
    )
    w = _object_weights(rec, AugmentConfig(phone_weight=3.0, hard_phone_weight=2.0))
    np.testing.assert_allclose(w, [3.0, 6.0, 6.0, 1.0])
    # records without per-object attributes still weight by class
    bare = CacheRecord(rec.image, rec.boxes, rec.labels, {})
    np.testing.assert_allclose(_object_weights(bare, AugmentConfig()), [3.0, 3.0, 3.0, 1.0])


@pytest.mark.parametrize(("pitch", "factor"), [(None, 1.0), (2.0, 1.0), (1.0, 2.0), (4.0, 0.5)])
def test_sampler_resamples_records_to_the_model_pitch(
    tmp_path: Path, pitch: float | None, factor: float
) -> None:
    """A 2 mm record feeds a model of another pitch with objects scaled by 2 mm / pitch."""
    image = np.zeros((256, 192), np.float16)
    image[100:116, 80:88] = 1.0
    rec = CacheRecord(
        image, np.array([[80, 100, 8, 16]], np.float32), np.array([0]), {"pitch_mm": 2.0}
    )
    rec.save(tmp_path / "r.npz")
    aug = AugmentConfig(p_object_crop=1.0, scale_range=(1.0, 1.0), flip=0.0)
    sampler = CropSampler(tmp_path, crop=(256, 192), augment=aug, pitch_mm=pitch)
    sampler.refresh()
    for seed in range(5):  # the object lands anywhere in the crop's middle 80 %, never cut
        patch, boxes, labels = sampler._crop_one(rec, np.random.default_rng(seed))
        assert patch.shape == (256, 192) and labels.tolist() == [0]
        np.testing.assert_allclose(boxes[0, 2:], [8 * factor, 16 * factor], rtol=0.02)
        # the object's mass (8 x 16 px of 1.0) follows the box
        assert float(patch.sum()) == pytest.approx(128 * factor**2, rel=0.1)
    with pytest.raises(DataError, match="working pitch"):
        CropSampler(tmp_path, crop=(128, 96), pitch_mm=0.0)


def test_sampler_rejects_bad_crop_and_empty_folder(tmp_path: Path) -> None:
    """A crop that is not a multiple of 32, or a folder without records, raise DataError."""
    with pytest.raises(DataError, match="multiples of 32"):
        CropSampler(tmp_path, crop=(100, 96))
    with pytest.raises(DataError, match="no training records"):
        CropSampler(tmp_path, crop=(128, 96)).refresh()


def test_training_steps_reduce_loss(standin_cache: Path, tiny_net_config: NetworkConfig) -> None:
    """A few optimiser steps on one fixed batch lower its loss."""
    torch.manual_seed(0)
    net = CenterNet(tiny_net_config)
    sampler = CropSampler(standin_cache, crop=(128, 96))
    batch = sampler.batch(4, np.random.default_rng(1), augment=False)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    losses = []
    for _ in range(15):
        loss, _parts = centernet_loss(
            net(batch.image), batch.heatmap, batch.log_wh, batch.offset, batch.mask
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert np.isfinite(losses).all()
    assert losses[-1] < 0.7 * losses[0]


def test_checkpoint_resume(
    standin_cache: Path, tiny_net_config: NetworkConfig, tmp_path: Path
) -> None:
    """A run resumed from its checkpoint continues the step count, history and plot."""
    cfg = small_run_config(tmp_path / "run", standin_cache, tiny_net_config)
    train(cfg, progress=False)
    saved_cfg, state = load_checkpoint(tmp_path / "run" / "last.pt")
    assert state.step == 3 and state.epoch == 1 and saved_cfg.network == tiny_net_config
    cfg.epochs = 2
    resumed = train(cfg, resume=True, progress=False)
    assert resumed.step == 6 and resumed.epoch == 2
    assert len(resumed.history) >= 2
    assert (tmp_path / "run" / "loss.png").stat().st_size > 0
    _, again = load_checkpoint(tmp_path / "run" / "last.pt")
    for a, b in zip(
        again.ema.state_dict().values(), resumed.ema.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b)


def test_train_without_data_fails_fast(tmp_path: Path, tiny_net_config: NetworkConfig) -> None:
    """Training on an empty cache with no generator running stops with a DataError."""
    cfg = TrainConfig(
        out=str(tmp_path / "run"),
        cache=str(tmp_path / "empty"),
        network=tiny_net_config,
        crop=(128, 96),
    )
    with pytest.raises(DataError, match="no generator is running"):
        train(cfg, progress=False)


def test_threaded_batches_equal_inline_batches(standin_cache: Path) -> None:
    """Batches prepared by background threads are the inline ones, in the same order."""
    sampler = CropSampler(standin_cache, crop=(128, 96))
    sampler.refresh()
    inline = _batches(sampler, 3, np.random.default_rng(5), threads=0)
    threaded = _batches(sampler, 3, np.random.default_rng(5), threads=2)
    for _ in range(5):
        a, b = next(inline), next(threaded)
        assert torch.equal(a.image, b.image) and torch.equal(a.heatmap, b.heatmap)
        assert torch.equal(a.mask, b.mask)
    threaded.close()
    inline.close()


def test_device_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    """auto falls back to the CPU; cuda without a GPU and unknown names are refused with the fix."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto").type == "cpu" and resolve_device("cpu").type == "cpu"
    with pytest.raises(DeviceError, match="--device auto or cpu"):
        resolve_device("cuda")
    with pytest.raises(DeviceError, match="choose auto, cpu or cuda"):
        resolve_device("tpu")


def test_checkpoint_records_device_and_loader_threads_train_the_same(
    standin_cache: Path, tiny_net_config: NetworkConfig, tmp_path: Path
) -> None:
    """The checkpoint names the device used; loader threads give the same weights as inline."""
    weights = []
    for threads in (0, 2):
        cfg = small_run_config(
            tmp_path / f"run{threads}", standin_cache, tiny_net_config, loader_threads=threads
        )
        train(cfg, progress=False)
        saved, state = load_checkpoint(tmp_path / f"run{threads}" / "last.pt")
        assert saved.device == "cpu" and saved.loader_threads == threads
        weights.append(state.ema.state_dict())
    for a, b in zip(weights[0].values(), weights[1].values(), strict=True):
        assert torch.equal(a, b)


def test_stride_is_checked_and_sets_the_target_size(standin_cache: Path) -> None:
    """Only strides 2 and 4 exist; the sampler builds its targets at the network's stride."""
    with pytest.raises(ValueError, match="output stride must be one of"):
        NetworkConfig(stride=8)
    b2 = CropSampler(standin_cache, (128, 96), stride=2).batch(8, np.random.default_rng(0))
    b4 = CropSampler(standin_cache, (128, 96)).batch(8, np.random.default_rng(0))
    assert b2.heatmap.shape == (8, 6, 64, 48) and b2.mask.shape == (8, 64, 48)
    assert b4.heatmap.shape == (8, 6, 32, 24)
    # the same crops, with one centre cell per object at either stride
    assert torch.equal(b2.image, b4.image)
    assert float(b2.mask.sum()) == float(b4.mask.sum()) > 0
    assert float(b2.heatmap.max()) == 1.0


def test_cpu_training_runs_channels_last_and_saves_plain_weights(
    tmp_path: Path,
    standin_cache: Path,
    tiny_net_config: NetworkConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On the CPU the network's activations are channels-last while training; the checkpoint
    loads into a default-layout network that computes what the trained one does."""
    import models.training.trainer as trainer

    assert trainer.memory_format(torch.device("cpu")) == torch.channels_last
    assert trainer.memory_format(torch.device("cuda")) == torch.contiguous_format
    layouts: list[bool] = []
    real_loss = trainer.centernet_loss

    def spy(out, *args, **kwargs):  # type: ignore[no-untyped-def]
        layouts.append(out.heatmap_logits.is_contiguous(memory_format=torch.channels_last))
        return real_loss(out, *args, **kwargs)

    monkeypatch.setattr(trainer, "centernet_loss", spy)
    cfg = small_run_config(tmp_path / "run", standin_cache, tiny_net_config, steps=2)
    cfg.device = "cpu"
    state = train(cfg, progress=False)
    assert layouts == [True, True]
    _, loaded = load_checkpoint(tmp_path / "run" / "last.pt")
    x = torch.rand(1, 1, 128, 96)
    with torch.no_grad():
        want = state.model.eval()(x.to(memory_format=torch.channels_last)).heatmap_logits
        got = loaded.model.eval()(x).heatmap_logits
    assert got.is_contiguous() and torch.allclose(want, got, atol=1e-5)
