"""DICOM receiver: C-ECHO and C-STORE of DX, CR and Secondary Capture scans.

Every received instance goes through the same :class:`service.pipeline.Pipeline` as an HTTP
upload (source ``dicom``, station = the calling AE title). Handlers answer DICOM status codes
and never raise: a bad instance fails only its own C-STORE.
"""

from __future__ import annotations

import logging
from typing import Any

from pydicom.dataset import Dataset
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    RLELossless,
)
from pydicom.uid import (
    JPEGLossless as JPEGLosslessP14,
)
from pynetdicom import AE, evt
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    ComputedRadiographyImageStorage,
    DigitalXRayImageStorageForPresentation,
    DigitalXRayImageStorageForProcessing,
    SecondaryCaptureImageStorage,
    Verification,
)

from service.errors import (
    DetectorFailedError,
    ErrorCode,
    NotReadyError,
    PayloadTooLargeError,
    ServiceError,
    StoreError,
    UnreadableScanError,
)
from service.metrics import ServiceMetrics
from service.pipeline import Pipeline, Submission
from service.schemas import ScanSource

logger = logging.getLogger(__name__)

#: Storage SOP classes the receiver accepts.
STORAGE_SOP_CLASSES = (
    DigitalXRayImageStorageForPresentation,
    DigitalXRayImageStorageForProcessing,
    ComputedRadiographyImageStorage,
    SecondaryCaptureImageStorage,
)

#: Transfer syntaxes accepted for storage: uncompressed and lossless compressed.
TRANSFER_SYNTAXES = (
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    JPEGLosslessSV1,
    JPEGLosslessP14,
    JPEGLSLossless,
    JPEG2000Lossless,
    RLELossless,
)

STATUS_SUCCESS = 0x0000
#: Refused: out of resources (retry later).
STATUS_OUT_OF_RESOURCES = 0xA700
#: Error: data set does not match SOP class (a DICOM file ScanGuard cannot use).
STATUS_DATASET_MISMATCH = 0xA900
#: Error: cannot understand.
STATUS_CANNOT_UNDERSTAND = 0xC000
#: Error: cannot understand, processing failure (unexpected).
STATUS_PROCESSING_FAILURE = 0xC001


def _status(code: int, comment: str | None = None) -> Dataset:
    """A C-STORE response status with an optional Error Comment (LO, ≤ 64 chars)."""
    status = Dataset()
    status.Status = code
    if comment:
        status.ErrorComment = comment.replace("\\", "/")[:64]
    return status


def status_for(error: Exception) -> tuple[int, str]:
    """The C-STORE status code and comment for a pipeline error."""
    if isinstance(error, PayloadTooLargeError):
        return STATUS_OUT_OF_RESOURCES, "instance larger than the receiver's limit"
    if isinstance(error, NotReadyError | StoreError):
        return STATUS_OUT_OF_RESOURCES, "receiver not ready or store unavailable; retry"
    if isinstance(error, UnreadableScanError):
        if error.code is ErrorCode.UNSUPPORTED_SCAN:
            return STATUS_DATASET_MISMATCH, f"unusable scan: {error.message}"
        return STATUS_CANNOT_UNDERSTAND, f"unreadable: {error.message}"
    if isinstance(error, ServiceError):
        return STATUS_PROCESSING_FAILURE, error.message
    return STATUS_PROCESSING_FAILURE, f"processing failure: {type(error).__name__}"


class DicomReceiver:
    """A pynetdicom storage SCP feeding the pipeline.

    Parameters
    ----------
    pipeline : Pipeline
    metrics : ServiceMetrics
    ae_title : str
        The receiver's AE title.
    host, port : str, int
        Where to listen.
    allowed_aets : list of str
        Calling AE titles allowed to associate; empty = any.
    """

    def __init__(
        self,
        pipeline: Pipeline,
        metrics: ServiceMetrics,
        *,
        ae_title: str,
        host: str,
        port: int,
        allowed_aets: list[str] | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.metrics = metrics
        self.host = host
        self.port = port
        self.ae = AE(ae_title=ae_title)
        self.ae.maximum_associations = 16
        self.ae.acse_timeout = 30
        self.ae.dimse_timeout = 60
        self.ae.network_timeout = 60
        if allowed_aets:
            self.ae.require_calling_aet = list(allowed_aets)
        self.ae.add_supported_context(Verification)
        for sop_class in STORAGE_SOP_CLASSES:
            self.ae.add_supported_context(sop_class, list(TRANSFER_SYNTAXES))
        self._server: Any = None

    @property
    def running(self) -> bool:
        """Whether the server thread is listening."""
        return self._server is not None

    def start(self) -> None:
        """Start listening (non-blocking)."""
        handlers: list[Any] = [
            (evt.EVT_C_ECHO, self._on_echo),
            (evt.EVT_C_STORE, self._on_store),
            (evt.EVT_ACCEPTED, self._on_outcome("accepted")),
            (evt.EVT_REJECTED, self._on_outcome("rejected")),
            (evt.EVT_ABORTED, self._on_outcome("aborted")),
            (evt.EVT_RELEASED, self._on_outcome("released")),
        ]
        self._server = self.ae.start_server(
            (self.host, self.port), block=False, evt_handlers=handlers
        )
        logger.info("DICOM receiver %s listening on %s:%d", self.ae.ae_title, self.host, self.port)

    def stop(self) -> None:
        """Stop listening and close open associations."""
        if self._server is not None:
            self._server.shutdown()
            self._server = None
            logger.info("DICOM receiver stopped")

    def _on_outcome(self, outcome: str) -> Any:
        def _handler(event: Any) -> None:
            self.metrics.associations.labels(outcome).inc()

        return _handler

    def _on_echo(self, event: Any) -> int:
        return STATUS_SUCCESS

    def _on_store(self, event: Any) -> Dataset:
        calling = str(event.assoc.requestor.ae_title).strip() or "UNKNOWN"
        try:
            data = event.encoded_dataset(include_meta=True)
        except Exception:
            logger.exception("could not encode a C-STORE dataset from %s", calling)
            return self._answer(STATUS_CANNOT_UNDERSTAND, "dataset could not be decoded")
        submission = Submission(
            source=ScanSource.DICOM, actor=f"dicom:{calling}", station_id=calling
        )
        try:
            public = self.pipeline.submit(data, submission)
        except DetectorFailedError as exc:
            # The instance is stored durably (status failed): the sender must not resend it.
            logger.error("scan %s from %s stored but not processed: %s", exc.scan_id, calling, exc)
            return self._answer(STATUS_SUCCESS)
        except Exception as exc:
            code, comment = status_for(exc)
            if isinstance(exc, ServiceError):
                logger.warning("C-STORE from %s refused (0x%04X): %s", calling, code, exc)
            else:
                logger.exception("C-STORE from %s failed", calling)
            return self._answer(code, comment)
        logger.info(
            "stored scan %s from %s: %s",
            public.id,
            calling,
            public.result.decision.value if public.result else public.status.value,
        )
        return self._answer(STATUS_SUCCESS)

    def _answer(self, code: int, comment: str | None = None) -> Dataset:
        self.metrics.dicom_instances.labels(f"0x{code:04X}").inc()
        return _status(code, comment)
