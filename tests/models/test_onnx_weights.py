"""Tests of reading an exported detector back into PyTorch (models/training/onnx_weights.py)."""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from models.manifest import Manifest
from models.training.checkpoint import load_checkpoint
from models.training.errors import CheckpointError
from models.training.export import export_onnx
from models.training.network import CenterNet, ExportWrapper, NetworkConfig
from models.training.onnx_weights import (
    fit_batchnorm,
    is_onnx_model,
    load_onnx_network,
    onnx_network_config,
)
from models.training.trainer import train

from .conftest import small_run_config

SHIPPED = Path(__file__).resolve().parents[2] / "models" / "phone_detector.onnx"


def _trained_like(config: NetworkConfig, seed: int = 0) -> CenterNet:
    """A network with non-trivial batch-norm statistics and affines, as after training."""
    torch.manual_seed(seed)
    net = CenterNet(config)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.3, 0.3)
                m.running_var.uniform_(0.3, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    return net.eval()


def _outputs(net: CenterNet, x: torch.Tensor) -> list[np.ndarray]:
    with torch.no_grad():
        return [t.numpy() for t in ExportWrapper(net)(x)]  # in the mode net is in


@pytest.mark.parametrize("stride", [4, 2])
def test_read_back_network_computes_what_the_export_does(
    tmp_path: Path, tiny_net_config: NetworkConfig, stride: int
) -> None:
    """Export, read back: same config, same outputs as onnxruntime and as the original."""
    config = replace(tiny_net_config, stride=stride)
    original = _trained_like(config)
    path = tmp_path / "m.onnx"
    export_onnx(original, path, check_shapes=((128, 96),))
    assert onnx_network_config(path) == config
    back = load_onnx_network(path)
    assert back.config == config and not back.training
    x = torch.rand(1, 1, 160, 96) * 2.0
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    ref = session.run(None, {"image": x.numpy()})
    for want, got, orig in zip(ref, _outputs(back, x), _outputs(original, x), strict=True):
        scale = np.maximum(np.abs(want), 1.0)
        assert np.max(np.abs(want - got) / scale) < 1e-4
        assert np.max(np.abs(orig - got) / scale) < 1e-4


def test_shipped_model_reads_back_exactly() -> None:
    """The shipped model reads back into the default network and matches onnxruntime."""
    net = load_onnx_network(SHIPPED)
    assert net.config == NetworkConfig(
        stride=Manifest.load(SHIPPED.parent / "manifest.json").outputs.stride
    )
    x = torch.rand(1, 1, 256, 128, generator=torch.Generator().manual_seed(3)) * 2.0
    session = ort.InferenceSession(str(SHIPPED), providers=["CPUExecutionProvider"])
    ref = session.run(None, {"image": x.numpy()})
    heat, wh, offset = _outputs(net, x)
    assert np.abs(heat - ref[0]).max() < 1e-4 and np.abs(offset - ref[2]).max() < 1e-4
    assert (np.abs(wh - ref[1]) / np.maximum(ref[1], 1.0)).max() < 1e-4


def test_fit_batchnorm_keeps_inference_and_matches_batch_statistics(
    tmp_path: Path, tiny_net_config: NetworkConfig
) -> None:
    """After the refit, eval mode is unchanged and train mode on similar data is close to it;
    before it, train mode (batch statistics) is far off."""
    path = tmp_path / "m.onnx"
    export_onnx(_trained_like(tiny_net_config, seed=1), path, check_shapes=((128, 96),))
    net = load_onnx_network(path)
    gen = torch.Generator().manual_seed(0)
    data = [torch.rand(8, 1, 128, 96, generator=gen) * 2.0 for _ in range(6)]
    probe = torch.rand(16, 1, 128, 96, generator=gen) * 2.0
    before = _outputs(net, probe)
    unfitted = _outputs(copy.deepcopy(net).train(), probe)  # a copy: train mode moves statistics
    net.train()
    n = fit_batchnorm(net, data)
    assert n == sum(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
    assert net.training  # mode restored
    net.eval()
    for a, b in zip(before, _outputs(net, probe), strict=True):
        assert np.max(np.abs(a - b) / np.maximum(np.abs(a), 1.0)) < 1e-4
    net.train()
    fitted = _outputs(net, probe)
    err_fitted = np.abs(fitted[0] - before[0]).max()
    err_unfitted = np.abs(unfitted[0] - before[0]).max()
    assert err_fitted < 0.05 and err_fitted < err_unfitted / 3


def test_bad_files_are_refused_with_a_message(tmp_path: Path) -> None:
    """Missing, damaged and foreign ONNX files raise CheckpointError naming the fix."""
    assert is_onnx_model("a/b.ONNX") and not is_onnx_model("a/last.pt")
    with pytest.raises(CheckpointError, match="no ONNX model"):
        load_onnx_network(tmp_path / "missing.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"\x00not a model" * 10)
    with pytest.raises(CheckpointError, match="not a readable ONNX model"):
        load_onnx_network(tmp_path / "junk.onnx")
    foreign = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU())
    torch.onnx.export(foreign, (torch.rand(1, 1, 32, 32),), str(tmp_path / "f.onnx"), dynamo=False)
    with pytest.raises(CheckpointError, match="not exported from this detector"):
        load_onnx_network(tmp_path / "f.onnx")


def test_training_run_starts_from_an_exported_model(
    tmp_path: Path, standin_cache: Path, tiny_net_config: NetworkConfig
) -> None:
    """A run with init_from=<model>.onnx starts from its weights (batch norms refit)."""
    parent_net = _trained_like(tiny_net_config, seed=2)
    model = tmp_path / "parent.onnx"
    export_onnx(parent_net, model, check_shapes=((128, 96),))
    cfg = small_run_config(tmp_path / "child", standin_cache, tiny_net_config, steps=1)
    cfg.init_from, cfg.lr = str(model), 1e-9  # a step that cannot move the weights
    train(cfg, progress=False)
    _, state = load_checkpoint(tmp_path / "child" / "last.pt")
    x = torch.rand(1, 1, 128, 96) * 2.0
    for a, b in zip(_outputs(parent_net, x), _outputs(state.ema.eval(), x), strict=True):
        assert np.max(np.abs(a - b) / np.maximum(np.abs(a), 1.0)) < 1e-3
    # a model of another network is refused before any training
    other = tmp_path / "other.onnx"
    export_onnx(_trained_like(replace(tiny_net_config, neck=24)), other, check_shapes=((128, 96),))
    cfg2 = small_run_config(tmp_path / "c2", standin_cache, tiny_net_config, steps=1)
    cfg2.init_from = str(other)
    with pytest.raises(CheckpointError, match="layer sizes"):
        train(cfg2, progress=False)
