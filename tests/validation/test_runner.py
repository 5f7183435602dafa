"""The per-file scoring function and the pool runner."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

from models.manifest import Thresholds
from scanner.scan import Scan
from tests.validation import fakes
from validation import (
    BenchConfigError,
    DetectorLoadError,
    ScanStatus,
    run_files,
    runner,
    score_file,
)


def _warning_reader(path: str) -> Scan:
    from scanner import read_scan

    warnings.warn("spacing assumed", UserWarning, stacklevel=1)
    return read_scan(path)


def _refusing_reader(path: str) -> Scan:
    raise OSError("device not ready")


def test_score_file_outcomes(tiny_set: tuple[Path, dict[str, str]]) -> None:
    """Scored, missing and garbage files give OK, MISSING and UNREADABLE records."""
    root, _ = tiny_set
    records = run_files(
        [root / "s1.dcm", root / "s7.dcm", root / "s8.dcm"],
        detector=fakes.TableDetector({}),
        progress=False,
    )
    assert [r.status for r in records] == [
        ScanStatus.OK,
        ScanStatus.MISSING,
        ScanStatus.UNREADABLE,
    ]
    assert records[0].result is not None and records[0].latency_ms > 0
    assert records[2].error is not None and records[2].error.startswith("NotDicomError")


def test_reader_is_injectable_and_warnings_kept(tiny_set: tuple[Path, dict[str, str]]) -> None:
    """A custom reader is used; its warnings are kept on the record, errors make it unreadable."""
    root, _ = tiny_set
    (ok,) = run_files(
        [root / "s1.dcm"], detector=fakes.TableDetector({}), reader=_warning_reader, progress=False
    )
    assert ok.warnings == ("UserWarning: spacing assumed",)
    (bad,) = run_files(
        [root / "s1.dcm"], detector=fakes.TableDetector({}), reader=_refusing_reader, progress=False
    )
    assert bad.status is ScanStatus.UNREADABLE and bad.error == "OSError: device not ready"


def test_factory_detector_built_once(tiny_set: tuple[Path, dict[str, str]]) -> None:
    """A zero-argument factory is called once per process, not once per scan."""
    root, _ = tiny_set
    calls: list[int] = []

    def factory() -> fakes.TableDetector:
        calls.append(1)
        return fakes.TableDetector({})

    records = run_files([root / "s1.dcm", root / "s2.dcm"], detector=factory, progress=False)
    assert all(r.ok for r in records) and calls == [1]


def test_model_path_loads_once_with_thread_setting(
    tiny_set: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without an injected detector, the loader hook is called once for the model path."""
    loads: list[tuple[str | None, int | None]] = []

    def load(path: str | None, threads: int | None) -> fakes.TableDetector:
        loads.append((path, threads))
        return fakes.TableDetector({})

    monkeypatch.setattr(runner, "detector_loader", load)
    monkeypatch.setattr(runner._STATE, "detectors", {})
    root, _ = tiny_set
    for name in ("s1.dcm", "s2.dcm"):
        assert score_file(root / name, "model.onnx").ok
    assert loads == [("model.onnx", None)]


@pytest.mark.parametrize("jobs", [0, -1, 1.5, True])
def test_bad_jobs(jobs: object) -> None:
    """jobs must be an int >= 1."""
    with pytest.raises(BenchConfigError, match="jobs must be a whole number"):
        run_files([], jobs=jobs, progress=False)  # type: ignore[arg-type]


class _Manifest(BaseModel):
    model_config = ConfigDict(frozen=True)
    thresholds: Thresholds


class _ModelBacked(fakes.TableDetector):
    def __init__(self) -> None:
        super().__init__({})
        self.manifest = _Manifest(thresholds=Thresholds())


def test_report_all_peaks_lowers_only_the_report_threshold() -> None:
    """all_peaks sets the report threshold to 0 and leaves the decision thresholds alone."""
    det = _ModelBacked()
    before = det.manifest.thresholds
    assert runner.report_all_peaks(det)
    after = det.manifest.thresholds
    assert after.report_min_confidence == 0.0 and before.report_min_confidence > 0.0
    assert (after.alarm, after.clear_below) == (before.alarm, before.clear_below)
    assert not runner.report_all_peaks(fakes.TableDetector({}))


def _broken_factory() -> fakes.TableDetector:
    raise DetectorLoadError("cannot load the detector from broken.onnx")


def test_detector_load_failure_is_fatal_in_pool(tiny_set: tuple[Path, dict[str, str]]) -> None:
    """A detector that cannot load stops the whole run (in a worker pool too)."""
    root, _ = tiny_set
    files = [root / f"s{i}.dcm" for i in range(1, 7)]
    with pytest.raises(DetectorLoadError, match=r"broken\.onnx"):
        run_files(files, jobs=2, detector=_broken_factory, progress=False)
