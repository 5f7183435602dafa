"""Tests of a model's training lineage and of re-measuring a released model
(models/training/lineage.py, through ``scanguard train``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from models.manifest import Manifest
from scanguard.cli import main

_ARGS = ["train", "--source", "standin", "--scans", "6", "--epochs", "1"]
_ARGS += ["--steps-per-epoch", "1", "--batch-size", "2", "--crop", "128", "96"]
_ARGS += ["--calibration-scans", "4", "--test-scans", "4", "--no-progress"]


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A stand-in model trained, calibrated and "released" (its run folder), and the arguments
    (with its cache) that made it."""
    root = tmp_path_factory.mktemp("release")
    args = [*_ARGS, "--cache", str(root / "cache")]
    assert main([*args, "--out", str(root / "base"), "--version", "2.1.0", "--pitch", "1.6"]) == 0
    return root / "base", args


def _phases(manifest: Manifest) -> list[dict[str, object]]:
    return list((manifest.training.model_extra or {})["phases"])


def test_fine_tune_of_a_released_model_records_its_phases(
    released: tuple[Path, list[str]], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """`--init-from <dir>/phone_detector.onnx` lists the model's own training phases (from its
    manifest) before the new one and keeps its working pitch; a model file without its manifest
    adds no phases and, its pitch unknown, needs --pitch."""
    base, args = released
    (base_phase,) = _phases(Manifest.load(base / "manifest.json"))
    init = ["--init-from", str(base / "phone_detector.onnx")]
    assert main([*args, "--out", str(tmp_path / "child"), *init, "--seed", "3"]) == 0
    child = Manifest.load(tmp_path / "child" / "manifest.json")
    phases = _phases(child)
    assert phases[0] == base_phase and len(phases) == 2
    assert phases[1]["pitch_mm"] == 1.6 and child.input.pitch_mm == 1.6
    assert str(phases[1]["init_from"]).endswith("base/phone_detector.onnx")
    assert (child.training.model_extra or {})["steps"] == 2
    lone = tmp_path / "lone"
    lone.mkdir()
    shutil.copy(base / "phone_detector.onnx", lone / "phone_detector.onnx")
    init = ["--init-from", str(lone / "phone_detector.onnx")]
    caplog.clear()
    assert main([*args, "--out", str(tmp_path / "orphan"), *init]) == 1  # 2 mm in a 1.6 mm cache
    assert "working pitch of" in caplog.text and "give --pitch" in caplog.text
    assert main([*args, "--out", str(tmp_path / "orphan"), *init, "--pitch", "1.6"]) == 0
    (phase,) = _phases(Manifest.load(tmp_path / "orphan" / "manifest.json"))
    assert str(phase["init_from"]).endswith("lone/phone_detector.onnx")


def test_released_model_is_re_measured_as_it_is(
    released: tuple[Path, list[str]], tmp_path: Path
) -> None:
    """`--init-from MODEL.onnx --stages calibrate` with no run in --out reproduces the released
    manifest's calibration, thresholds and metrics from the same scans, for the same file."""
    base, args = released
    out = tmp_path / "recheck"
    init = ["--init-from", str(base / "phone_detector.onnx"), "--stages", "calibrate"]
    assert main([*args, "--out", str(out), *init, "--version", "2.1.0"]) == 0
    old, new = Manifest.load(base / "manifest.json"), Manifest.load(out / "manifest.json")
    assert new.sha256 == old.sha256 and new.input == old.input and new.outputs == old.outputs
    assert new.calibration == old.calibration and new.thresholds == old.thresholds
    assert json.dumps(new.metrics, sort_keys=True) == json.dumps(old.metrics, sort_keys=True)
    assert _phases(new) == _phases(old)
    assert new.training.n_train_scans == old.training.n_train_scans
    assert (out / "MODEL_CARD.md").read_text(encoding="utf-8").count("2.1.0") >= 1


def test_re_measuring_needs_the_released_manifest(
    released: tuple[Path, list[str]], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Without its manifest, or with one for another file, the release is refused clearly."""
    base, args = released
    lone = tmp_path / "lone"
    lone.mkdir()
    shutil.copy(base / "phone_detector.onnx", lone / "phone_detector.onnx")
    init = ["--init-from", str(lone / "phone_detector.onnx"), "--stages", "calibrate"]
    assert main([*args, "--out", str(tmp_path / "r1"), *init]) == 1
    assert "needs its manifest.json beside it" in caplog.text
    shutil.copy(base / "manifest.json", lone / "manifest.json")
    (lone / "phone_detector.onnx").write_bytes((base / "phone_detector.onnx").read_bytes() + b"\0")
    caplog.clear()
    assert main([*args, "--out", str(tmp_path / "r2"), *init]) == 1
    assert "matching the model" in caplog.text and "sha256" in caplog.text
    caplog.clear()
    assert main([*args, "--out", str(tmp_path / "r3"), "--stages", "calibrate"]) == 1
    assert "--init-from MODEL.onnx --stages calibrate" in caplog.text
