"""Scans: submit, list, fetch, original file, rendered image, review."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from detect.result import Decision
from service.api.deps import ExporterQ, Reviewer, ServicesDep, Submitter, Viewer, ViewerQ
from service.audit import AuditAction
from service.auth import Role
from service.errors import (
    ConflictError,
    ErrorCode,
    InvalidParameterError,
    NotFoundError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
)
from service.events import EventKind
from service.pipeline import Submission
from service.render import Colormap, RenderOptions, render_png
from service.schemas import (
    ErrorBody,
    ReviewIn,
    ScanBase,
    ScanPublic,
    ScanSource,
    ScansPublic,
    ScanStatus,
)
from service.state import Services
from service.store import ScanFilter

router = APIRouter(prefix="/api/v1/scans", tags=["scans"])

_SCAN_ID_RE = re.compile(r"^[0-9a-f]{32}$")
#: Content types taken as a raw DICOM body.
RAW_TYPES = ("application/dicom", "application/octet-stream")
#: Room for multipart boundaries and form fields on top of the file size limit.
_MULTIPART_SLACK = 1024 * 1024

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (401, 403, 404, 409, 413, 415, 422, 503)
}

_SUBMIT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/dicom": {"schema": {"type": "string", "format": "binary"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "station_id": {"type": "string", "maxLength": 64},
                        "person_ref": {"type": "string", "maxLength": 128},
                        "reason": {"type": "string", "maxLength": 256},
                    },
                }
            },
        },
    }
}


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it exceeds ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(
            f"the upload is {declared} bytes, more than the {limit}-byte limit; raise "
            "SCANGUARD_MAX_UPLOAD_MB if such scans are expected"
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(
                f"the upload exceeds the {limit}-byte limit; raise SCANGUARD_MAX_UPLOAD_MB "
                "if such scans are expected"
            )
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_multipart(request: Request, body: bytes) -> tuple[bytes, dict[str, str]]:
    """The ``file`` part and the text fields of a multipart body."""

    async def _replay() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    replay = Request(request.scope, receive=_replay)
    try:
        form = await replay.form(max_files=1, max_fields=16)
    except Exception as exc:  # malformed multipart
        raise InvalidParameterError(
            f"the multipart body could not be parsed ({exc}); send the DICOM file in the "
            "form field 'file'"
        ) from exc
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidParameterError(
                "the multipart body has no file field 'file'; send the DICOM file as 'file'"
            )
        data = await upload.read()
        fields = {key: value for key, value in form.items() if isinstance(value, str)}
    finally:
        await form.close()
    return data, fields


@router.post(
    "",
    status_code=201,
    response_model=ScanPublic,
    responses=_ERRORS,
    openapi_extra=_SUBMIT_BODY,
    summary="Submit a scan and get its result",
)
async def submit_scan(
    request: Request,
    services: ServicesDep,
    principal: Submitter,
    station_id: Annotated[str | None, Query(max_length=64)] = None,
    person_ref: Annotated[str | None, Query(max_length=128)] = None,
    reason: Annotated[str | None, Query(max_length=256)] = None,
) -> ScanPublic:
    """Analyse one scan (raw ``application/dicom`` body or multipart field ``file``).

    The scan is stored durably before the answer; the answer holds the decision, the
    calibrated scan score, the findings, the model identity and the stage timings.
    """
    limit = services.settings.max_upload_bytes
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    fields: dict[str, str] = {}
    if media_type in RAW_TYPES:
        data = await _read_body(request, limit)
    elif media_type == "multipart/form-data":
        body = await _read_body(request, limit + _MULTIPART_SLACK)
        data, fields = await _read_multipart(request, body)
    else:
        raise UnsupportedMediaTypeError(
            f"content type {media_type or '(none)'!r} is not accepted: send the DICOM file "
            "with Content-Type application/dicom, or as multipart/form-data field 'file'"
        )
    try:
        meta = ScanBase(
            station_id=fields.get("station_id", station_id),
            person_ref=fields.get("person_ref", person_ref),
            reason=fields.get("reason", reason),
        )
    except ValidationError as exc:
        raise InvalidParameterError(
            "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        ) from exc
    if meta.station_id is None and principal.role is Role.STATION:
        meta = meta.model_copy(update={"station_id": principal.name[:64]})
    submission = Submission(
        source=ScanSource.HTTP,
        actor=principal.actor,
        station_id=meta.station_id,
        person_ref=meta.person_ref,
        reason=meta.reason,
    )
    return await run_in_threadpool(services.pipeline.submit, data, submission)


def scan_filter(
    station_id: Annotated[str | None, Query(max_length=64)] = None,
    decision: Decision | None = None,
    status: ScanStatus | None = None,
    since: Annotated[dt.datetime | None, Query(description="received at or after")] = None,
    until: Annotated[dt.datetime | None, Query(description="received before")] = None,
) -> ScanFilter:
    """The listing filters from the query (naive date-times are taken as UTC)."""
    since_utc, until_utc = _as_utc(since), _as_utc(until)
    if since_utc is not None and until_utc is not None and since_utc >= until_utc:
        raise InvalidParameterError(
            f"since ({since_utc.isoformat()}) must be before until ({until_utc.isoformat()})"
        )
    return ScanFilter(
        station_id=station_id, decision=decision, status=status, since=since_utc, until=until_utc
    )


FilterDep = Annotated[ScanFilter, Depends(scan_filter)]


def _filter_detail(filters: ScanFilter) -> dict[str, Any]:
    return {
        "station_id": filters.station_id,
        "decision": filters.decision.value if filters.decision else None,
        "status": filters.status.value if filters.status else None,
        "since": filters.since.isoformat() if filters.since else None,
        "until": filters.until.isoformat() if filters.until else None,
    }


@router.get("", response_model=ScansPublic, responses=_ERRORS, summary="List scans")
def list_scans(
    services: ServicesDep,
    principal: Viewer,
    filters: FilterDep,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> ScansPublic:
    """Scans newest first; ``count`` is the number matching the filters."""
    data, count = services.store.list_scans(filters, offset=offset, limit=limit)
    services.store.record(
        actor=principal.actor,
        action=AuditAction.SCAN_LIST,
        detail={
            **_filter_detail(filters),
            "offset": offset,
            "limit": limit,
            "returned": [scan.id for scan in data],
        },
    )
    return ScansPublic(data=data, count=count)


_EXPORT_PAGE = 200


@router.get(
    "/export.ndjson",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}}, **_ERRORS},
    summary="Export scans with results as NDJSON",
)
def export_scans(
    services: ServicesDep, principal: ExporterQ, filters: FilterDep
) -> StreamingResponse:
    """Every matching scan (one ScanPublic JSON per line, newest first).

    Scans received after the export started are left out, so the export is consistent.
    """
    now = dt.datetime.now(dt.UTC)
    until = now if filters.until is None else min(filters.until, now)
    frozen = ScanFilter(
        station_id=filters.station_id,
        decision=filters.decision,
        status=filters.status,
        since=filters.since,
        until=until,
    )
    services.store.record(
        actor=principal.actor, action=AuditAction.SCAN_EXPORT, detail=_filter_detail(frozen)
    )

    def lines() -> Iterator[str]:
        offset = 0
        while True:
            page, _ = services.store.list_scans(frozen, offset=offset, limit=_EXPORT_PAGE)
            for scan in page:
                yield scan.model_dump_json() + "\n"
            if len(page) < _EXPORT_PAGE:
                return
            offset += _EXPORT_PAGE

    return StreamingResponse(
        lines(),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": 'attachment; filename="scans.ndjson"'},
    )


def _as_utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def _get_or_404(services: Services, scan_id: str) -> ScanPublic:
    scan = services.store.get_scan(scan_id) if _SCAN_ID_RE.match(scan_id) else None
    if scan is None:
        raise NotFoundError(f"no scan has id {scan_id!r}; list scans with GET /api/v1/scans")
    return scan


@router.get("/{scan_id}", response_model=ScanPublic, responses=_ERRORS, summary="Get a scan")
def get_scan(scan_id: str, services: ServicesDep, principal: Viewer) -> ScanPublic:
    """One scan with its result and latest review."""
    scan = _get_or_404(services, scan_id)
    services.store.record(actor=principal.actor, action=AuditAction.SCAN_VIEW, target=scan.id)
    return scan


@router.get(
    "/{scan_id}/dicom",
    responses={200: {"content": {"application/dicom": {}}}, **_ERRORS},
    response_class=Response,
    summary="Download the original file",
)
def get_dicom(scan_id: str, services: ServicesDep, principal: ExporterQ) -> Response:
    """The original bytes as received."""
    scan = _get_or_404(services, scan_id)
    data = services.store.blobs.get(scan.sha256)
    services.store.record(actor=principal.actor, action=AuditAction.SCAN_DICOM, target=scan.id)
    return Response(
        content=data,
        media_type="application/dicom",
        headers={"Content-Disposition": f'attachment; filename="{scan.id}.dcm"'},
    )


@router.get(
    "/{scan_id}/image.png",
    responses={200: {"content": {"image/png": {}}}, **_ERRORS},
    response_class=Response,
    summary="Render the scan as PNG",
)
def get_image(
    scan_id: str,
    services: ServicesDep,
    principal: ViewerQ,
    window: Annotated[
        float | None, Query(gt=0, le=100, description="attenuation window width")
    ] = None,
    level: Annotated[
        float | None, Query(ge=-50, le=100, description="attenuation window centre")
    ] = None,
    invert: bool = False,
    colormap: Colormap = Colormap.GREY,
    enhance: bool = False,
    boxes: bool = True,
) -> Response:
    """The scan through the display kernels (window/level, colour map, enhancement, boxes)."""
    scan = _get_or_404(services, scan_id)
    decoded = services.pipeline.load_scan(scan.id, scan.sha256)
    options = RenderOptions(
        window=window, level=level, invert=invert, colormap=colormap, enhance=enhance, boxes=boxes
    )
    png = render_png(decoded, scan.result, options)
    services.store.record(actor=principal.actor, action=AuditAction.SCAN_IMAGE, target=scan.id)
    return Response(content=png, media_type="image/png", headers={"Cache-Control": "no-store"})


@router.post(
    "/{scan_id}/review",
    response_model=ScanPublic,
    responses=_ERRORS,
    summary="Record the officer's outcome",
)
def review_scan(
    scan_id: str, review: ReviewIn, services: ServicesDep, principal: Reviewer
) -> ScanPublic:
    """Store the outcome (and per-finding verdicts) with reviewer and time."""
    scan = _get_or_404(services, scan_id)
    if review.findings:
        if scan.result is None:
            raise ConflictError(
                f"scan {scan.id} has no result ({scan.status.value}); review it without "
                "per-finding verdicts",
                code=ErrorCode.NO_RESULT,
            )
        count = len(scan.result.findings)
        bad = sorted({item.index for item in review.findings if item.index >= count})
        if bad:
            raise InvalidParameterError(
                f"finding indices {bad} do not exist: scan {scan.id} has {count} finding(s), "
                f"indices 0..{count - 1}"
            )
        indices = [item.index for item in review.findings]
        if len(set(indices)) != len(indices):
            raise InvalidParameterError("each finding index may appear only once in 'findings'")
    services.store.add_review(scan.id, review, principal=principal)
    services.metrics.reviews.labels(review.outcome.value).inc()
    updated = _get_or_404(services, scan.id)
    services.events.publish(EventKind.REVIEW, updated.model_dump(mode="json"))
    return updated
