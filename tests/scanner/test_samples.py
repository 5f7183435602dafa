"""The sample accessor: listing, paths, COCO annotations, and its messages."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from scanner import ScanFileNotFoundError, read_scan, samples
from scanner.encoding import encode_dicom
from tests.scanner.conftest import SPACING


@pytest.fixture
def sample_dir(tmp_path: Path, transmission: NDArray[np.float32]) -> Path:
    """Two scans (one in a sub-directory), a stray text file and a COCO file."""
    encode_dicom(transmission, SPACING, "lin-mono2-16").save_as(tmp_path / "b.dcm")
    (tmp_path / "more").mkdir()
    encode_dicom(transmission, SPACING, "log-neg-mono2-14").save_as(tmp_path / "more" / "a.dcm")
    (tmp_path / "notes.txt").write_text("not a scan")
    coco = {
        "images": [{"id": 1, "file_name": "b.dcm"}, {"id": 2, "file_name": "more/a.dcm"}],
        "annotations": [{"id": 7, "image_id": 1, "category_id": 3, "bbox": [10, 20, 30, 15]}],
        "categories": [{"id": 3, "name": "phone"}],
    }
    (tmp_path / samples.ANNOTATIONS_FILE).write_text(json.dumps(coco))
    return tmp_path


def test_env_var_selects_directory(sample_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SCANGUARD_SAMPLES_DIR redirects every function; scans are listed sorted, others skipped."""
    monkeypatch.setenv(samples.ENV_VAR, str(sample_dir))
    assert samples.samples_dir() == sample_dir
    assert samples.list_samples() == ["b.dcm", "more/a.dcm"]
    assert samples.sample_path("b.dcm") == sample_dir / "b.dcm"
    assert samples.sample_path("a.dcm") == sample_dir / "more" / "a.dcm"
    assert read_scan(samples.sample_path("more/a.dcm")).shape == (160, 96)


def test_directory_argument_wins(sample_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An explicit directory overrides the environment variable."""
    monkeypatch.setenv(samples.ENV_VAR, str(sample_dir / "more"))
    assert samples.list_samples(sample_dir) == ["b.dcm", "more/a.dcm"]
    assert samples.list_samples() == ["a.dcm"]


def test_annotations(sample_dir: Path) -> None:
    """COCO annotations load whole and per sample, with category names."""
    coco = samples.load_annotations(sample_dir)
    assert len(coco["images"]) == 2
    (ann,) = samples.sample_annotations("b.dcm", sample_dir)
    assert ann["category"] == "phone" and ann["bbox"] == [10, 20, 30, 15]
    assert samples.sample_annotations("a.dcm", sample_dir) == []


def test_unknown_sample_lists_available(sample_dir: Path) -> None:
    """A wrong name says so and lists what exists."""
    with pytest.raises(ScanFileNotFoundError, match=r"no sample named 'zzz.dcm' .*b\.dcm"):
        samples.sample_path("zzz.dcm", sample_dir)
    with pytest.raises(ScanFileNotFoundError, match=r"not listed in annotations\.json"):
        samples.sample_annotations("zzz.dcm", sample_dir)


def test_path_escape_refused(sample_dir: Path) -> None:
    """A name that climbs out of the samples directory is not served."""
    with pytest.raises(ScanFileNotFoundError, match="no sample named"):
        samples.sample_path("../" + sample_dir.name + "/b.dcm", sample_dir / "more")


def test_empty_or_missing_directory(tmp_path: Path) -> None:
    """No scans: listing is empty and the errors say how to get samples."""
    assert samples.list_samples(tmp_path / "missing") == []
    with pytest.raises(ScanFileNotFoundError, match="holds no scans; generate them"):
        samples.sample_path("x.dcm", tmp_path)
    with pytest.raises(
        ScanFileNotFoundError, match=r"no annotations\.json in .*SCANGUARD_SAMPLES_DIR"
    ):
        samples.load_annotations(tmp_path)


def test_malformed_annotations(tmp_path: Path) -> None:
    """A JSON file that is not COCO is refused with what is missing."""
    (tmp_path / samples.ANNOTATIONS_FILE).write_text('{"images": []}')
    with pytest.raises(ValueError, match="missing annotations, categories"):
        samples.load_annotations(tmp_path)
    (tmp_path / samples.ANNOTATIONS_FILE).write_text("{oops")
    with pytest.raises(ValueError, match="not valid JSON"):
        samples.load_annotations(tmp_path)


def test_shipped_samples(monkeypatch: pytest.MonkeyPatch) -> None:
    """The repository's samples: consistent with their COCO file, or a clear message if absent."""
    monkeypatch.delenv(samples.ENV_VAR, raising=False)
    root = samples.samples_dir()
    assert root == Path(samples.__file__).resolve().parent.parent / "sample_scans"
    if not (root / samples.ANNOTATIONS_FILE).exists():
        with pytest.raises(ScanFileNotFoundError, match=r"no annotations\.json in"):
            samples.load_annotations()
        return
    coco = samples.load_annotations()
    names = samples.list_samples()
    assert names, "annotations.json exists but no scan files beside it"
    for image in coco["images"]:
        assert samples.sample_path(image["file_name"]).is_file()
    scan = read_scan(samples.sample_path(names[0]), validation="raise")
    assert scan.image.ndim == 2
