"""The scan store on SQLite and PostgreSQL: blobs, rows, reviews, tokens, audit chain."""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from detect.result import Decision
from service.audit import AuditAction
from service.auth import Principal, Role
from service.errors import AuditChainError, NotFoundError, StoreError
from service.schemas import ReviewIn, ReviewOutcome, ScanSource, ScanStatus
from service.store import BlobStore, ScanFilter, Store
from service.store.models import Base
from tests.service.conftest import FakeDetector, result_for

POSTGRES_ENV = "SCANGUARD_TEST_POSTGRES_URL"


def postgres_url() -> str:
    """The test server's URL; fails in CI when missing, skips locally."""
    url = os.environ.get(POSTGRES_ENV)
    if url:
        return url
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{POSTGRES_ENV} is not set in CI: .ci/run must start PostgreSQL and export it")
    pytest.skip(f"{POSTGRES_ENV} is not set; the PostgreSQL store tests run under .ci/run")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """An empty store on each backend."""
    url = f"sqlite:///{tmp_path / 'store.db'}" if request.param == "sqlite" else postgres_url()
    store = Store(url, tmp_path / "blobs")
    if store.db.is_postgresql:
        Base.metadata.drop_all(store.db.engine)
    store.open()
    yield store
    if store.db.is_postgresql:
        Base.metadata.drop_all(store.db.engine)
    store.close()


def _add(store: Store, data: bytes = b"scan-bytes", station: str = "s1") -> str:
    row = store.add_scan(
        data,
        actor="test",
        source=ScanSource.HTTP,
        station_id=station,
        person_ref="P1",
        reason=None,
        sop_instance_uid="1.2.3",
    )
    return row.id


