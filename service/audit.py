"""Append-only, hash-chained audit log of submissions, views, reviews and token changes.

Each row stores the previous row's hash and ``hash = sha256(canonical JSON of the row)``
where the canonical JSON holds every column except ``hash`` (sorted keys, no spaces,
UTF-8). Changing, removing or reordering any row breaks the chain at that row.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from service.errors import AuditChainError

if TYPE_CHECKING:
    from service.store.models import AuditRow

#: ``prev_hash`` of the first row.
GENESIS_HASH = "0" * 64
#: Key of the PostgreSQL advisory lock that serialises audit appends.
_PG_LOCK_KEY = 0x5C46_A0D1


class AuditAction(StrEnum):
    """What an audit row records."""

    SCAN_SUBMIT = "scan.submit"
    SCAN_REJECT = "scan.reject"
    SCAN_RESULT = "scan.result"
    SCAN_FAIL = "scan.fail"
    SCAN_LIST = "scan.list"
    SCAN_VIEW = "scan.view"
    SCAN_IMAGE = "scan.image"
    SCAN_DICOM = "scan.dicom"
    SCAN_EXPORT = "scan.export"
    SCAN_REVIEW = "scan.review"
    TOKEN_CREATE = "token.create"
    TOKEN_REVOKE = "token.revoke"
    TOKEN_LIST = "token.list"


def canonical_json(value: Any) -> str:
    """Deterministic JSON text (sorted keys, compact, non-ASCII kept)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def row_hash(
    *, seq: int, at: str, actor: str, action: str, target: str | None, detail: str, prev_hash: str
) -> str:
    """sha256 (hex) of the canonical JSON of an audit row's columns."""
    body = {
        "seq": seq,
        "at": at,
        "actor": actor,
        "action": action,
        "target": target,
        "detail": detail,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def append(
    session: Session,
    *,
    actor: str,
    action: AuditAction | str,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
    is_postgresql: bool = False,
) -> AuditRow:
    """Add one row to the chain inside the caller's write transaction.

    Parameters
    ----------
    session : Session
        A write session (on SQLite it already holds the write lock via ``BEGIN IMMEDIATE``).
    actor : str
        Who did it (``token:<id>:<name>``, ``dicom:<AE>``, ``cli``).
    action : AuditAction or str
    target : str, optional
        Scan or token id.
    detail : dict, optional
        JSON-ready facts (stored as canonical JSON).
    is_postgresql : bool
        Take the advisory lock that serialises appends across connections.
    """
    from service.store.models import AuditRow

    if is_postgresql:
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    last = session.execute(
        select(AuditRow.seq, AuditRow.hash).order_by(AuditRow.seq.desc()).limit(1)
    ).first()
    seq = 1 if last is None else int(last[0]) + 1
    prev_hash = GENESIS_HASH if last is None else str(last[1])
    at = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
    action_value = AuditAction(action).value
    detail_text = canonical_json(detail or {})
    row = AuditRow(
        seq=seq,
        at=at,
        actor=actor,
        action=action_value,
        target=target,
        detail=detail_text,
        prev_hash=prev_hash,
        hash=row_hash(
            seq=seq,
            at=at,
            actor=actor,
            action=action_value,
            target=target,
            detail=detail_text,
            prev_hash=prev_hash,
        ),
    )
    session.add(row)
    session.flush()
    return row


@dataclass(frozen=True)
class VerifyReport:
    """Outcome of a chain check that passed.

    Attributes
    ----------
    rows : int
        Rows checked.
    head : str
        Hash of the last row (``GENESIS_HASH`` for an empty log).
    """

    rows: int
    head: str


def _iter_rows(session: Session, batch: int = 1000) -> Iterator[AuditRow]:
    from service.store.models import AuditRow

    last_seq = 0
    while True:
        rows = session.scalars(
            select(AuditRow).where(AuditRow.seq > last_seq).order_by(AuditRow.seq).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last_seq = rows[-1].seq


def verify(session: Session) -> VerifyReport:
    """Check the whole chain.

    Raises
    ------
    AuditChainError
        Naming the first row whose sequence, previous hash or own hash does not match.
    """
    expected_prev = GENESIS_HASH
    expected_seq = 1
    count = 0
    for row in _iter_rows(session):
        if row.seq != expected_seq:
            raise AuditChainError(
                f"audit row {expected_seq} is missing (next row is {row.seq}): rows were deleted",
                seq=expected_seq,
            )
        if row.prev_hash != expected_prev:
            raise AuditChainError(
                f"audit row {row.seq}: prev_hash does not match the hash of row {row.seq - 1}",
                seq=row.seq,
            )
        recomputed = row_hash(
            seq=row.seq,
            at=row.at,
            actor=row.actor,
            action=row.action,
            target=row.target,
            detail=row.detail,
            prev_hash=row.prev_hash,
        )
        if recomputed != row.hash:
            raise AuditChainError(
                f"audit row {row.seq}: content does not match its hash (the row was altered)",
                seq=row.seq,
            )
        expected_prev = row.hash
        expected_seq += 1
        count += 1
    return VerifyReport(rows=count, head=expected_prev)
