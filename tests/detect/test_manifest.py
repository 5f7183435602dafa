"""The model manifest: round trip, validation, sha256 verification."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from models import ManifestError, ModelIntegrityError
from models.manifest import Manifest, file_sha256, flip_average

CONTRACT_EXAMPLE = {
    "name": "scanguard-phone-centernet",
    "version": "1.0.0",
    "file": "phone_detector.onnx",
    "sha256": "ab" * 32,
    "opset": 17,
    "input": {
        "name": "image",
        "pitch_mm": 2.0,
        "scale": 0.25,
        "clip_max": 4.0,
        "pad_multiple": 32,
        "destripe": True,
    },
    "outputs": {"heatmap": "heatmap", "wh": "wh", "offset": "offset", "stride": 4},
    "classes": ["phone", "power_bank", "battery", "sim_card", "blade", "drug_package"],
    "calibration": {"method": "platt", "per_class": {"phone": {"a": 1.2, "b": -0.3}}},
    "thresholds": {
        "peak_min_score": 0.05,
        "report_min_confidence": 0.3,
        "alarm": 0.6,
        "clear_below": 0.25,
        "nms_iou": 0.5,
        "top_k": 50,
    },
    "training": {
        "seed": 0,
        "n_train_scans": 10,
        "n_calibration_scans": 2,
        "epochs": 1,
        "wall_time_s": 1.5,
        "device": "cpu",
        "simulator": "scanner.simulate",
        "notes": "extra keys allowed here",
    },
    "metrics": {"ap50": 0.9},
}


def test_contract_example_round_trips(tmp_path: Path) -> None:
    """The contract's JSON loads, saves and loads back equal."""
    src = tmp_path / "manifest.json"
    src.write_text(json.dumps(CONTRACT_EXAMPLE))
    m = Manifest.load(src)
    assert m.calibration.params("phone").a == 1.2
    assert m.calibration.params("blade").a == 1.0
    assert m.class_index("blade") == 4
    m.save(tmp_path / "again.json")
    assert Manifest.load(tmp_path / "again.json") == m


def test_missing_file_names_path(tmp_path: Path) -> None:
    """A missing manifest raises ManifestError naming the file."""
    with pytest.raises(ManifestError, match=r"cannot read model manifest .*nope\.json"):
        Manifest.load(tmp_path / "nope.json")


def test_invalid_json(tmp_path: Path) -> None:
    """A manifest that is not JSON raises ManifestError."""
    bad = tmp_path / "m.json"
    bad.write_text("{not json")
    with pytest.raises(ManifestError, match="not valid JSON"):
        Manifest.load(bad)


@pytest.mark.parametrize(
    ("patch", "match"),
    [
        ({"sha256": "xyz"}, "sha256"),
        ({"classes": ["blade"]}, "must include 'phone'"),
        ({"classes": ["phone", "phone"]}, "unique"),
        ({"thresholds": {"alarm": 0.2, "clear_below": 0.5}}, "must not exceed"),
        (
            {"calibration": {"method": "platt", "per_class": {"gun": {"a": 1, "b": 0}}}},
            "does not have",
        ),
        (
            {"calibration": {"method": "platt", "size_prior": {"gun": {"slope": 0.2}}}},
            "calibration.size_prior names classes",
        ),
        (
            {"calibration": {"size_prior": {"phone": {"slope": float("nan")}}}},
            "finite",
        ),
        (
            {"calibration": {"size_prior": {"phone": {"slope": 0.2, "min_long_mm": 0}}}},
            "min_long_mm",
        ),
        ({"input": {"pitch_mm": -2}}, "input.pitch_mm"),
        ({"input": {"pitch": 2}}, "input.pitch"),
        ({"calibration": {"method": "isotonic"}}, "calibration.method"),
        ({"outputs": {"zoom_test": 1.0}}, "outputs.zoom_test"),
        ({"outputs": {"zoom_test": 3.0}}, "outputs.zoom_test"),
    ],
)
def test_schema_errors_name_the_field(tmp_path: Path, patch: dict, match: str) -> None:
    """Invalid fields raise ManifestError naming the field."""
    data = {**CONTRACT_EXAMPLE, **patch}
    path = tmp_path / "m.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ManifestError, match=match):
        Manifest.load(path)


def test_verify_and_with_model(tmp_path: Path) -> None:
    """with_model records the file's sha256; verify passes, then fails once the file changes."""
    model = tmp_path / "model.onnx"
    model.write_bytes(b"weights-v1")
    m = Manifest.model_validate(CONTRACT_EXAMPLE).with_model(model)
    assert m.file == "model.onnx" and m.sha256 == file_sha256(model)
    m.verify(model)
    model.write_bytes(b"weights-v2")
    with pytest.raises(ModelIntegrityError, match=r"model\.onnx.*does not match its manifest"):
        m.verify(model)
    with pytest.raises(ModelIntegrityError, match="cannot read model file"):
        m.verify(tmp_path / "missing.onnx")


def test_flip_average_mirrors_back() -> None:
    """flip_average mirrors the second heatmap back along the columns before averaging."""
    a = np.zeros((2, 3, 4), np.float32)
    b = np.zeros_like(a)
    a[1, 2, 0] = 1.0
    b[1, 2, 3] = 1.0  # the same peak, seen in the mirrored input
    b[0, 0, 3] = 0.5
    out = flip_average(a, b)
    assert out.dtype == np.float32 and out.shape == a.shape
    assert out[1, 2, 0] == 1.0 and out[0, 0, 0] == 0.25
    assert np.count_nonzero(out) == 2
