"""Errors of the station service; each maps to an HTTP status and a JSON error code.

Every message says what was wrong and how to fix it. The API answers them as
``{"error": {"code": ..., "message": ...}}``.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Machine-readable error codes of the API."""

    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    INVALID_PARAMETER = "invalid_parameter"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    EMPTY_BODY = "empty_body"
    NOT_DICOM = "not_dicom"
    TRUNCATED = "truncated"
    UNSUPPORTED_SCAN = "unsupported_scan"
    INVALID_SCAN = "invalid_scan"
    NO_RESULT = "no_result"
    DETECTOR_FAILED = "detector_failed"
    NOT_READY = "not_ready"
    STORE_FAILED = "store_failed"
    HTTP_ERROR = "http_error"
    INTERNAL = "internal_error"


class ServiceError(Exception):
    """Base class of the service's errors.

    Parameters
    ----------
    message : str
        What is wrong and how to fix it.
    code : ErrorCode, optional
        Overrides the class's default code.
    """

    status_code: int = 500
    code: ErrorCode = ErrorCode.INTERNAL

    def __init__(self, message: str, *, code: ErrorCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class AuthenticationError(ServiceError):
    """No token, or a token that is unknown or revoked."""

    status_code = 401
    code = ErrorCode.UNAUTHENTICATED


class PermissionDeniedError(ServiceError):
    """The token's role may not do this."""

    status_code = 403
    code = ErrorCode.FORBIDDEN


class NotFoundError(ServiceError):
    """An unknown scan, token or route."""

    status_code = 404
    code = ErrorCode.NOT_FOUND


class InvalidParameterError(ServiceError):
    """A query, form or body parameter is out of range or malformed."""

    status_code = 422
    code = ErrorCode.INVALID_PARAMETER


class UnsupportedMediaTypeError(ServiceError):
    """The request body has a content type the endpoint does not take."""

    status_code = 415
    code = ErrorCode.UNSUPPORTED_MEDIA_TYPE


class PayloadTooLargeError(ServiceError):
    """The upload is larger than ``SCANGUARD_MAX_UPLOAD_MB``."""

    status_code = 413
    code = ErrorCode.PAYLOAD_TOO_LARGE


class UnreadableScanError(ServiceError):
    """The upload is not a scan ScanGuard can read (code says why)."""

    status_code = 422
    code = ErrorCode.INVALID_SCAN


class ConflictError(ServiceError):
    """The request does not fit the resource's state (e.g. a review of a scan without result)."""

    status_code = 409
    code = ErrorCode.NO_RESULT


class DetectorFailedError(ServiceError):
    """The scan was stored but the detector failed on it.

    Attributes
    ----------
    scan_id : str
        Id of the stored scan (status ``failed``).
    """

    status_code = 503
    code = ErrorCode.DETECTOR_FAILED

    def __init__(self, message: str, *, scan_id: str) -> None:
        super().__init__(message)
        self.scan_id = scan_id


class NotReadyError(ServiceError):
    """The service is still starting (model or store not available)."""

    status_code = 503
    code = ErrorCode.NOT_READY


class StoreError(ServiceError):
    """The database or the blob store failed."""

    status_code = 503
    code = ErrorCode.STORE_FAILED


class AuditChainError(Exception):
    """The audit log's hash chain is broken.

    Attributes
    ----------
    seq : int
        Sequence number of the first row that does not verify.
    """

    def __init__(self, message: str, *, seq: int) -> None:
        super().__init__(message)
        self.seq = seq
