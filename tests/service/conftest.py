"""Fixtures of the service tests: a test detector, DICOM scans, an app with tokens."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from detect.result import (
    BodyZone,
    Decision,
    Finding,
    ImageInfo,
    ModelIdentity,
    Result,
    StageTimings,
)
from scanner.encoding import ENCODINGS, encode_dicom
from scanner.scan import Scan
from service.auth import Role
from service.config import Settings
from service.main import create_app

#: Attenuation above which the test detector reports a phone.
DENSE = 3.0


class FakeDetector:
    """Deterministic stand-in for the ONNX detector: a phone wherever attenuation > DENSE."""

    def __init__(self) -> None:
        self.calls = 0

    @property
    def identity(self) -> ModelIdentity:
        """Model identity of the double."""
        return ModelIdentity(name="test-detector", version="0.0.0", sha256="0" * 64)

    def detect(self, scan: Scan, *, decode_ms: float = 0.0) -> Result:
        """One finding around the dense pixels, ALARM if any, else CLEAR."""
        self.calls += 1
        dense = np.argwhere(scan.image > DENSE)
        findings = []
        if dense.size:
            (r0, c0), (r1, c1) = dense.min(axis=0), dense.max(axis=0)
            w, h = float(c1 - c0 + 1), float(r1 - r0 + 1)
            findings.append(
                Finding(
                    label="phone",
                    confidence=0.9,
                    bbox_px=(float(c0), float(r0), w, h),
                    bbox_mm=(
                        c0 * scan.spacing[1],
                        r0 * scan.spacing[0],
                        w * scan.spacing[1],
                        h * scan.spacing[0],
                    ),
                    zone=BodyZone.ABDOMEN,
                )
            )
        return Result(
            decision=Decision.ALARM if findings else Decision.CLEAR,
            scan_score=0.9 if findings else 0.05,
            findings=findings,
            model=self.identity,
            timings=StageTimings(decode_ms=decode_ms, infer_ms=1.0),
            image=ImageInfo(
                rows=scan.shape[0],
                cols=scan.shape[1],
                spacing_mm=scan.spacing,
                spacing_source=scan.spacing_source.value,
            ),
            sop_instance_uid=scan.metadata.sop_instance_uid,
        )


class FailingDetector(FakeDetector):
    """A detector whose inference always fails."""

    def detect(self, scan: Scan, *, decode_ms: float = 0.0) -> Result:
        """Raise like a broken ONNX session."""
        raise RuntimeError("inference session crashed")


def make_transmission(phone: bool, seed: int = 0, shape: tuple[int, int] = (160, 80)) -> Any:
    """A small body-like transmission image (I/I_air); ``phone`` adds a dense block."""
    rng = np.random.default_rng(seed)
    rows, cols = shape
    yy, xx = np.mgrid[0:rows, 0:cols]
    body = ((yy - rows / 2) / (rows * 0.45)) ** 2 + ((xx - cols / 2) / (cols * 0.3)) ** 2 < 1
    attenuation = np.where(body, 1.2, 0.0) + rng.normal(0, 0.01, shape)
    if phone:
        attenuation[70:90, 35:47] = 4.0
    return np.exp(-np.clip(attenuation, 0, None)).astype(np.float32)


def dicom_bytes(phone: bool = False, seed: int = 0, encoding: str = "lin-mono2-16") -> bytes:
    """A scan as DICOM file bytes written by :func:`scanner.encoding.encode_dicom`."""
    ds = encode_dicom(make_transmission(phone, seed), (2.0, 2.0), ENCODINGS[encoding])
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def clear_scan() -> bytes:
    """DICOM bytes of a scan without contraband."""
    return dicom_bytes(phone=False)


@pytest.fixture(scope="session")
def alarm_scan() -> bytes:
    """DICOM bytes of a scan with a phone-like dense block."""
    return dicom_bytes(phone=True, seed=1)


AppFactory = Callable[..., TestClient]


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[AppFactory]:
    """Factory of started test clients (settings overrides as keyword arguments)."""
    clients: list[TestClient] = []

    def _make(detector: Any = None, *, load_real: bool = False, **overrides: Any) -> TestClient:
        """``load_real``: let the lifespan load the configured model instead of a double."""
        values: dict[str, Any] = {"data_dir": tmp_path / "data", "dicom_port": 0}
        values.update(overrides)
        settings = Settings(**values)
        if detector is None and not load_real:
            detector = FakeDetector()
        app = create_app(settings, detector=detector)
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield _make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: AppFactory) -> TestClient:
    """A started app with the test detector, SQLite store in a temp dir, no receiver."""
    return make_client()


def new_token(client: TestClient, role: Role, name: str | None = None) -> str:
    """Create a token of ``role`` directly in the app's store."""
    store = client.app.state.services.store  # type: ignore[attr-defined]
    _, plain = store.create_token(role, name or f"test-{role.value}", actor="test")
    return plain


@pytest.fixture
def tokens(client: TestClient) -> dict[Role, str]:
    """One token per role for ``client``."""
    return {role: new_token(client, role) for role in Role}


def auth(token: str) -> dict[str, str]:
    """Authorization header of a token."""
    return {"Authorization": f"Bearer {token}"}


def result_for(detector: FakeDetector, *, phone: bool) -> Result:
    """The test detector's result on a small synthetic scan read by ``scanner.read_scan``."""
    from scanner import read_scan

    return detector.detect(read_scan(dicom_bytes(phone=phone)))


@pytest.fixture
def tiny_model(tmp_path: Path) -> tuple[Path, Path]:
    """A tiny CenterNet-shaped ONNX model (the detector tests' graph) and its manifest."""
    import onnx

    from models.manifest import InputSpec, Manifest, Thresholds, file_sha256
    from tests.detect.conftest import CLASSES, build_tiny_model

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
