"""Fixtures of the detector tests: a tiny CenterNet-shaped ONNX model and synthetic scans."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import pytest
from numpy.typing import NDArray
from onnx import TensorProto, helper

from models.manifest import InputSpec, Manifest, Thresholds, file_sha256
from scanner.scan import Scan, SpacingSource

CLASSES = ["phone", "power_bank", "battery", "sim_card", "blade", "drug_package"]
#: Box (width, height) in working pixels that the tiny model predicts everywhere.
TINY_WH = (36.0, 76.0)


def build_tiny_model(
    n_classes: int = len(CLASSES), gain: float = 2.0, bias: float = 1.2
) -> onnx.ModelProto:
    """CenterNet-shaped graph: phone heatmap = clip(avgpool4(x) * gain - bias, 0, 1).

    Other class heatmaps are 0, ``wh`` is :data:`TINY_WH` and ``offset`` is 0.5 everywhere
    (the centre of each output cell).
    """
    f = TensorProto.FLOAT

    def const(name: str, value: float) -> onnx.NodeProto:
        return helper.make_node(
            "Constant", [], [name], value=helper.make_tensor(name + "_v", f, [], [value])
        )

    nodes = [
        helper.make_node("AveragePool", ["image"], ["pool"], kernel_shape=[4, 4], strides=[4, 4]),
        const("gain", gain),
        const("bias", bias),
        const("zero", 0.0),
        const("one", 1.0),
        const("w0", TINY_WH[0]),
        const("h0", TINY_WH[1]),
        const("half", 0.5),
        helper.make_node("Mul", ["pool", "gain"], ["scaled"]),
        helper.make_node("Sub", ["scaled", "bias"], ["shifted"]),
        helper.make_node("Clip", ["shifted", "zero", "one"], ["phone"]),
        helper.make_node("Mul", ["pool", "zero"], ["zeros"]),
        helper.make_node("Concat", ["phone"] + ["zeros"] * (n_classes - 1), ["heatmap"], axis=1),
        helper.make_node("Add", ["zeros", "w0"], ["wplane"]),
        helper.make_node("Add", ["zeros", "h0"], ["hplane"]),
        helper.make_node("Concat", ["wplane", "hplane"], ["wh"], axis=1),
        helper.make_node("Add", ["zeros", "half"], ["oplane"]),
        helper.make_node("Concat", ["oplane", "oplane"], ["offset"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_centernet",
        [helper.make_tensor_value_info("image", f, [1, 1, "H", "W"])],
        [
            helper.make_tensor_value_info("heatmap", f, [1, n_classes, "h", "w"]),
            helper.make_tensor_value_info("wh", f, [1, 2, "h", "w"]),
            helper.make_tensor_value_info("offset", f, [1, 2, "h", "w"]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


@dataclass(frozen=True)
class ModelFiles:
    """Paths of a model written for a test."""

    model: Path
    manifest: Path


WriteModel = Callable[..., ModelFiles]


@pytest.fixture
def write_model(tmp_path: Path) -> WriteModel:
    """Factory writing the tiny model and its manifest into a fresh folder."""

    def _write(
        name: str = "m",
        thresholds: Thresholds | None = None,
        per_class: dict[str, dict[str, float]] | None = None,
        flip_test: bool = False,
        zoom_test: float | None = None,
        size_prior: dict[str, dict[str, float]] | None = None,
        **model_kw: float,
    ) -> ModelFiles:
        folder = tmp_path / name
        folder.mkdir()
        model_path = folder / "tiny.onnx"
        onnx.save(build_tiny_model(**model_kw), model_path)  # type: ignore[arg-type]
        manifest = Manifest.model_validate(
            {
                "name": "tiny-test",
                "version": "0.0.1",
                "file": model_path.name,
                "sha256": file_sha256(model_path),
                "input": InputSpec().model_dump(),
                "outputs": {"flip_test": flip_test, "zoom_test": zoom_test},
                "classes": CLASSES,
                "calibration": {
                    "method": "platt",
                    "per_class": per_class or {},
                    "size_prior": size_prior or {},
                },
                "thresholds": (thresholds or Thresholds()).model_dump(),
            }
        )
        manifest_path = folder / "manifest.json"
        manifest.save(manifest_path)
        return ModelFiles(model_path, manifest_path)

    return _write


@dataclass(frozen=True)
class Body:
    """Rows/cols of a synthetic body's parts in original pixels."""

    image: NDArray[np.float32]
    spacing: tuple[float, float]
    top: int
    bottom: int
    torso: tuple[int, int]
    left_arm: tuple[int, int]
    height: int


