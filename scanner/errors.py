"""Errors raised while reading scans. Every message says what is wrong and how to fix it."""

from __future__ import annotations


class ScanError(Exception):
    """Base class of every error the scanner package raises."""


class NotDicomError(ScanError):
    """The input is not a DICOM file (nor a supported image)."""


class TruncatedFileError(ScanError):
    """The file ends before its declared content."""


class MissingPixelDataError(ScanError):
    """The dataset has no Pixel Data."""


class UnsupportedScanError(ScanError):
    """A readable file whose content ScanGuard cannot use (multi-frame, colour, bad size...)."""


class MissingDecoderError(ScanError):
    """The transfer syntax needs a decoder plug-in that is not installed."""


class NonConformantScanError(ScanError):
    """A conformance problem raised under ``Validation.RAISE``."""


class ScanWarning(UserWarning):
    """A conformance problem reported under ``Validation.WARN``."""


class ScanFileNotFoundError(ScanError, FileNotFoundError):
    """The scan file does not exist or cannot be opened."""


class ImageParametersError(ScanError, ValueError):
    """A PNG/TIFF image was given without the pixel spacing or polarity it needs."""
