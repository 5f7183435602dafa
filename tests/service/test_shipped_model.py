"""End to end with the shipped model: HTTP and DICOM submissions give the detector's own result.

Needs ``models/phone_detector.onnx`` + ``models/manifest.json`` and the sample scans; fails
(does not skip) when either is missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydicom import dcmread
from pynetdicom import AE

from detect import load_detector
from scanner import read_scan
from scanner.samples import list_samples, sample_path
from service.auth import Role
from tests.service.conftest import AppFactory, auth, new_token
from tests.service.test_receiver import free_port


def _samples() -> list[Path]:
    names = [n for n in list_samples() if n.lower().endswith((".dcm", ".dicom"))]
    assert names, "no DICOM sample scans: generate sample_scans/ with the simulator"
    return [Path(sample_path(name)) for name in names]


def _same_result(served: dict[str, Any], expected: dict[str, Any]) -> None:
    """Decision, score and findings match; only the timings may differ."""
    assert served["model"] == expected["model"]
    assert served["decision"] == expected["decision"]
    assert served["scan_score"] == pytest.approx(expected["scan_score"], abs=1e-6)
    assert served["image"] == expected["image"]
    assert len(served["findings"]) == len(expected["findings"])
    for got, want in zip(served["findings"], expected["findings"], strict=True):
        assert got["label"] == want["label"] and got["zone"] == want["zone"]
        assert got["confidence"] == pytest.approx(want["confidence"], abs=1e-6)
        assert got["bbox_px"] == pytest.approx(want["bbox_px"], abs=1e-3)


def test_shipped_model_over_http_and_dicom(make_client: AppFactory) -> None:
    """The service's answers equal detect's own results on the same files."""
    detector = load_detector()
    port = free_port()
    client = make_client(load_real=True, dicom_port=port)
    assert client.get("/readyz").json()["model"] == detector.identity.model_dump()
    station = auth(new_token(client, Role.STATION))
    operator = auth(new_token(client, Role.OPERATOR))
    paths = _samples()
    for path in paths:
        data = path.read_bytes()
        expected = detector.detect(read_scan(data)).model_dump(mode="json")
        response = client.post(
            "/api/v1/scans",
            content=data,
            headers={**station, "Content-Type": "application/dicom"},
        )
        assert response.status_code == 201, response.text
        _same_result(response.json()["result"], expected)
    ds = dcmread(paths[0])
    ae = AE(ae_title="GATE1")
    ae.add_requested_context(ds.SOPClassUID, ds.file_meta.TransferSyntaxUID)
    assoc = ae.associate("127.0.0.1", port, ae_title="SCANGUARD")
    assert assoc.is_established
    assert assoc.send_c_store(ds).Status == 0x0000
    assoc.release()
    listing = client.get("/api/v1/scans", params={"station_id": "GATE1"}, headers=operator).json()
    assert listing["count"] == 1
    expected = detector.detect(read_scan(paths[0])).model_dump(mode="json")
    _same_result(listing["data"][0]["result"], expected)
