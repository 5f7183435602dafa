"""Scans, reviews and tokens in the database, every change recorded in the audit log."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from detect.result import Decision, Result
from service import audit
from service.audit import AuditAction
from service.auth import NewToken, Principal, Role, generate_token, secret_matches, split_token
from service.errors import StoreError
from service.schemas import (
    FindingReview,
    ReviewIn,
    ReviewPublic,
    ScanPublic,
    ScanSource,
    ScanStatus,
    TokenPublic,
)
from service.store.blobs import BlobStore
from service.store.database import Database
from service.store.models import ReviewRow, ScanRow, TokenRow

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScanFilter:
    """Filters of a scan listing (``None`` = no filter).

    ``since`` is inclusive, ``until`` exclusive.
    """

    station_id: str | None = None
    decision: Decision | None = None
    status: ScanStatus | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _review_public(row: ReviewRow) -> ReviewPublic:
    return ReviewPublic(
        outcome=row.outcome,  # type: ignore[arg-type]
        note=row.note,
        findings=[FindingReview.model_validate(item) for item in row.findings_json],
        reviewer=row.reviewer,
        reviewed_at=row.reviewed_at,
    )


def scan_public(row: ScanRow, review: ReviewRow | None = None) -> ScanPublic:
    """API view of a stored scan."""
    return ScanPublic(
        id=row.id,
        received_at=row.received_at,
        station_id=row.station_id,
        person_ref=row.person_ref,
        reason=row.reason,
        source=ScanSource(row.source),
        sop_instance_uid=row.sop_instance_uid,
        status=ScanStatus(row.status),
        error=row.error,
        sha256=row.blob_sha256,
        size_bytes=row.blob_size,
        result=Result.model_validate(row.result_json) if row.result_json else None,
        review=_review_public(review) if review is not None else None,
    )


def _token_public(row: TokenRow) -> TokenPublic:
    return TokenPublic(
        id=row.id,
        name=row.name,
        role=Role(row.role),
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


class Store:
    """The service's persistent state: database rows plus content-addressed originals.

    Parameters
    ----------
    database_url : str
        SQLAlchemy URL.
    blob_root : Path
        Directory of the original files.
    pool_size : int
        Database connections kept open (PostgreSQL).
    """

    def __init__(self, database_url: str, blob_root: Path, *, pool_size: int = 8) -> None:
        self.db = Database(database_url, pool_size=pool_size)
        self.blobs = BlobStore(blob_root)

    def open(self) -> None:
        """Create the schema if needed."""
        self.db.create_schema()

    def close(self) -> None:
        """Release database connections."""
        self.db.dispose()

    def ping(self) -> bool:
        """Whether the database and the blob directory are usable."""
        return self.db.ping() and self.blobs.root.is_dir()

    def _audit(self, session: Session, **kwargs: Any) -> None:
        audit.append(session, is_postgresql=self.db.is_postgresql, **kwargs)

    def record(
        self,
        *,
        actor: str,
        action: AuditAction,
        target: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Append one audit row in its own transaction."""
        try:
            with self.db.write() as session:
                self._audit(session, actor=actor, action=action, target=target, detail=detail)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot write the audit log: {exc}") from exc

    # -- scans -----------------------------------------------------------------------------

    def add_scan(
        self,
        data: bytes,
        *,
        actor: str,
        source: ScanSource,
        station_id: str | None,
        person_ref: str | None,
        reason: str | None,
        sop_instance_uid: str | None,
    ) -> ScanRow:
        """Store the original durably, then its row with status ``received``.

        Returns the committed row; only after this returns is the scan acknowledged.
        """
        sha = self.blobs.put(data)
        row = ScanRow(
            id=uuid.uuid4().hex,
            received_at=_now(),
            station_id=station_id,
            person_ref=person_ref,
            reason=reason,
            source=source.value,
            sop_instance_uid=sop_instance_uid,
            blob_sha256=sha,
            blob_size=len(data),
            status=ScanStatus.RECEIVED.value,
        )
        try:
            with self.db.write() as session:
                session.add(row)
                self._audit(
                    session,
                    actor=actor,
                    action=AuditAction.SCAN_SUBMIT,
                    target=row.id,
                    detail={
                        "source": source.value,
                        "station_id": station_id,
                        "sha256": sha,
                        "size": len(data),
                        "sop_instance_uid": sop_instance_uid,
                    },
                )
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot store the scan in the database: {exc}") from exc
        return row

    def set_result(self, scan_id: str, result: Result, *, actor: str) -> ScanRow:
        """Attach the detector's result to a stored scan (status ``processed``)."""
        try:
            with self.db.write() as session:
                row = session.get(ScanRow, scan_id)
                if row is None:
                    raise StoreError(f"scan {scan_id} vanished before its result was stored")
                row.result_json = result.model_dump(mode="json")
                row.decision = result.decision.value
                row.scan_score = result.scan_score
                row.status = ScanStatus.PROCESSED.value
                row.processed_at = _now()
                row.error = None
                self._audit(
                    session,
                    actor=actor,
                    action=AuditAction.SCAN_RESULT,
                    target=scan_id,
                    detail={
                        "decision": result.decision.value,
                        "scan_score": result.scan_score,
                        "model": result.model.model_dump(mode="json"),
                    },
                )
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot store the result of scan {scan_id}: {exc}") from exc
        return row

    def set_failed(self, scan_id: str, error: str, *, actor: str) -> None:
        """Mark a stored scan as failed (the original stays for a later retry)."""
        try:
            with self.db.write() as session:
                row = session.get(ScanRow, scan_id)
                if row is None:
                    return
                row.status = ScanStatus.FAILED.value
                row.error = error[:2000]
                row.processed_at = _now()
                self._audit(
                    session,
                    actor=actor,
                    action=AuditAction.SCAN_FAIL,
                    target=scan_id,
                    detail={"error": error[:500]},
                )
        except SQLAlchemyError:
            logger.exception("could not mark scan %s as failed", scan_id)

    def get_scan_row(self, scan_id: str) -> ScanRow | None:
        """The row of a scan, or ``None``."""
        with self.db.read() as session:
            return session.get(ScanRow, scan_id)

    def get_scan(self, scan_id: str) -> ScanPublic | None:
        """A scan with its latest review, or ``None``."""
        with self.db.read() as session:
            row = session.get(ScanRow, scan_id)
            if row is None:
                return None
            return scan_public(row, self._latest_review(session, scan_id))

    @staticmethod
    def _latest_review(session: Session, scan_id: str) -> ReviewRow | None:
        return session.scalars(
            select(ReviewRow)
            .where(ReviewRow.scan_id == scan_id)
            .order_by(ReviewRow.id.desc())
            .limit(1)
        ).first()

    def list_scans(
        self, filters: ScanFilter, *, offset: int = 0, limit: int = 50
    ) -> tuple[list[ScanPublic], int]:
        """A page of scans, newest first, and the count of all scans matching ``filters``."""
        conditions = []
        if filters.station_id is not None:
            conditions.append(ScanRow.station_id == filters.station_id)
        if filters.decision is not None:
            conditions.append(ScanRow.decision == filters.decision.value)
        if filters.status is not None:
            conditions.append(ScanRow.status == filters.status.value)
        if filters.since is not None:
            conditions.append(ScanRow.received_at >= filters.since)
        if filters.until is not None:
            conditions.append(ScanRow.received_at < filters.until)
        with self.db.read() as session:
            count = session.scalar(select(func.count()).select_from(ScanRow).where(*conditions))
            rows = session.scalars(
                select(ScanRow)
                .where(*conditions)
                .order_by(ScanRow.received_at.desc(), ScanRow.id.desc())
                .offset(offset)
                .limit(limit)
            ).all()
            reviews: dict[str, ReviewRow] = {}
            if rows:
                for review in session.scalars(
                    select(ReviewRow)
                    .where(ReviewRow.scan_id.in_([row.id for row in rows]))
                    .order_by(ReviewRow.id)
                ):
                    reviews[review.scan_id] = review  # later rows win: latest review
            data = [scan_public(row, reviews.get(row.id)) for row in rows]
        return data, int(count or 0)

    def count_scans(self) -> int:
        """Number of stored scans."""
        with self.db.read() as session:
            return int(session.scalar(select(func.count()).select_from(ScanRow)) or 0)

    def add_review(self, scan_id: str, review: ReviewIn, *, principal: Principal) -> ReviewRow:
        """Store an officer's review of a scan."""
        row = ReviewRow(
            scan_id=scan_id,
            outcome=review.outcome.value,
            note=review.note,
            findings_json=[item.model_dump(mode="json") for item in review.findings],
            reviewer=principal.name,
            reviewer_token_id=principal.token_id,
            reviewed_at=_now(),
        )
        try:
            with self.db.write() as session:
                session.add(row)
                self._audit(
                    session,
                    actor=principal.actor,
                    action=AuditAction.SCAN_REVIEW,
                    target=scan_id,
                    detail={
                        "outcome": review.outcome.value,
                        "note": review.note,
                        "findings": row.findings_json,
                    },
                )
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot store the review of scan {scan_id}: {exc}") from exc
        return row

    # -- tokens ----------------------------------------------------------------------------

    def create_token(self, role: Role, name: str, *, actor: str) -> tuple[TokenPublic, str]:
        """Create a token; returns its public record and its plain text (shown once)."""
        new: NewToken = generate_token()
        row = TokenRow(
            id=new.token_id,
            name=name,
            role=role.value,
            secret_hash=new.secret_hash,
            created_at=_now(),
        )
        try:
            with self.db.write() as session:
                session.add(row)
                self._audit(
                    session,
                    actor=actor,
                    action=AuditAction.TOKEN_CREATE,
                    target=row.id,
                    detail={"role": role.value, "name": name},
                )
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot store the new token: {exc}") from exc
        return _token_public(row), new.plain

    def list_tokens(self) -> list[TokenPublic]:
        """Every token, oldest first."""
        with self.db.read() as session:
            rows = session.scalars(select(TokenRow).order_by(TokenRow.created_at)).all()
            return [_token_public(row) for row in rows]

    def revoke_token(self, token_id: str, *, actor: str) -> TokenPublic | None:
        """Revoke a token (idempotent); ``None`` when no token has this id."""
        try:
            with self.db.write() as session:
                row = session.get(TokenRow, token_id)
                if row is None:
                    return None
                if row.revoked_at is None:
                    row.revoked_at = _now()
                    self._audit(
                        session,
                        actor=actor,
                        action=AuditAction.TOKEN_REVOKE,
                        target=token_id,
                        detail={"role": row.role, "name": row.name},
                    )
                return _token_public(row)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot revoke token {token_id}: {exc}") from exc

    def authenticate(self, plain: str) -> Principal | None:
        """The principal of a valid, unrevoked token, else ``None``."""
        parts = split_token(plain)
        if parts is None:
            return None
        token_id, secret = parts
        with self.db.read() as session:
            row = session.get(TokenRow, token_id)
        if row is None or row.revoked_at is not None:
            return None
        if not secret_matches(secret, row.secret_hash):
            return None
        return Principal(token_id=row.id, name=row.name, role=Role(row.role))

    def verify_audit(self) -> audit.VerifyReport:
        """Check the audit chain (raises :class:`service.errors.AuditChainError`)."""
        with self.db.read() as session:
            return audit.verify(session)
