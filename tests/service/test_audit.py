"""The audit log through the API and ``scanguard audit verify``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text

from scanguard.cli import main
from service.auth import Role
from service.store import Store
from service.store.models import AuditRow
from tests.service.conftest import auth


def _rows(client: TestClient) -> list[AuditRow]:
    store = client.app.state.services.store  # type: ignore[attr-defined]
    with store.db.read() as session:
        return list(session.scalars(select(AuditRow).order_by(AuditRow.seq)))


def test_every_kind_of_access_is_recorded(
    client: TestClient, tokens: dict[Role, str], alarm_scan: bytes
) -> None:
    """Submissions, refusals, listings, views, images, downloads, reviews and token changes."""
    scan = client.post(
        "/api/v1/scans",
        content=alarm_scan,
        headers={**auth(tokens[Role.STATION]), "Content-Type": "application/dicom"},
    ).json()
    client.post(
        "/api/v1/scans",
        content=b"junk",
        headers={**auth(tokens[Role.STATION]), "Content-Type": "application/dicom"},
    )
    admin = auth(tokens[Role.ADMIN])
    client.get("/api/v1/scans", headers=admin)
    client.get(f"/api/v1/scans/{scan['id']}", headers=admin)
    client.get(f"/api/v1/scans/{scan['id']}/image.png", headers=admin)
    client.get(f"/api/v1/scans/{scan['id']}/dicom", headers=admin)
    client.post(f"/api/v1/scans/{scan['id']}/review", json={"outcome": "confirmed"}, headers=admin)
    created = client.post("/api/v1/tokens", json={"role": "station", "name": "g"}, headers=admin)
    client.delete(f"/api/v1/tokens/{created.json()['id']}", headers=admin)
    rows = _rows(client)
    actions = [row.action for row in rows]
    for action in (
        "token.create",
        "scan.submit",
        "scan.result",
        "scan.reject",
        "scan.list",
        "scan.view",
        "scan.image",
        "scan.dicom",
        "scan.review",
        "token.revoke",
    ):
        assert action in actions, action
    review = next(row for row in rows if row.action == "scan.review")
    assert review.target == scan["id"]
    assert review.actor.endswith(":test-admin")
    assert json.loads(review.detail)["outcome"] == "confirmed"
    store = client.app.state.services.store  # type: ignore[attr-defined]
    assert store.verify_audit().rows == len(rows)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data directory with a few audited token operations."""
    directory = tmp_path / "data"
    for name in ("a", "b", "c"):
        assert (
            main(
                [
                    "token",
                    "create",
                    "--role",
                    "operator",
                    "--name",
                    name,
                    "--data-dir",
                    str(directory),
                ]
            )
            == 0
        )
    return directory


def test_verify_ok(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An intact chain verifies with exit status 0."""
    capsys.readouterr()
    assert main(["audit", "verify", "--data-dir", str(data_dir)]) == 0
    assert "audit log OK: 3 rows" in capsys.readouterr().out


def test_verify_names_first_broken_row(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A forged row makes verify exit non-zero naming that row."""
    forged = tmp_path / "forged"
    shutil.copytree(data_dir, forged)
    engine = create_engine(f"sqlite:///{forged / 'scanguard.db'}")
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER audit_log_no_update"))
        conn.execute(text("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 2"))
    engine.dispose()
    capsys.readouterr()
    assert main(["audit", "verify", "--data-dir", str(forged)]) == 1
    assert "BROKEN at row 2" in capsys.readouterr().err


def test_acknowledged_scan_survives_a_crash(
    client: TestClient, tokens: dict[Role, str], alarm_scan: bytes, tmp_path: Path
) -> None:
    """A copy of the data directory taken right after a 201 (no shutdown) holds the scan."""
    scan = client.post(
        "/api/v1/scans",
        content=alarm_scan,
        headers={**auth(tokens[Role.STATION]), "Content-Type": "application/dicom"},
    ).json()
    settings = client.app.state.services.settings  # type: ignore[attr-defined]
    snapshot = tmp_path / "snapshot"
    shutil.copytree(settings.data_dir, snapshot)  # as the disk was, with the service still up
    store = Store(f"sqlite:///{snapshot / 'scanguard.db'}", snapshot / "blobs")
    stored = store.get_scan(scan["id"])
    assert stored is not None and stored.result is not None
    assert stored.result.decision.value == "ALARM"
    assert store.blobs.get(stored.sha256) == alarm_scan
    store.close()