class TestBlobs:
    def test_content_addressed_and_idempotent(self, tmp_path: Path) -> None:
        """The same bytes give the same digest and one file; no temp files remain."""
        blobs = BlobStore(tmp_path)
        first, second = blobs.put(b"abc"), blobs.put(b"abc")
        assert (
            first == second == ("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        )
        assert blobs.get(first) == b"abc"
        files = [p for p in tmp_path.rglob("*") if p.is_file()]
        assert files == [blobs.path(first)]

    @pytest.mark.parametrize("digest", ["../../etc/passwd", "ABC", "0" * 63, "g" * 64])
    def test_refuses_non_digests(self, tmp_path: Path, digest: str) -> None:
        """Only lowercase sha256 hex names a blob (no path traversal)."""
        with pytest.raises(ValueError, match="not a lowercase hex sha256"):
            BlobStore(tmp_path).path(digest)

    def test_missing_blob(self, tmp_path: Path) -> None:
        """Reading an absent blob says how to recover."""
        with pytest.raises(NotFoundError, match="restore the data directory"):
            BlobStore(tmp_path).get("0" * 64)


class TestScans:
    def test_lifecycle(self, store: Store) -> None:
        """received → processed with the result; the review is attached to the scan."""
        scan_id = _add(store)
        assert store.get_scan(scan_id).status is ScanStatus.RECEIVED  # type: ignore[union-attr]
        store.set_result(scan_id, result_for(FakeDetector(), phone=True), actor="test")
        scan = store.get_scan(scan_id)
        assert scan is not None and scan.status is ScanStatus.PROCESSED
        assert scan.result is not None and scan.result.decision is Decision.ALARM
        assert scan.received_at.tzinfo is not None
        principal = Principal(token_id="t1", name="officer", role=Role.OPERATOR)
        store.add_review(
            scan_id, ReviewIn(outcome=ReviewOutcome.ITEM_FOUND, note="n"), principal=principal
        )
        reviewed = store.get_scan(scan_id)
        assert reviewed is not None and reviewed.review is not None
        assert (reviewed.review.reviewer, reviewed.review.outcome.value) == (
            "officer",
            "item_found",
        )

    def test_failed_scan_keeps_original(self, store: Store) -> None:
        """A failed scan keeps its original and says why."""
        scan_id = _add(store, b"payload")
        store.set_failed(scan_id, "boom", actor="test")
        scan = store.get_scan(scan_id)
        assert scan is not None and scan.status is ScanStatus.FAILED and scan.error == "boom"
        assert store.blobs.get(scan.sha256) == b"payload"

    def test_list_filters_and_count(self, store: Store) -> None:
        """Filters narrow the page and the count alike; newest first."""
        ids = [_add(store, bytes([i]), station="a" if i % 2 else "b") for i in range(5)]
        store.set_result(ids[1], result_for(FakeDetector(), phone=True), actor="t")
        store.set_result(ids[2], result_for(FakeDetector(), phone=False), actor="t")
        page, count = store.list_scans(ScanFilter(), offset=1, limit=2)
        assert count == 5 and [s.id for s in page] == [ids[3], ids[2]]
        alarms, n = store.list_scans(ScanFilter(decision=Decision.ALARM))
        assert n == 1 and alarms[0].id == ids[1]
        station_a, n = store.list_scans(ScanFilter(station_id="a"))
        assert n == 2 and {s.id for s in station_a} == {ids[1], ids[3]}
        _received, n = store.list_scans(ScanFilter(status=ScanStatus.RECEIVED))
        assert n == 3
        middle = store.get_scan(ids[2])
        assert middle is not None
        since, n = store.list_scans(ScanFilter(since=middle.received_at))
        assert {s.id for s in since} == set(ids[2:]) and n == 3
        until, n = store.list_scans(ScanFilter(until=middle.received_at))
        assert {s.id for s in until} == set(ids[:2]) and n == 2
        later = middle.received_at + dt.timedelta(days=1)
        assert store.list_scans(ScanFilter(since=later)) == ([], 0)


class TestTokens:
    def test_create_authenticate_revoke(self, store: Store) -> None:
        """A token authenticates until revoked; a wrong secret never does."""
        public, plain = store.create_token(Role.VALIDATOR, "bench", actor="test")
        principal = store.authenticate(plain)
        assert principal is not None and principal.role is Role.VALIDATOR
        assert store.authenticate(plain[:-1] + ("x" if plain[-1] != "x" else "y")) is None
        assert store.authenticate("garbage") is None
        store.revoke_token(public.id, actor="test")
        assert store.authenticate(plain) is None
        assert store.revoke_token("ffffffffffffffff", actor="test") is None


class TestAudit:
    def test_concurrent_appends_keep_one_chain(self, store: Store) -> None:
        """Appends from many threads produce one gap-free, verifiable chain."""
        errors: list[BaseException] = []

        def work(n: int) -> None:
            try:
                for i in range(10):
                    store.record(actor=f"thread-{n}", action=AuditAction.SCAN_VIEW, target=str(i))
            except BaseException as exc:  # collected for the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert store.verify_audit().rows == 60

    def test_rows_cannot_be_changed(self, store: Store) -> None:
        """The database refuses UPDATE and DELETE on the audit log."""
        store.record(actor="a", action=AuditAction.SCAN_VIEW)
        for statement in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"):
            with pytest.raises(DBAPIError, match="append-only"), store.db.write() as session:
                session.execute(text(statement))
        assert store.verify_audit().rows == 1

    def _disable_guard(self, store: Store) -> None:
        with store.db.write() as session:
            if store.db.is_postgresql:
                session.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
            else:
                session.execute(text("DROP TRIGGER audit_log_no_update"))
                session.execute(text("DROP TRIGGER audit_log_no_delete"))

    def test_altered_row_is_named(self, store: Store) -> None:
        """Changing a row's content breaks the chain at that row."""
        for i in range(4):
            store.record(actor="a", action=AuditAction.SCAN_VIEW, target=str(i))
        self._disable_guard(store)
        with store.db.write() as session:
            session.execute(text("UPDATE audit_log SET target = 'forged' WHERE seq = 3"))
        with pytest.raises(AuditChainError, match="row 3: content does not match") as info:
            store.verify_audit()
        assert info.value.seq == 3

    def test_deleted_row_is_named(self, store: Store) -> None:
        """Removing a row is detected at the gap."""
        for i in range(4):
            store.record(actor="a", action=AuditAction.SCAN_VIEW, target=str(i))
        self._disable_guard(store)
        with store.db.write() as session:
            session.execute(text("DELETE FROM audit_log WHERE seq = 2"))
        with pytest.raises(AuditChainError, match="row 2 is missing"):
            store.verify_audit()


def test_sqlite_is_wal_with_full_sync(tmp_path: Path) -> None:
    """SQLite runs in WAL mode with an fsync on every commit."""
    store = Store(f"sqlite:///{tmp_path / 'wal.db'}", tmp_path / "blobs")
    store.open()
    with store.db.read() as session:
        assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert session.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
    store.close()


def test_bad_database_url(tmp_path: Path) -> None:
    """A malformed database URL is refused with an example of a good one."""
    with pytest.raises(StoreError, match="is not a database URL"):
        Store("not a url", tmp_path)


def test_unreachable_database_hides_password(tmp_path: Path) -> None:
    """A database that cannot be reached is reported without the URL's password."""
    store = Store("postgresql://scanguard:s3cret@127.0.0.1:1/scanguard", tmp_path)
    with pytest.raises(StoreError, match="cannot create the database schema") as info:
        store.open()
    assert "s3cret" not in str(info.value)
    assert store.ping() is False
