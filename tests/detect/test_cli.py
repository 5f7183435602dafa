"""``scanguard detect``: text, JSON and PNG output, errors per file."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from detect import Decision, Result
from scanguard.cli import main
from scanner.encoding import encode_dicom
from tests.detect.conftest import WriteModel, add_object, synthetic_body

SPACING = (1.0, 0.8)


def _write_dicom(path: Path, with_phone: bool) -> None:
    body = synthetic_body(spacing=SPACING)
    att = body.image.copy()
    if with_phone:
        add_object(att, SPACING, (820.0, 324.0), (16.0, 16.0), 4.0)
    encode_dicom(np.exp(-att), SPACING, "lin-mono2-16").save_as(path)


@pytest.fixture
def scans(tmp_path: Path) -> tuple[Path, Path]:
    """A phone-bearing and a clean DICOM scan."""
    phone, clean = tmp_path / "phone.dcm", tmp_path / "clean.dcm"
    _write_dicom(phone, True)
    _write_dicom(clean, False)
    return phone, clean


def test_text_output(
    scans: tuple[Path, Path], write_model: WriteModel, capsys: pytest.CaptureFixture[str]
) -> None:
    """The summary names each file, its decision, findings with zone, and timings."""
    files = write_model()
    code = main(["detect", str(scans[0]), str(scans[1]), "--model", str(files.model)])
    out = capsys.readouterr().out
    assert code == 0
    assert "model tiny-test 0.0.1" in out
    assert f"{scans[0]}: ALARM" in out
    assert f"{scans[1]}: CLEAR" in out
    assert "phone" in out and "abdomen" in out
    assert out.count("timings: decode") == 2
    assert "spacing" not in out  # both files state theirs


def test_text_output_says_when_the_spacing_was_not_stated(
    tmp_path: Path, write_model: WriteModel, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file without any spacing gets a line saying how its sizes in mm were found."""
    body = synthetic_body(spacing=SPACING)
    path = tmp_path / "nospacing.dcm"
    encode_dicom(np.exp(-body.image), SPACING, "lin-nospacing-16").save_as(path)
    files = write_model()
    main(["detect", str(path), "--model", str(files.model)])
    out = capsys.readouterr().out
    assert ("estimated from the person's height" in out) != ("1 mm assumed" in out)
    main(["detect", str(tmp_path / "nospacing.dcm"), "--model", str(files.model), "--json"])
    source = json.loads(capsys.readouterr().out)["image"]["spacing_source"]
    assert source in ("estimated", "assumed")


def test_text_output_says_when_the_scan_was_stored_upside_down(
    tmp_path: Path, write_model: WriteModel, capsys: pytest.CaptureFixture[str]
) -> None:
    """A scan stored upside down is analysed upright, and the summary says so."""
    body = synthetic_body(spacing=SPACING)
    path = tmp_path / "upside_down.dcm"
    encode_dicom(np.exp(-np.rot90(body.image, 2)), SPACING, "lin-mono2-16").save_as(path)
    files = write_model()
    main(["detect", str(path), "--model", str(files.model)])
    assert "stored upside down: analysed upright" in capsys.readouterr().out
    main(["detect", str(path), "--model", str(files.model), "--json"])
    assert json.loads(capsys.readouterr().out)["image"]["upright_turns"] == 2


def test_json_output(
    scans: tuple[Path, Path], write_model: WriteModel, capsys: pytest.CaptureFixture[str]
) -> None:
    """--json prints one Result JSON per file, in order, with decode time measured."""
    files = write_model()
    code = main(["detect", "--json", str(scans[0]), str(scans[1]), "--model", str(files.model)])
    lines = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    results = [Result.model_validate(json.loads(line)) for line in lines]
    assert [r.decision for r in results] == [Decision.ALARM, Decision.CLEAR]
    assert results[0].findings[0].zone.value == "abdomen"
    assert results[0].timings.decode_ms > 0.0
    assert results[0].sop_instance_uid


def test_png_output(scans: tuple[Path, Path], write_model: WriteModel, tmp_path: Path) -> None:
    """--png writes one PNG per file, at the scan's size, with the box drawn in red."""
    files = write_model()
    out_dir = tmp_path / "png"
    assert main(["detect", str(scans[0]), "--png", str(out_dir), "--model", str(files.model)]) == 0
    img = np.asarray(Image.open(io.BytesIO((out_dir / "phone.png").read_bytes())))
    assert img.shape == (2000, 800, 3)
    red = (img[..., 0] > 200) & (img[..., 1] < 80) & (img[..., 2] < 80)
    # the finding's box is x 360..450, y 744..896 (see test_detector), outlined in phone red
    assert red[760:880, 361].all() and red[760:880, 448].all()
    assert red[745, 370:440].all() and red[894, 370:440].all()
    assert not red[770:870, 380:430].any()
    assert not red[1000:].any()


def test_unreadable_file_continues_and_fails(
    scans: tuple[Path, Path],
    write_model: WriteModel,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A bad file is reported on stderr, the others are still processed, exit status is 1."""
    bad = tmp_path / "junk.dcm"
    bad.write_bytes(b"this is not a scan")
    files = write_model()
    code = main(["detect", str(bad), str(scans[1]), "--model", str(files.model)])
    captured = capsys.readouterr()
    assert code == 1
    assert "junk.dcm" in captured.err and "1 of 2 file(s) failed" in captured.err
    assert f"{scans[1]}: CLEAR" in captured.out


def test_missing_model_exit_status(
    scans: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A model without a manifest fails with status 2 and says how to fix it."""
    code = main(["detect", str(scans[1]), "--model", str(tmp_path / "none.onnx")])
    assert code == 2
    assert "cannot read model manifest" in capsys.readouterr().err


def test_tiff_input_with_spacing_and_polarity(
    write_model: WriteModel, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A float TIFF of attenuation is read with --pixel-spacing and --polarity."""
    body = synthetic_body(spacing=SPACING)
    att = body.image.copy()
    add_object(att, SPACING, (820.0, 324.0), (16.0, 16.0), 4.0)
    tiff = tmp_path / "scan.tiff"
    Image.fromarray(att.astype(np.float32), mode="F").save(tiff)
    files = write_model()
    argv = ["detect", str(tiff), "--model", str(files.model), "--json"]
    assert main([*argv, "--pixel-spacing", "1.0", "0.8", "--polarity", "attenuation"]) == 0
    result = Result.model_validate_json(capsys.readouterr().out.strip())
    assert result.decision is Decision.ALARM
    assert result.image.spacing_mm == SPACING
    assert main(argv) == 1
    assert "scan.tiff" in capsys.readouterr().err