def synthetic_body(
    rows: int = 2000,
    cols: int = 800,
    spacing: tuple[float, float] = (1.0, 0.8),
    arms_up: bool = False,
    arms_out: bool = False,
) -> Body:
    """A standing figure: head, trunk, arms apart from the trunk, two legs, feet.

    Proportions are fractions of the body height (1800 mm from 100 mm; with ``arms_up`` 1500 mm
    from 450 mm, hands raised 300 mm above the head; with ``arms_out`` the arms reach 700 mm
    sideways at shoulder height), laid out in mm and sampled at ``spacing``.
    """
    img = np.zeros((rows, cols), np.float32)
    rr = (np.arange(rows) + 0.5) * spacing[0]
    cc = (np.arange(cols) + 0.5) * spacing[1]
    r_mm, c_mm = np.meshgrid(rr, cc, indexing="ij")
    top_mm, height_mm = (450.0 if arms_up else 100.0), 1500.0 if arms_up else 1800.0
    mid = cols * spacing[1] / 2

    def band(t0: float, t1: float) -> NDArray[np.bool_]:
        return (r_mm >= top_mm + t0 * height_mm) & (r_mm < top_mm + t1 * height_mm)

    def span(c0: float, c1: float) -> NDArray[np.bool_]:
        return (c_mm >= mid + c0) & (c_mm < mid + c1)

    img[band(0.0, 0.13) & span(-80, 80)] = 1.5  # head
    img[band(0.13, 0.18) & span(-50, 50)] = 1.5  # neck
    img[band(0.18, 0.53) & span(-170, 170)] = 2.0  # trunk
    img[band(0.18, 0.21) & span(-250, 250)] = 1.6  # shoulders, joining the arms to the trunk
    if arms_out:  # arms held out sideways at shoulder height
        img[band(0.18, 0.23) & span(-700, 700)] = 1.0
    elif arms_up:  # raised arms, hands ~ 0.2 of the height above the head
        img[band(-0.2, 0.21) & span(-250, -200)] = 1.0
        img[band(-0.2, 0.21) & span(200, 250)] = 1.0
    else:
        img[band(0.18, 0.55) & span(-250, -200)] = 1.0  # left arm (image left)
        img[band(0.18, 0.55) & span(200, 250)] = 1.0  # right arm
    img[band(0.53, 0.96) & (span(-150, -20) | span(20, 150))] = 1.8  # legs
    img[band(0.96, 1.0) & (span(-150, -20) | span(20, 150))] = 1.2  # feet
    top = int(np.ceil(top_mm / spacing[0] - 0.5))
    bottom = int(np.floor((top_mm + height_mm) / spacing[0] - 0.5))
    torso = (int((mid - 170) / spacing[1]), int((mid + 170) / spacing[1]))
    arm = (int((mid - 250) / spacing[1]), int((mid - 200) / spacing[1]))
    return Body(img, spacing, top, bottom, torso, arm, bottom - top + 1)


def make_scan(image: NDArray[np.float32], spacing: tuple[float, float]) -> Scan:
    """Wrap an attenuation image in a Scan."""
    return Scan(
        image=np.ascontiguousarray(image, np.float32),
        spacing=spacing,
        spacing_source=SpacingSource.CALLER,
        stored_shape=(int(image.shape[0]), int(image.shape[1])),
    )


def add_object(
    image: NDArray[np.float32],
    spacing: tuple[float, float],
    center_mm: tuple[float, float],
    size_mm: tuple[float, float],
    attenuation: float,
) -> tuple[float, float, float, float]:
    """Add a dense rectangle (height, width mm) centred at (row, col) mm; returns its bbox_px."""
    r0 = round((center_mm[0] - size_mm[0] / 2) / spacing[0])
    r1 = round((center_mm[0] + size_mm[0] / 2) / spacing[0])
    c0 = round((center_mm[1] - size_mm[1] / 2) / spacing[1])
    c1 = round((center_mm[1] + size_mm[1] / 2) / spacing[1])
    image[r0:r1, c0:c1] += attenuation
    return (float(c0), float(r0), float(c1 - c0), float(r1 - r0))
