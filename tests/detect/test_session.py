"""Model loading: integrity check, providers, CPU fallback warning, signature checks."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest

from detect import Detector, load_detector
from detect.errors import (
    DetectorError,
    InferenceError,
    ManifestError,
    ModelIntegrityError,
    ModelLoadError,
    ProviderError,
)
from detect.session import resolve_providers
from models import errors as model_errors
from models.manifest import Manifest, file_sha256
from tests.detect.conftest import WriteModel


def test_tampered_model_is_refused(write_model: WriteModel) -> None:
    """A model file changed after its manifest was written is refused, naming the file."""
    files = write_model()
    data = bytearray(files.model.read_bytes())
    data[-1] ^= 0xFF
    files.model.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match=r"tiny\.onnx.*does not match.*restore"):
        Detector(files.model)


def test_integrity_error_is_catchable_both_ways(write_model: WriteModel) -> None:
    """The integrity error is a DetectorError and a models.errors.ModelIntegrityError."""
    files = write_model()
    files.model.write_bytes(b"not the model")
    with pytest.raises(DetectorError) as info:
        load_detector(files.model, files.manifest)
    assert isinstance(info.value, model_errors.ModelIntegrityError)


def test_missing_manifest(tmp_path: Path) -> None:
    """No manifest beside the model raises ManifestError naming the expected path."""
    (tmp_path / "x.onnx").write_bytes(b"")
    with pytest.raises(ManifestError, match=r"manifest\.json"):
        Detector(tmp_path / "x.onnx")


def test_manifest_path_alone_finds_model(write_model: WriteModel) -> None:
    """Given only the manifest, the model named in it (beside it) is loaded."""
    files = write_model()
    det = Detector(manifest_path=files.manifest)
    assert det.model_path == files.model
    assert det.identity.sha256 == file_sha256(files.model)
    assert det.session.threads == 2


def test_unloadable_model_is_wrapped(tmp_path: Path, write_model: WriteModel) -> None:
    """A file that is not ONNX (but matches its sha256) raises ModelLoadError, not an ORT error."""
    files = write_model()
    files.model.write_bytes(b"garbage bytes")
    m = Manifest.load(files.manifest).with_model(files.model)
    m.save(files.manifest)
    with pytest.raises(ModelLoadError, match="onnxruntime cannot load model"):
        Detector(files.model)


def test_outputs_not_matching_manifest(write_model: WriteModel) -> None:
    """A manifest naming outputs the model lacks is refused at load."""
    files = write_model()
    m = Manifest.load(files.manifest)
    m.model_copy(update={"outputs": m.outputs.model_copy(update={"wh": "size"})}).save(
        files.manifest
    )
    with pytest.raises(ModelLoadError, match=r"lacks output\(s\) \['size'\]"):
        Detector(files.model)


def test_wrong_class_count_is_an_inference_error(write_model: WriteModel) -> None:
    """A heatmap with fewer channels than manifest classes fails with InferenceError."""
    files = write_model(n_classes=2)
    det = Detector(files.model)
    with pytest.raises(InferenceError, match="expected"):
        det.session.run(np.zeros((1, 1, 64, 64), np.float32))


def test_bad_input_tensor_is_an_inference_error(write_model: WriteModel) -> None:
    """onnxruntime failures are wrapped in InferenceError."""
    det = Detector(write_model().model)
    with pytest.raises(InferenceError, match="onnxruntime failed"):
        det.session.run(np.zeros((1, 64, 64), np.float32))


def test_unavailable_provider_lists_available() -> None:
    """Requesting a provider this build lacks raises ProviderError listing what exists."""
    with pytest.raises(ProviderError, match=r"not available.*CPUExecutionProvider"):
        resolve_providers(["NoSuchExecutionProvider"])


def test_default_providers(monkeypatch: pytest.MonkeyPatch) -> None:
    """CUDA first when the build has it, CPU always last."""
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    assert resolve_providers(None) == ["CPUExecutionProvider"]
    monkeypatch.setattr(
        ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"]
    )
    assert resolve_providers(None) == ["CUDAExecutionProvider", "CPUExecutionProvider"]


def test_cpu_fallback_warns(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, write_model: WriteModel
) -> None:
    """When CUDA is asked for but the session comes up on CPU only, a warning says so."""
    real_session = ort.InferenceSession
    asked: list[list[str]] = []

    def fake_session(path: str, sess_options: Any = None, providers: Any = None) -> Any:
        asked.append(list(providers))
        return real_session(path, sess_options=sess_options, providers=["CPUExecutionProvider"])

    monkeypatch.setattr(
        ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"]
    )
    monkeypatch.setattr(ort, "InferenceSession", fake_session)
    files = write_model()
    with caplog.at_level(logging.WARNING, logger="detect.session"):
        det = Detector(files.model)
    assert asked == [["CUDAExecutionProvider", "CPUExecutionProvider"]]
    assert det.session.on_cpu_only
    assert any(
        "CUDAExecutionProvider" in r.getMessage() and "instead" in r.getMessage()
        for r in caplog.records
    )


def test_no_warning_on_plain_cpu(caplog: pytest.LogCaptureFixture, write_model: WriteModel) -> None:
    """Asking for CPU only does not warn about a fallback."""
    with caplog.at_level(logging.WARNING, logger="detect.session"):
        Detector(write_model().model, providers=["CPUExecutionProvider"], threads=1)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_threads_must_be_positive(write_model: WriteModel) -> None:
    """threads=0 is refused with a clear message."""
    with pytest.raises(ModelLoadError, match="threads must be a positive integer"):
        Detector(write_model().model, threads=0)


class _LeftEdgeSession:
    """Stands in for onnxruntime: a phone heatmap of 1 in output column 0, whatever the input."""

    def run(self, names: list[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        h, w = (v // 4 for v in feeds["image"].shape[2:])
        heat = np.zeros((1, 6, h, w), np.float32)
        heat[0, 0, :, 0] = 1.0
        planes = {"heatmap": heat, "wh": np.ones((1, 2, h, w), np.float32)}
        planes["offset"] = planes["wh"]
        return [planes[n] for n in names]


def _left_edge_detector(write_model: WriteModel, flip_test: bool) -> Detector:
    det = Detector(write_model(flip_test=flip_test).model)
    det.session._session = _LeftEdgeSession()  # type: ignore[assignment]
    return det


@pytest.mark.parametrize("flip_test", [False, True])
def test_flip_test_averages_the_mirrored_heatmap(
    flip_test: bool, tmp_path: Path, write_model: WriteModel
) -> None:
    """With flip_test in the manifest the heatmap is the mean of the plain and mirrored passes."""
    det = _left_edge_detector(write_model, flip_test)
    out = det.session.run(np.zeros((1, 1, 64, 96), np.float32))
    edges = (out.heatmap[0, :, 0], out.heatmap[0, :, -1])
    expected = (0.5, 0.5) if flip_test else (1.0, 0.0)
    assert [float(e.max()) for e in edges] == list(expected)
    assert out.heatmap[0, :, 1:-1].max() == 0.0
    assert out.wh.shape == (2, 16, 24)


def test_flip_argument_overrides_the_manifest(tmp_path: Path, write_model: WriteModel) -> None:
    """run(flip=False) is one plain pass even with flip_test in the manifest (zoom-test pass)."""
    det = _left_edge_detector(write_model, flip_test=True)
    x = np.zeros((1, 1, 64, 96), np.float32)
    assert float(det.session.run(x, flip=False).heatmap[0, :, 0].max()) == 1.0
    assert float(det.session.run(x).heatmap[0, :, 0].max()) == 0.5
