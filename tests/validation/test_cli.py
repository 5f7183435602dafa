"""``scanguard bench`` end to end with a fake detector, and its exit codes for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scanguard.cli import main
from tests.validation import fakes
from validation import runner


@pytest.fixture
def fake_model(
    monkeypatch: pytest.MonkeyPatch, planned_detector: fakes.TableDetector
) -> list[tuple[str | None, int | None]]:
    """Make every model path load the planned fake detector; records the loads."""
    loads: list[tuple[str | None, int | None]] = []

    def load(path: str | None, threads: int | None) -> fakes.TableDetector:
        loads.append((path, threads))
        return planned_detector

    monkeypatch.setattr(runner, "detector_loader", load)
    return loads


def test_bench_end_to_end(
    tiny_set: tuple[Path, dict[str, str]],
    fake_model: list[tuple[str | None, int | None]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The command writes the four files, prints a summary and lists the failed scans."""
    model = tmp_path / "m.onnx"
    model.write_bytes(b"fake")
    out = tmp_path / "out"
    code = main(
        [
            "bench",
            str(tiny_set[0]),
            "--out",
            str(out),
            "--jobs",
            "1",
            "--model",
            str(model),
            "--bootstrap",
            "20",
            "--no-progress",
        ]
    )
    assert code == 0
    assert fake_model == [(str(model), None)]  # loaded once
    for name in ("predictions.json", "scans.json", "report.json", "report.html"):
        assert (out / name).is_file()
    report = json.loads((out / "report.json").read_text())
    assert report["detection"]["phone"]["ap50"] == pytest.approx(67 / 101)
    captured = capsys.readouterr()
    assert "8 scans (4 positive, 2 failed)" in captured.out
    assert "s7.dcm" in captured.err and "s8.dcm" in captured.err


def test_no_scan_scored_exits_1(
    tmp_path: Path,
    fake_model: list[tuple[str | None, int | None]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """When every file fails the command still writes reports but exits 1."""
    fakes.write_set(tmp_path / "set", [{"id": 1, "file_name": "x.dcm"}], [], missing=["x.dcm"])
    code = main(
        [
            "bench",
            str(tmp_path / "set"),
            "--out",
            str(tmp_path / "o"),
            "--jobs",
            "1",
            "--no-progress",
            "--bootstrap",
            "0",
        ]
    )
    assert code == 1
    assert "no scan could be scored" in capsys.readouterr().err
    assert (tmp_path / "o" / "report.html").is_file()


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["{missing}"], "does not exist"),
        (["{bad_json}"], "annotations.json: missing key 'images'"),
        (["{empty}"], "annotations file .* not found"),
        (
            ["{empty}", "--annotations", "{bad_json}/annotations.json", "--model", "/no/m.onnx"],
            "model file /no/m.onnx not found",
        ),
    ],
)
def test_bad_input_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], match: str
) -> None:
    """Missing folder, malformed or missing annotations, missing model: message and exit 2."""
    (tmp_path / "bad_json").mkdir()
    (tmp_path / "bad_json" / "annotations.json").write_text('{"categories": []}')
    (tmp_path / "empty").mkdir()
    paths = {k: str(tmp_path / k) for k in ("missing", "bad_json", "empty")}
    argv = ["bench", *(a.format(**paths) for a in args), "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "scanguard bench: error:" in err
    import re

    assert re.search(match, err), err


@pytest.mark.parametrize("jobs", ["0", "-3", "two"])
def test_bad_jobs_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], jobs: str) -> None:
    """--jobs must be a whole number >= 1: argparse usage error, exit 2."""
    with pytest.raises(SystemExit) as exc:
        main(["bench", str(tmp_path), "--jobs", jobs])
    assert exc.value.code == 2
    assert "argument --jobs: expected a whole number >= 1" in capsys.readouterr().err


def test_png_set_needs_spacing_and_polarity(
    tmp_path: Path,
    fake_model: list[tuple[str | None, int | None]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A 16-bit PNG set is read with --pixel-spacing and --polarity; without them it fails."""
    import numpy as np
    from PIL import Image

    root = tmp_path / "png"
    root.mkdir()
    counts = np.full((64, 48), 30000, dtype=np.uint16)
    counts[20:40, 10:30] = 9000
    Image.fromarray(counts).save(root / "p1.png")
    doc = {
        "images": [{"id": 1, "file_name": "p1.png"}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 20, 20, 20]}],
        "categories": [{"id": 1, "name": "phone"}],
    }
    (root / "annotations.json").write_text(json.dumps(doc))
    base = ["bench", str(root), "--jobs", "1", "--no-progress", "--bootstrap", "0"]
    assert main([*base, "--out", str(tmp_path / "o1")]) == 1
    assert "pixel_spacing" in capsys.readouterr().err
    code = main(
        [*base, "--out", str(tmp_path / "o2"), "--pixel-spacing", "2", "2", "--polarity", "counts"]
    )
    assert code == 0
    scans = json.loads((tmp_path / "o2" / "scans.json").read_text())
    assert scans[0]["status"] == "ok" and scans[0]["score"] == 0.0
