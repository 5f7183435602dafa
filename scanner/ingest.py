"""Vendor-neutral scan ingest: any supported file in, one :class:`~scanner.scan.Scan` out.

:func:`read_scan` accepts a path, raw bytes, a binary file object or a pydicom ``Dataset`` and
returns the image as float32 natural-log line integral (air ~ 0, denser = larger), whatever the
vendor's encoding. The same physical scan stored LIN or LOG, either sign, MONOCHROME1 or 2, any
rescale, 8 to 16 bits, with any spacing attribute and uncompressed or losslessly compressed (RLE,
JPEG-LS, JPEG 2000) gives the same attenuation, to the quantisation of the stored values.

The rules, in the order applied, are documented in :mod:`scanner._dicom` (DICOM) and
:mod:`scanner._image` (PNG/TIFF); the encodings they invert are described in
:mod:`scanner.encoding`. Every step taken is recorded in ``Scan.normalisation.steps``.

Two kinds of trouble are told apart:

* Bad input (not DICOM, truncated, no pixel data, multi-frame, colour, implausible size,
  compression without its decoder) raises a :class:`~scanner.errors.ScanError` subclass whose
  message says what is wrong and what to do.
* Readable but non-conformant input (missing spacing or intensity attributes, odd values) is
  read under stated assumptions and reported according to the ``validation`` policy.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import IO, Any

from pydicom.dataset import Dataset

from scanner import _dicom, _image
from scanner.conformance import Conformance, Validation
from scanner.errors import NotDicomError, ScanError, ScanFileNotFoundError, UnsupportedScanError
from scanner.scan import Polarity, Scan

__all__ = ["ScanSource", "read_scan"]

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())

#: What :func:`read_scan` accepts.
ScanSource = str | os.PathLike[str] | bytes | bytearray | memoryview | IO[bytes] | Dataset


def _load(source: Any) -> tuple[bytes | Dataset, str]:
    """Bytes (or the Dataset itself) and a label for messages."""
    if isinstance(source, Dataset):
        filename = getattr(source, "filename", None)
        return source, str(filename) if isinstance(filename, str) else "<dataset>"
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source), "<bytes>"
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        try:
            return path.read_bytes(), str(path)
        except FileNotFoundError as exc:
            raise ScanFileNotFoundError(f"{path}: no such file; check the path") from exc
        except IsADirectoryError as exc:
            raise ScanFileNotFoundError(
                f"{path} is a directory; give a scan file (or list the files in it)"
            ) from exc
        except OSError as exc:
            raise ScanFileNotFoundError(f"{path} cannot be read: {exc.strerror}") from exc
    read = getattr(source, "read", None)
    if callable(read):
        data = read()
        if not isinstance(data, bytes | bytearray):
            raise TypeError(
                f"the file object returned {type(data).__name__}, not bytes: open it in binary "
                "mode ('rb')"
            )
        name = getattr(source, "name", None)
        return bytes(data), str(name) if isinstance(name, str) else "<file object>"
    raise TypeError(
        "source must be a path, bytes, a binary file object or a pydicom Dataset, "
        f"got {type(source).__name__}"
    )


def _read(
    loaded: bytes | Dataset,
    name: str,
    conformance: Conformance,
    spacing: tuple[float, float] | None,
    polarity: Polarity | str | None,
    log_scale: float | None,
) -> Scan:
    if isinstance(loaded, Dataset):
        return _from_dataset(loaded, conformance, spacing)
    if not loaded:
        raise NotDicomError(f"{name} is empty (0 bytes); the transfer failed: send it again")
    fmt = _image.image_format(loaded)
    if fmt is not None:
        return _image.scan_from_image(
            loaded,
            fmt,
            conformance,
            pixel_spacing=spacing,
            polarity=polarity,
            log_scale=log_scale,
        )
    ds = _dicom.parse(loaded, conformance)
    return _from_dataset(ds, conformance, spacing)


def _from_dataset(
    ds: Dataset, conformance: Conformance, spacing: tuple[float, float] | None
) -> Scan:
    """Normalise a dataset; damage pydicom only finds on access becomes a typed error."""
    try:
        return _dicom.scan_from_dataset(ds, conformance, pixel_spacing=spacing)
    except ScanError:
        raise
    except Exception as exc:  # e.g. an element with a corrupt VR, parsed lazily
        raise UnsupportedScanError(
            f"{conformance.source} is damaged: reading it failed with {type(exc).__name__}: "
            f"{exc}. Copy or export the file again"
        ) from exc


def read_scan(
    source: ScanSource,
    *,
    validation: Validation | str = Validation.WARN,
    pixel_spacing: tuple[float, float] | None = None,
    polarity: Polarity | str | None = None,
    log_scale: float | None = None,
) -> Scan:
    """Read one scan and normalise it to attenuation.

    Parameters
    ----------
    source : path, bytes, binary file object or pydicom.Dataset
        A DICOM Part-10 file (DX For Presentation/Processing, CR or Secondary Capture), or a
        PNG/TIFF image.
    validation : Validation or str
        Policy for conformance problems: ``"ignore"``, ``"warn"`` (default: one
        :class:`~scanner.errors.ScanWarning` per problem) or ``"raise"``
        (:class:`~scanner.errors.NonConformantScanError`).
    pixel_spacing : tuple of float, optional
        (row, column) in mm. Required for PNG/TIFF; for DICOM used only when the file carries no
        spacing attribute (instead of the assumed default).
    polarity : Polarity or str, optional
        Required for PNG/TIFF: what the stored values mean (``"counts"``, ``"attenuation"``,
        ``"inverted-attenuation"``). Ignored for DICOM, which says it itself.
    log_scale : float, optional
        PNG/TIFF with an integer log polarity: stored units per natural-log unit.

    Returns
    -------
    Scan
        ``image`` float32 (rows, cols) line integral, spacing in mm with its source, metadata
        and the normalisation record.

    Raises
    ------
    ScanFileNotFoundError
        The path does not exist or cannot be read.
    NotDicomError, TruncatedFileError, MissingPixelDataError, UnsupportedScanError,
    MissingDecoderError
        Bad input; the message says what is wrong and how to fix it.
    ImageParametersError
        A PNG/TIFF without ``pixel_spacing`` or ``polarity``.
    NonConformantScanError
        A conformance problem under ``validation="raise"``.
    TypeError
        ``source`` is of an unsupported type.
    ValueError
        ``validation`` is not a policy name.
    """
    policy = Validation(validation)
    loaded, name = _load(source)
    conformance = Conformance(name)
    spacing = _image.check_spacing(pixel_spacing) if pixel_spacing is not None else None
    # pydicom's own warnings (invalid values, decoder remarks) pass through unchanged: capturing
    # them with warnings.catch_warnings would not be thread-safe, and every attribute used here
    # is checked explicitly and reported through the policy.
    scan = _read(loaded, name, conformance, spacing, polarity, log_scale)
    conformance.apply(policy)
    logger.debug(
        "read %s: %s, %d x %d, spacing %s (%s)",
        name,
        scan.normalisation.encoding,
        *scan.shape,
        scan.spacing,
        scan.spacing_source.value,
    )
    return scan
