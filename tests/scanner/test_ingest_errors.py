"""Bad input raises a typed scanner error whose message says what is wrong and what to do."""

from __future__ import annotations

import io
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pydicom
import pytest
from numpy.typing import NDArray
from pydicom.dataset import Dataset
from pydicom.pixels import get_decoder
from pydicom.uid import MPEG2MPML, JPEG2000Lossless, JPEGLSLossless, RLELossless

from scanner import (
    ImageParametersError,
    MissingDecoderError,
    MissingPixelDataError,
    NotDicomError,
    ScanError,
    ScanFileNotFoundError,
    TruncatedFileError,
    UnsupportedScanError,
    read_scan,
)
from scanner.encoding import encode_dicom
from tests.scanner.conftest import SPACING


def _bytes(ds: Dataset) -> bytes:
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


@pytest.fixture
def good(transmission: NDArray[np.float32]) -> Dataset:
    """A conformant uncompressed LIN dataset (fresh copy per test)."""
    return encode_dicom(transmission, SPACING, "lin-mono2-16")


def test_not_dicom() -> None:
    """Arbitrary bytes are refused as not DICOM, naming the accepted formats."""
    with pytest.raises(NotDicomError, match=r"is not a DICOM file .* nor a PNG/TIFF"):
        read_scan(b"%PDF-1.7 this is a report, not a scan " * 20)


def test_empty_file(tmp_path: Path) -> None:
    """A zero-byte file says the transfer failed."""
    path = tmp_path / "empty.dcm"
    path.write_bytes(b"")
    with pytest.raises(NotDicomError, match=r"empty \(0 bytes\).*send it again"):
        read_scan(path)


def test_missing_file(tmp_path: Path) -> None:
    """A path that does not exist raises ScanFileNotFoundError (also a FileNotFoundError)."""
    with pytest.raises(ScanFileNotFoundError, match="no such file; check the path"):
        read_scan(tmp_path / "nope.dcm")
    assert issubclass(ScanFileNotFoundError, FileNotFoundError)


def test_directory_is_not_a_scan(tmp_path: Path) -> None:
    """A directory is refused with a hint to list its files."""
    with pytest.raises(ScanFileNotFoundError, match="is a directory"):
        read_scan(tmp_path)


@pytest.mark.parametrize("fraction", [0.5, 0.999])
def test_truncated_uncompressed(good: Dataset, fraction: float) -> None:
    """Cutting an uncompressed file short is reported as truncated."""
    data = _bytes(good)
    with pytest.raises(TruncatedFileError, match="truncated; copy or export it again"):
        read_scan(data[: int(len(data) * fraction)])


