"""SQLAlchemy tables: scans, reviews, tokens and the hash-chained audit log."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    DDL,
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    event,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC date-time on every backend (SQLite stores naive UTC)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base of the service's tables."""


class ScanRow(Base):
    """One accepted scan: where its original lies, who sent it, and its result once known."""

    __tablename__ = "scans"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    station_id: Mapped[str | None] = mapped_column(String(64), index=True)
    person_ref: Mapped[str | None] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(String(256))
    source: Mapped[str] = mapped_column(String(16))
    sop_instance_uid: Mapped[str | None] = mapped_column(String(64), index=True)
    blob_sha256: Mapped[str] = mapped_column(String(64))
    blob_size: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), index=True)
    error: Mapped[str | None] = mapped_column(Text)
    decision: Mapped[str | None] = mapped_column(String(16), index=True)
    scan_score: Mapped[float | None] = mapped_column(Float)
    result_json: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    processed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ReviewRow(Base):
    """An officer's outcome for a scan (every review kept; the latest is current)."""

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scan_id: Mapped[str] = mapped_column(ForeignKey("scans.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    findings_json: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    reviewer: Mapped[str] = mapped_column(String(128))
    reviewer_token_id: Mapped[str] = mapped_column(String(64))
    reviewed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class TokenRow(Base):
    """An API token: only the sha256 of its secret is kept."""

    __tablename__ = "tokens"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class AuditRow(Base):
    """One audit entry; ``hash`` = sha256 of the canonical JSON of every other column."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


Index("ix_scans_received_id", ScanRow.received_at, ScanRow.id)

# The audit log is append-only at the database level too.
for _op in ("UPDATE", "DELETE"):
    event.listen(
        AuditRow.__table__,
        "after_create",
        DDL(
            f"CREATE TRIGGER audit_log_no_{_op.lower()} BEFORE {_op} ON audit_log "
            "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
        ).execute_if(dialect="sqlite"),
    )
event.listen(
    AuditRow.__table__,
    "after_create",
    DDL(
        "CREATE OR REPLACE FUNCTION scanguard_audit_append_only() RETURNS trigger AS $$ "
        "BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$ LANGUAGE plpgsql"
    ).execute_if(dialect="postgresql"),
)
event.listen(
    AuditRow.__table__,
    "after_create",
    DDL(
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION scanguard_audit_append_only()"
    ).execute_if(dialect="postgresql"),
)
