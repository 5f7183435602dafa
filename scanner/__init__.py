"""ScanGuard scanner package: read any vendor's transmission scan into one physical ``Scan``.

>>> from scanner import read_scan
>>> scan = read_scan("scan.dcm")  # doctest: +SKIP
>>> scan.image.shape, scan.spacing, scan.normalisation.steps  # doctest: +SKIP
"""

from scanner.conformance import Validation
from scanner.errors import (
    ImageParametersError,
    MissingDecoderError,
    MissingPixelDataError,
    NonConformantScanError,
    NotDicomError,
    ScanError,
    ScanFileNotFoundError,
    ScanWarning,
    TruncatedFileError,
    UnsupportedScanError,
)
from scanner.ingest import ScanSource, read_scan
from scanner.scan import Normalisation, Polarity, Scan, ScanMetadata, SpacingSource

__all__ = [
    "ImageParametersError",
    "MissingDecoderError",
    "MissingPixelDataError",
    "NonConformantScanError",
    "Normalisation",
    "NotDicomError",
    "Polarity",
    "Scan",
    "ScanError",
    "ScanFileNotFoundError",
    "ScanMetadata",
    "ScanSource",
    "ScanWarning",
    "SpacingSource",
    "TruncatedFileError",
    "UnsupportedScanError",
    "Validation",
    "read_scan",
]