@pytest.mark.filterwarnings("ignore:End of file reached before delimiter:UserWarning")
@pytest.mark.parametrize("ts", [RLELossless, JPEGLSLossless, JPEG2000Lossless])
def test_truncated_compressed(transmission: NDArray[np.float32], ts: str) -> None:
    """Cutting a compressed file inside its pixel data is reported as truncated."""
    ds = encode_dicom(transmission, SPACING, "lin-mono2-16")
    ds.compress(ts, generate_instance_uid=False)
    data = _bytes(ds)
    with pytest.raises(TruncatedFileError, match="ends inside its Pixel Data"):
        read_scan(data[: len(data) * 2 // 3])


def test_truncated_header(good: Dataset) -> None:
    """A file cut inside its header is reported as truncated."""
    with pytest.raises(TruncatedFileError, match="ends inside its DICOM header"):
        read_scan(_bytes(good)[:200])


def test_no_pixel_data(good: Dataset) -> None:
    """A DICOM object without Pixel Data is refused, suggesting what it might be."""
    del good.PixelData
    with pytest.raises(MissingPixelDataError, match=r"no Pixel Data \(7FE0,0010\)"):
        read_scan(_bytes(good))


def test_multi_frame(good: Dataset) -> None:
    """A two-frame image is refused with the advice to export frames separately."""
    good.NumberOfFrames = 2
    good.PixelData = good.PixelData * 2
    with pytest.raises(UnsupportedScanError, match=r"multi-frame image \(2 frames\)"):
        read_scan(_bytes(good))


def test_colour(good: Dataset) -> None:
    """An RGB image is refused as colour."""
    rows, cols = good.Rows, good.Columns
    good.SamplesPerPixel = 3
    good.PhotometricInterpretation = "RGB"
    good.PlanarConfiguration = 0
    good.BitsAllocated = good.BitsStored = 8
    good.HighBit = 7
    good.PixelData = np.zeros((rows, cols, 3), np.uint8).tobytes()
    with pytest.raises(UnsupportedScanError, match=r"colour image .*RGB, 3 samples per pixel"):
        read_scan(_bytes(good))


@pytest.mark.parametrize(("rows", "cols"), [(0, 0), (0, 96), (4, 4), (60000, 96)])
def test_implausible_dimensions(good: Dataset, rows: int, cols: int) -> None:
    """Empty, tiny and absurdly large sizes are refused before decoding."""
    good.Rows, good.Columns = rows, cols
    with pytest.raises(UnsupportedScanError, match=f"implausible image size of {rows} x {cols}"):
        read_scan(_bytes(good))


def test_float_pixel_data(good: Dataset) -> None:
    """Float Pixel Data is refused with the advice to export integers."""
    del good.PixelData
    good.FloatPixelData = np.zeros(good.Rows * good.Columns, np.float32).tobytes()
    with pytest.raises(UnsupportedScanError, match="floating-point pixel data"):
        read_scan(_bytes(good))


def test_32_bit(good: Dataset) -> None:
    """32-bit allocated pixels are refused."""
    good.BitsAllocated = 32
    good.PixelData = np.zeros(good.Rows * good.Columns, np.uint32).tobytes()
    with pytest.raises(UnsupportedScanError, match="Bits Allocated 32"):
        read_scan(_bytes(good))


def test_missing_decoder(
    monkeypatch: pytest.MonkeyPatch, transmission: NDArray[np.float32]
) -> None:
    """Without the JPEG 2000 plug-ins the error names the packages to install."""
    data = _bytes(encode_dicom(transmission, SPACING, "lin-j2k-16"))
    decoder = get_decoder(JPEG2000Lossless)
    monkeypatch.setattr(decoder, "_available", {})
    monkeypatch.setattr(
        decoder, "_unavailable", {"pylibjpeg": ("numpy", "pylibjpeg", "pylibjpeg-openjpeg")}
    )
    with pytest.raises(MissingDecoderError, match="install pylibjpeg and pylibjpeg-openjpeg"):
        read_scan(data)


def test_unknown_compression(good: Dataset) -> None:
    """A transfer syntax with no decoder at all (video) is refused with a conversion hint."""
    good.file_meta.TransferSyntaxUID = MPEG2MPML
    good.PixelData = pydicom.encaps.encapsulate([b"\x00" * 64])
    with pytest.raises(MissingDecoderError, match=r"no decoder exists.*gdcmconv --raw"):
        read_scan(_bytes(good))


def test_corrupt_compressed_stream(transmission: NDArray[np.float32]) -> None:
    """A JPEG-LS stream replaced by garbage is reported as undecodable, not a bare traceback."""
    ds = encode_dicom(transmission, SPACING, "log-jpegls-14")
    ds.PixelData = pydicom.encaps.encapsulate([b"\xff\xd8" + b"\x13" * 500])
    with pytest.raises(UnsupportedScanError, match="could not be decoded"):
        read_scan(_bytes(ds))


def test_wrong_source_type() -> None:
    """A non-file source raises TypeError listing what is accepted."""
    with pytest.raises(TypeError, match="path, bytes, a binary file object or a pydicom"):
        read_scan(3.14)  # type: ignore[arg-type]


def test_text_mode_file(tmp_path: Path) -> None:
    """A file opened in text mode is refused with the fix."""
    path = tmp_path / "scan.txt"
    path.write_text("hello")
    with path.open() as fh, pytest.raises(TypeError, match="binary mode"):
        read_scan(fh)  # type: ignore[arg-type]


def _png(arr: NDArray[np.generic]) -> bytes:
    return bytes(iio.imwrite("<bytes>", arr, extension=".png"))


def test_png_without_spacing() -> None:
    """A PNG needs pixel_spacing (and polarity): the message says how to pass them."""
    data = _png(np.full((64, 64), 1000, np.uint16))
    with pytest.raises(ImageParametersError, match="pass pixel_spacing to read_scan"):
        read_scan(data, polarity="counts")
    with pytest.raises(ImageParametersError, match="pass pixel_spacing and polarity"):
        read_scan(data)


def test_png_bad_polarity() -> None:
    """An unknown polarity lists the valid ones."""
    data = _png(np.full((64, 64), 1000, np.uint16))
    with pytest.raises(ImageParametersError, match="counts, attenuation, inverted-attenuation"):
        read_scan(data, pixel_spacing=(1, 1), polarity="bright")


@pytest.mark.parametrize("spacing", [(0, 1), (1,), "1x1", (float("nan"), 1)])
def test_bad_caller_spacing(spacing: object) -> None:
    """A pixel_spacing that is not two positive numbers is refused."""
    data = _png(np.full((64, 64), 1000, np.uint16))
    with pytest.raises(ImageParametersError, match="pixel_spacing must be"):
        read_scan(data, pixel_spacing=spacing, polarity="counts")  # type: ignore[arg-type]


def test_colour_png() -> None:
    """An RGB PNG is refused as colour."""
    data = _png(np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(UnsupportedScanError, match="colour or multi-page PNG"):
        read_scan(data, pixel_spacing=(1, 1), polarity="counts")


def test_truncated_png() -> None:
    """A PNG cut short is reported as damaged."""
    data = _png((np.arange(64 * 64).reshape(64, 64) * 7).astype(np.uint16))
    with pytest.raises(NotDicomError, match=r"could not be decoded .*damaged or truncated"):
        read_scan(data[: len(data) // 2], pixel_spacing=(1, 1), polarity="counts")


def test_every_error_is_a_scan_error() -> None:
    """All typed errors derive from ScanError so callers can catch one class."""
    for cls in (
        ImageParametersError,
        MissingDecoderError,
        MissingPixelDataError,
        NotDicomError,
        ScanFileNotFoundError,
        TruncatedFileError,
        UnsupportedScanError,
    ):
        assert issubclass(cls, ScanError)


def test_lin_image_without_air(good: Dataset) -> None:
    """A LIN image whose counts are all zero cannot be normalised and says why."""
    good.PixelData = np.zeros(good.Rows * good.Columns, np.uint16).tobytes()
    with pytest.raises(UnsupportedScanError, match=r"LIN image without any bright \(air\) region"):
        read_scan(good)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("preset", ["lin-mono2-16", "lin-rle-16", "log-jpegls-14", "lin-j2k-16"])
def test_corrupted_files_never_leak_library_errors(
    transmission: NDArray[np.float32], preset: str
) -> None:
    """Randomly damaged files (seeded) either read or raise a ScanError, nothing else."""
    base = _bytes(encode_dicom(transmission, SPACING, preset))
    rng = np.random.default_rng(2024)
    outcomes: set[str] = set()
    for _ in range(40):
        data = bytearray(base)
        if rng.random() < 0.3:
            data = data[: int(rng.integers(0, len(data)))]
        else:
            span = 1200 if rng.random() < 0.5 else len(data)  # header, or anywhere
            for _ in range(int(rng.integers(1, 8))):
                data[int(rng.integers(0, min(span, len(data))))] = int(rng.integers(256))
        try:
            read_scan(bytes(data))
            outcomes.add("read")
        except ScanError as exc:
            outcomes.add(type(exc).__name__)
    assert len(outcomes) >= 2  # the damage is real: some files fail
