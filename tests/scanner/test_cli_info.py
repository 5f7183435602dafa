"""``scanguard info`` reports what ingest reads, file by file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from scanguard.cli import main
from scanner.encoding import encode_dicom
from scanner.scan import ScanMetadata
from tests.scanner.conftest import SPACING


@pytest.fixture
def files(tmp_path: Path, transmission: NDArray[np.float32]) -> list[Path]:
    """A LIN file, a compressed LOG file without spacing and a broken file, in that order."""
    meta = ScanMetadata(manufacturer="Acme Security", manufacturer_model_name="BodyScan 9")
    good = tmp_path / "a_lin.dcm"
    encode_dicom(transmission, SPACING, "lin-mono1-14", meta).save_as(good)
    nospacing = tmp_path / "b_nospacing.dcm"
    encode_dicom(transmission, SPACING, "lin-nospacing-16").save_as(nospacing)
    broken = tmp_path / "c_broken.dcm"
    broken.write_bytes(b"not a scan at all" * 20)
    return [good, broken, nospacing]


def test_text_report_continues_after_a_bad_file(
    files: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Each file gets its block; the broken one shows its error; exit status is 1."""
    code = main(["info", *map(str, files)])
    out = capsys.readouterr().out
    assert code == 1
    good_block, rest = out.split(str(files[1]), 1)
    assert "Acme Security BodyScan 9" in good_block
    assert "LIN counts, sign +1, MONOCHROME1, 14 bit" in good_block
    assert "2 x 1.5 mm (PixelSpacing)" in good_block
    assert "160 x 96 px = 320 x 144 mm" in good_block
    assert "air level I_air = 13106" in good_block
    assert "ERROR NotDicomError: " in rest
    assert "1 x 1 mm (assumed)" in rest
    assert "WARNING " in rest and "no Pixel Spacing" in rest
    assert "3 file(s): 2 read, 1 failed" in out


def test_all_good_exits_zero(files: list[Path], capsys: pytest.CaptureFixture[str]) -> None:
    """Only readable files: exit status 0."""
    assert main(["info", str(files[0])]) == 0
    assert "1 file(s): 1 read, 0 failed" in capsys.readouterr().out


def test_json_report(files: list[Path], capsys: pytest.CaptureFixture[str]) -> None:
    """--json prints one object per file with the attenuation range and spacing source."""
    code = main(["info", "--json", *map(str, files)])
    reports = json.loads(capsys.readouterr().out)
    assert code == 1
    assert [r["ok"] for r in reports] == [True, False, True]
    first = reports[0]
    assert first["spacing_mm"] == list(SPACING) and first["spacing_source"] == "PixelSpacing"
    assert first["stored_shape"] == [160, 96]
    assert 0.0 <= first["attenuation"]["p99"] <= first["attenuation"]["max"] < 5.0
    assert first["normalisation"]["pixel_intensity_relationship"] == "LIN"
    assert reports[1]["error"] == "NotDicomError"
    assert reports[2]["spacing_source"] == "assumed" and reports[2]["warnings"]


def test_validation_raise_fails_nonconformant(
    files: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """--validation raise turns the missing spacing into a failure."""
    assert main(["info", "--validation", "raise", str(files[2])]) == 1
    assert "ERROR NonConformantScanError" in capsys.readouterr().out


def test_directory_and_caller_spacing(
    files: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A directory expands to its scan files; --pixel-spacing fills a missing spacing."""
    files[1].unlink()
    assert main(["info", "--pixel-spacing", "0.5", "0.5", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "0.5 x 0.5 mm (caller)" in out and "2 x 1.5 mm (PixelSpacing)" in out


def test_missing_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A path that does not exist is reported, not a traceback."""
    assert main(["info", str(tmp_path / "nope.dcm")]) == 1
    assert "ERROR ScanFileNotFoundError" in capsys.readouterr().out


def test_png_needs_and_takes_parameters(
    tmp_path: Path, attenuation: NDArray[np.float32], capsys: pytest.CaptureFixture[str]
) -> None:
    """A PNG fails without spacing/polarity and reads with --pixel-spacing and --polarity."""
    import imageio.v3 as iio

    counts = np.rint(50000 * np.exp(-attenuation.astype(np.float64))).astype(np.uint16)
    png = tmp_path / "scan.png"
    iio.imwrite(png, counts)
    assert main(["info", str(png)]) == 1
    assert "ImageParametersError" in capsys.readouterr().out
    assert main(["info", "--pixel-spacing", "1", "2", "--polarity", "counts", str(png)]) == 0
    out = capsys.readouterr().out
    assert "PNG uint16, polarity counts" in out and "1 x 2 mm (caller)" in out
