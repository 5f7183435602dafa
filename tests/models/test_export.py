"""Tests of the ONNX export and its parity check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from models.training.errors import ExportError
from models.training.export import export_onnx
from models.training.network import CenterNet, NetworkConfig


def test_export_tiny_network_with_parity(tiny_net_config: NetworkConfig, tmp_path: Path) -> None:
    """An untrained tiny network exports with opset 17, dynamic H/W and parity within 1e-4."""
    path = tmp_path / "m.onnx"
    report = export_onnx(CenterNet(tiny_net_config).eval(), path)
    assert max(report.max_abs_diff.values()) <= 1e-4
    model = onnx.load(str(path))
    assert model.opset_import[0].version == 17
    assert [i.name for i in model.graph.input] == ["image"]
    assert [o.name for o in model.graph.output] == ["heatmap", "wh", "offset"]
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    heat, wh, off = sess.run(None, {"image": np.zeros((1, 1, 96, 160), np.float32)})
    assert heat.shape == (1, 6, 24, 40) and wh.shape == off.shape == (1, 2, 24, 40)
    assert 0.0 <= heat.min() and heat.max() <= 1.0 and wh.min() > 0.0


def test_export_rejects_old_opset(tiny_net_config: NetworkConfig, tmp_path: Path) -> None:
    """Opsets below 17 are refused."""
    with pytest.raises(ExportError, match="opset >= 17"):
        export_onnx(CenterNet(tiny_net_config), tmp_path / "m.onnx", opset=13)


def test_parity_failure_reported(tiny_net_config: NetworkConfig, tmp_path: Path) -> None:
    """An impossible tolerance makes the parity check fail with the measured differences."""
    with pytest.raises(ExportError, match="disagrees with PyTorch"):
        export_onnx(CenterNet(tiny_net_config).eval(), tmp_path / "m.onnx", tolerance=-1.0)
