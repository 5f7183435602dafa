"""The DICOM receiver over a real loopback association (pynetdicom as the station)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydicom.dataset import Dataset
from pynetdicom import AE
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from scanner.encoding import ENCODINGS, encode_dicom
from service.auth import Role
from service.errors import ServiceError
from service.receiver import (
    STATUS_CANNOT_UNDERSTAND,
    STATUS_DATASET_MISMATCH,
    STATUS_SUCCESS,
)
from tests.service.conftest import AppFactory, auth, make_transmission, new_token


def free_port() -> int:
    """A currently unused loopback TCP port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dataset(encoding: str, phone: bool = False) -> Dataset:
    """A scan dataset in the given vendor encoding."""
    return encode_dicom(make_transmission(phone, seed=3), (2.0, 2.0), ENCODINGS[encoding])


@pytest.fixture
def receiver(make_client: AppFactory) -> Iterator[tuple[TestClient, int]]:
    """A started service whose receiver listens on a free port (calling AE GATE1 allowed)."""
    port = free_port()
    client = make_client(dicom_port=port, dicom_allowed_aets=["GATE1", "GATE2"])
    yield client, port


def associate(port: int, datasets: list[Dataset], calling: str = "GATE1") -> Any:
    """Open an association proposing the datasets' SOP classes and transfer syntaxes."""
    ae = AE(ae_title=calling)
    ae.add_requested_context(Verification)
    for ds in datasets:
        ae.add_requested_context(ds.SOPClassUID, ds.file_meta.TransferSyntaxUID)
    return ae.associate("127.0.0.1", port, ae_title="SCANGUARD")


def test_echo(receiver: tuple[TestClient, int]) -> None:
    """C-ECHO answers success."""
    _, port = receiver
    assoc = associate(port, [])
    assert assoc.is_established
    status = assoc.send_c_echo()
    assoc.release()
    assert status.Status == STATUS_SUCCESS


@pytest.mark.parametrize(
    "encoding",
    [
        "log-neg-mono2-14",  # DX for presentation
        "lin-mono2-16",  # DX for processing
        "lin-mono1-12",  # CR
        "sc-log-mono2-16",  # Secondary Capture
        "lin-rle-16",  # RLE Lossless
        "log-jpegls-14",  # JPEG-LS Lossless
        "lin-j2k-16",  # JPEG 2000 Lossless
    ],
)
def test_store_goes_through_the_pipeline(receiver: tuple[TestClient, int], encoding: str) -> None:
    """A C-STORE is stored and processed like an HTTP upload (source dicom, station = AE)."""
    client, port = receiver
    ds = dataset(encoding, phone=True)
    assoc = associate(port, [ds], calling="GATE2")
    assert assoc.is_established
    status = assoc.send_c_store(ds)
    assoc.release()
    assert status.Status == STATUS_SUCCESS
    listing = client.get("/api/v1/scans", headers=auth(new_token(client, Role.OPERATOR))).json()
    assert listing["count"] == 1
    scan = listing["data"][0]
    assert scan["source"] == "dicom"
    assert scan["station_id"] == "GATE2"
    assert scan["sop_instance_uid"] == ds.SOPInstanceUID
    assert scan["result"]["decision"] == "ALARM"


def test_bad_instance_fails_alone(receiver: tuple[TestClient, int]) -> None:
    """An instance without pixel data gets a failure status; the association goes on."""
    client, port = receiver
    good = dataset("lin-mono2-16")
    bad = dataset("lin-mono2-16", phone=True)
    del bad.PixelData
    assoc = associate(port, [good])
    assert assoc.is_established
    bad_status = assoc.send_c_store(bad)
    good_status = assoc.send_c_store(good)
    assoc.release()
    assert bad_status.Status in (STATUS_DATASET_MISMATCH, STATUS_CANNOT_UNDERSTAND)
    assert bad_status.ErrorComment
    assert good_status.Status == STATUS_SUCCESS
    services = client.app.state.services  # type: ignore[attr-defined]
    assert services.store.count_scans() == 1


def test_unknown_calling_ae_is_rejected(receiver: tuple[TestClient, int]) -> None:
    """A calling AE title outside the allow-list cannot associate."""
    client, port = receiver
    assoc = associate(port, [dataset("lin-mono2-16")], calling="INTRUDER")
    assert assoc.is_rejected
    metrics = client.get("/metrics", headers=auth(new_token(client, Role.ADMIN))).text
    assert 'scanguard_dicom_associations_total{outcome="rejected"} 1.0' in metrics


def test_receiver_port_in_use(make_client: AppFactory) -> None:
    """A taken DICOM port stops the start with a message naming the setting."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(ServiceError, match="SCANGUARD_DICOM_PORT"):
            make_client(dicom_port=port)
