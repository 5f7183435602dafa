"""The service with the real ``detect.Detector`` (a tiny ONNX model), loaded by the lifespan."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.auth import Role
from service.errors import ServiceError
from tests.service.conftest import AppFactory, auth, new_token


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
