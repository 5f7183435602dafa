"""The service with the real ``detect.Detector`` (a tiny ONNX model), loaded by the lifespan."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest

from models.manifest import InputSpec, Manifest, Thresholds, file_sha256
from service.auth import Role
from service.errors import ServiceError
from tests.detect.conftest import CLASSES, build_tiny_model
from tests.service.conftest import AppFactory, auth, new_token


@pytest.fixture
def tiny_model(tmp_path: Path) -> tuple[Path, Path]:
    """A tiny CenterNet-shaped ONNX model and its manifest."""
    folder = tmp_path / "model"
    folder.mkdir()
    model_path = folder / "tiny.onnx"
    onnx.save(build_tiny_model(), model_path)
    manifest = Manifest.model_validate(
        {
            "name": "tiny-test",
            "version": "0.0.1",
            "file": model_path.name,
            "sha256": file_sha256(model_path),
            "input": InputSpec().model_dump(),
            "classes": CLASSES,
            "calibration": {"method": "platt", "per_class": {}},
            "thresholds": Thresholds().model_dump(),
        }
    )
    manifest_path = folder / "manifest.json"
    manifest.save(manifest_path)
    return model_path, manifest_path


def test_configured_model_serves_results(
    make_client: AppFactory, tiny_model: tuple[Path, Path], alarm_scan: bytes
) -> None:
    """SCANGUARD_MODEL_PATH/MANIFEST_PATH select the model; its identity is in every result."""
    model_path, manifest_path = tiny_model
    client = make_client(
        detector=None, model_path=model_path, manifest_path=manifest_path, load_real=True
    )
    ready = client.get("/readyz").json()
    assert ready["model"]["name"] == "tiny-test"
    response = client.post(
        "/api/v1/scans",
        content=alarm_scan,
        headers={**auth(new_token(client, Role.STATION)), "Content-Type": "application/dicom"},
    )
    assert response.status_code == 201, response.text
    result = response.json()["result"]
    assert result["model"] == ready["model"]
    assert result["decision"] in ("ALARM", "CLEAR", "INCONCLUSIVE")
    assert result["timings"]["infer_ms"] > 0
    assert result["image"]["rows"] == 160


def test_tampered_model_stops_the_start(
    make_client: AppFactory, tiny_model: tuple[Path, Path]
) -> None:
    """A model that does not match its manifest's sha256 is refused at start."""
    model_path, manifest_path = tiny_model
    model_path.write_bytes(model_path.read_bytes() + b"\0")
    with pytest.raises(ServiceError, match="cannot load the detector"):
        make_client(model_path=model_path, manifest_path=manifest_path, load_real=True)
