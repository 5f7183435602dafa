"""The one path every scan takes, whether uploaded over HTTP or stored over DICOM.

bytes → :func:`scanner.read_scan` → store (original fsynced, row ``received`` committed)
→ detector → result stored (``processed``) → event published → :class:`ScanPublic`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from service.audit import AuditAction
from service.errors import (
    DetectorFailedError,
    ErrorCode,
    NotReadyError,
    PayloadTooLargeError,
    StoreError,
    UnreadableScanError,
)
from service.events import EventBus, EventKind
from service.metrics import ServiceMetrics
from service.render import ScanCache
from service.schemas import ScanPublic, ScanSource
from service.store import Store

if TYPE_CHECKING:
    from detect.result import SupportsDetect
    from scanner.scan import Scan

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Submission:
    """Who sent a scan and what they said about it."""

    source: ScanSource
    actor: str
    station_id: str | None = None
    person_ref: str | None = None
    reason: str | None = None


def decode_scan(data: bytes) -> Scan:
    """Read a scan from file bytes, turning every reader failure into a client error.

    Raises
    ------
    UnreadableScanError
        With code ``not_dicom``, ``truncated``, ``unsupported_scan`` or ``invalid_scan``.
    """
    from scanner import errors as scan_errors
    from scanner import read_scan

    if not data:
        raise UnreadableScanError(
            "the request body is empty: send the DICOM file as the body "
            "(Content-Type: application/dicom) or as the multipart field 'file'",
            code=ErrorCode.EMPTY_BODY,
        )
    try:
        return read_scan(data)
    except scan_errors.NotDicomError as exc:
        raise UnreadableScanError(str(exc), code=ErrorCode.NOT_DICOM) from exc
    except scan_errors.TruncatedFileError as exc:
        raise UnreadableScanError(str(exc), code=ErrorCode.TRUNCATED) from exc
    except (
        scan_errors.MissingPixelDataError,
        scan_errors.UnsupportedScanError,
        scan_errors.MissingDecoderError,
        scan_errors.NonConformantScanError,
    ) as exc:
        raise UnreadableScanError(str(exc), code=ErrorCode.UNSUPPORTED_SCAN) from exc
    except scan_errors.ScanError as exc:
        raise UnreadableScanError(str(exc), code=ErrorCode.INVALID_SCAN) from exc
    except Exception as exc:  # a reader bug must not become a 500 for the client
        logger.exception("scan reader failed on a %d-byte upload", len(data))
        raise UnreadableScanError(
            f"the file could not be read as a scan ({type(exc).__name__}: {exc}); send an "
            "uncompressed or losslessly compressed DX, CR or Secondary Capture DICOM file",
            code=ErrorCode.INVALID_SCAN,
        ) from exc


class Pipeline:
    """Decode, store, detect and publish one scan.

    Parameters
    ----------
    store : Store
    cache : ScanCache
        Receives each decoded scan so the first rendering needs no decode.
    events : EventBus
    metrics : ServiceMetrics
    max_bytes : int
        Largest accepted file.
    detector : SupportsDetect, optional
        Set once loaded; submissions are refused (not ready) until then.
    compute_slots : int, optional
        Scans decoded or detected at the same time (default: the CPU count). More requests
        than slots wait their turn instead of slowing every scan down by oversubscription.
    """

    def __init__(
        self,
        store: Store,
        cache: ScanCache,
        events: EventBus,
        metrics: ServiceMetrics,
        *,
        max_bytes: int,
        detector: SupportsDetect | None = None,
        compute_slots: int | None = None,
    ) -> None:
        self.store = store
        self.cache = cache
        self.events = events
        self.metrics = metrics
        self.max_bytes = max_bytes
        self.detector = detector
        self.compute_slots = compute_slots or os.cpu_count() or 1
        self._slots = threading.BoundedSemaphore(self.compute_slots)

    def submit(self, data: bytes, submission: Submission) -> ScanPublic:
        """Process one scan file end to end.

        Returns
        -------
        ScanPublic
            The stored scan with its result.

        Raises
        ------
        PayloadTooLargeError, UnreadableScanError
            The data cannot be used (nothing stored; the refusal is audited).
        NotReadyError
            The detector is not loaded yet.
        DetectorFailedError
            The scan was stored but detection failed (scan status ``failed``).
        StoreError
            The scan could not be stored durably.
        """
        start = time.perf_counter()
        detector = self.detector
        if detector is None:
            raise NotReadyError("the detector is still loading; retry in a few seconds")
        if len(data) > self.max_bytes:
            self._reject(data, submission, ErrorCode.PAYLOAD_TOO_LARGE)
            raise PayloadTooLargeError(
                f"the scan is {len(data)} bytes, more than the {self.max_bytes}-byte limit; "
                "raise SCANGUARD_MAX_UPLOAD_MB if such scans are expected"
            )
        try:
            with self._slots:
                t_decode = time.perf_counter()
                scan = decode_scan(data)
                decode_ms = (time.perf_counter() - t_decode) * 1000.0
        except UnreadableScanError as exc:
            self._reject(data, submission, exc.code)
            raise
        row = self.store.add_scan(
            data,
            actor=submission.actor,
            source=submission.source,
            station_id=submission.station_id,
            person_ref=submission.person_ref,
            reason=submission.reason,
            sop_instance_uid=scan.metadata.sop_instance_uid,
        )
        self.metrics.scans.labels(submission.source.value).inc()
        self.cache.put(row.id, scan)
        try:
            with self._slots:
                result = detector.detect(scan, decode_ms=decode_ms)
        except Exception as exc:
            logger.exception("detector failed on scan %s", row.id)
            self.metrics.detector_failures.inc()
            self.store.set_failed(row.id, f"{type(exc).__name__}: {exc}", actor=submission.actor)
            self._publish(row.id)
            raise DetectorFailedError(
                f"scan {row.id} was stored but the detector failed on it ({exc}); it is kept "
                "with status 'failed' and can be fetched with GET /api/v1/scans/{id}",
                scan_id=row.id,
            ) from exc
        self.store.set_result(row.id, result, actor=submission.actor)
        self.metrics.decisions.labels(result.decision.value).inc()
        self.metrics.pipeline_seconds.observe(time.perf_counter() - start)
        public = self._publish(row.id)
        if public is None:
            raise StoreError(
                f"scan {row.id} was stored but cannot be read back; check the database"
            )
        return public

    def _reject(self, data: bytes, submission: Submission, code: ErrorCode) -> None:
        self.metrics.rejected.labels(submission.source.value, code.value).inc()
        try:
            self.store.record(
                actor=submission.actor,
                action=AuditAction.SCAN_REJECT,
                detail={
                    "source": submission.source.value,
                    "station_id": submission.station_id,
                    "size": len(data),
                    "code": code.value,
                },
            )
        except Exception:
            logger.exception("could not audit a refused submission")

    def _publish(self, scan_id: str) -> ScanPublic | None:
        public = self.store.get_scan(scan_id)
        if public is not None:
            self.events.publish(EventKind.SCAN, public.model_dump(mode="json"))
        return public

    def load_scan(self, scan_id: str, sha256: str) -> Scan:
        """The decoded scan of a stored original (from the cache when possible)."""
        scan = self.cache.get(scan_id)
        if scan is None:
            scan = decode_scan(self.store.blobs.get(sha256))
            self.cache.put(scan_id, scan)
        return scan
