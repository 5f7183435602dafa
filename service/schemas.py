"""API schemas: scans, reviews, tokens and errors."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from detect.result import Decision, Result
from service.auth import Role


class ScanSource(StrEnum):
    """How a scan reached the service."""

    HTTP = "http"
    DICOM = "dicom"
    #: Sample scans imported at start-up (``--load-samples``).
    IMPORT = "import"


class ScanStatus(StrEnum):
    """Processing state of a stored scan."""

    RECEIVED = "received"
    PROCESSED = "processed"
    FAILED = "failed"


class ReviewOutcome(StrEnum):
    """The officer's outcome of a scan."""

    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    ITEM_FOUND = "item_found"
    NOTHING_FOUND = "nothing_found"


class FindingVerdict(StrEnum):
    """The officer's verdict on one finding."""

    CONFIRMED = "confirmed"
    REJECTED = "rejected"


class FindingReview(BaseModel):
    """Verdict on the finding at ``index`` of the result's ``findings``."""

    model_config = ConfigDict(extra="forbid")

    index: int = Field(ge=0, le=10_000)
    verdict: FindingVerdict


class ReviewIn(BaseModel):
    """An officer's review of a scan."""

    model_config = ConfigDict(extra="forbid")

    outcome: ReviewOutcome
    note: str | None = Field(None, max_length=4000)
    findings: list[FindingReview] = Field(default_factory=list, max_length=1000)


class ReviewPublic(BaseModel):
    """A stored review."""

    outcome: ReviewOutcome
    note: str | None
    findings: list[FindingReview]
    reviewer: str
    reviewed_at: dt.datetime


class ScanBase(BaseModel):
    """What the submitter says about a scan."""

    station_id: str | None = Field(None, max_length=64)
    person_ref: str | None = Field(None, max_length=128)
    reason: str | None = Field(None, max_length=256)


class ScanPublic(ScanBase):
    """A stored scan with its result (``null`` until processed) and latest review."""

    id: str
    received_at: dt.datetime
    source: ScanSource
    sop_instance_uid: str | None
    status: ScanStatus
    error: str | None = None
    sha256: str = Field(description="sha256 of the original file")
    size_bytes: int
    result: Result | None
    review: ReviewPublic | None = None


class ScansPublic(BaseModel):
    """A page of scans and the number of scans matching the filters."""

    data: list[ScanPublic]
    count: int


class TokenCreate(BaseModel):
    """Request to create a token."""

    model_config = ConfigDict(extra="forbid")

    role: Role
    name: str = Field(min_length=1, max_length=128)


class TokenPublic(BaseModel):
    """A stored token (never its secret)."""

    id: str
    name: str
    role: Role
    created_at: dt.datetime
    revoked_at: dt.datetime | None


class TokenCreated(TokenPublic):
    """A new token with its plain text, shown only this once."""

    token: str


class TokensPublic(BaseModel):
    """All tokens."""

    data: list[TokenPublic]
    count: int


class ErrorDetail(BaseModel):
    """What went wrong."""

    code: str
    message: str
    scan_id: str | None = None


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer."""

    error: ErrorDetail


class Health(BaseModel):
    """Liveness / readiness answer."""

    status: str
    model: dict[str, str] | None = None
    store: bool | None = None
    receiver: bool | None = None


__all__ = [
    "Decision",
    "ErrorBody",
    "ErrorDetail",
    "FindingReview",
    "FindingVerdict",
    "Health",
    "ReviewIn",
    "ReviewOutcome",
    "ReviewPublic",
    "ScanBase",
    "ScanPublic",
    "ScanSource",
    "ScanStatus",
    "ScansPublic",
    "TokenCreate",
    "TokenCreated",
    "TokenPublic",
    "TokensPublic",
]
