"""Run a detector over scan files, one plain function per file, in a process pool.

The per-scan work is :func:`score_file`, a plain function of ``(file, model_path)``: any engine
that maps a function over items (this module's process pool, a Dask cluster) can run it. Each
worker process loads its detector once (onnxruntime limited to one thread per worker when several
workers share the machine) and keeps it for every file it scores.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import multiprocessing
import os
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from validation.errors import BenchConfigError, DetectorLoadError

if TYPE_CHECKING:
    from detect.result import Result, SupportsDetect
    from scanner.scan import Scan

logger = logging.getLogger(__name__)

#: Reads one file into a normalised scan (``scanner.read_scan`` by default).
ScanReader = Callable[[str], "Scan"]


class ScanStatus(StrEnum):
    """Outcome of one scan of the bench."""

    OK = "ok"
    #: The annotated file does not exist.
    MISSING = "missing"
    #: The file exists but could not be read as a scan.
    UNREADABLE = "unreadable"
    #: The scan was read but the detector failed on it.
    DETECT_FAILED = "detect-failed"


@dataclass(frozen=True)
class ScanRecord:
    """What the bench keeps of one scan.

    Attributes
    ----------
    path : str
        File scored.
    status : ScanStatus
    result : Result or None
        Detector output (None unless ``status`` is OK).
    latency_ms : float
        Wall time to read and detect the scan, in ms (0 when it failed).
    error : str or None
        ``"ExceptionType: message"`` when the scan failed.
    warnings : tuple of str
        Warnings raised while reading and scoring (conformance problems of the file).
    """

    path: str
    status: ScanStatus
    result: Result | None = None
    latency_ms: float = 0.0
    error: str | None = None
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the scan was read and scored."""
        return self.status is ScanStatus.OK


def default_reader(path: str) -> Scan:
    """Read ``path`` with ``scanner.read_scan`` (conformance problems as warnings)."""
    from scanner import read_scan

    return read_scan(path, validation="warn")


def _read_with(
    path: str,
    pixel_spacing: tuple[float, float] | None,
    polarity: str | None,
    log_scale: float | None,
) -> Scan:
    from scanner import read_scan

    return read_scan(
        path,
        validation="warn",
        pixel_spacing=pixel_spacing,
        polarity=polarity,
        log_scale=log_scale,
    )


def make_reader(
    pixel_spacing: tuple[float, float] | None = None,
    polarity: str | None = None,
    log_scale: float | None = None,
) -> ScanReader:
    """A picklable ``reader(path) -> Scan`` for sets of PNG/TIFF images.

    Parameters are those of ``scanner.read_scan`` (DICOM files ignore them, as they carry their
    own spacing and polarity).
    """
    spacing = None if pixel_spacing is None else (float(pixel_spacing[0]), float(pixel_spacing[1]))
    return functools.partial(
        _read_with, pixel_spacing=spacing, polarity=polarity, log_scale=log_scale
    )


def load_model_detector(model_path: str | None, threads: int | None = None) -> SupportsDetect:
    """Load the ONNX detector at ``model_path`` (the shipped model when None).

    Parameters
    ----------
    model_path : str, optional
        ONNX model with its ``manifest.json`` beside it.
    threads : int, optional
        onnxruntime intra-op threads (None: onnxruntime's default).

    Raises
    ------
    DetectorLoadError
        The detect package or the model cannot be loaded.
    """
    try:
        import detect
    except ImportError as exc:
        raise DetectorLoadError(f"cannot import the detect package: {exc}") from exc
    detector_cls = getattr(detect, "Detector", None)
    if detector_cls is None:
        raise DetectorLoadError(
            "this build of the detect package has no Detector; install the complete package"
        )
    try:
        detector: SupportsDetect = detector_cls(model_path=model_path, threads=threads)
    except Exception as exc:
        where = model_path or "the shipped model"
        raise DetectorLoadError(
            f"cannot load the detector from {where}: {exc}; check --model (an ONNX file with "
            "its manifest.json beside it)"
        ) from exc
    return detector


#: Hook used to build a detector from a model path in each worker; tests may replace it.
detector_loader: Callable[[str | None, int | None], SupportsDetect] = load_model_detector


class _WorkerState:
    """Per-process state: the detector (loaded once), the reader and the thread limit."""

    def __init__(self) -> None:
        self.detector: Any = None
        self.detectors: dict[str | None, SupportsDetect] = {}
        self.reader: ScanReader = default_reader
        self.threads: int | None = None
        self.all_peaks = False


_STATE = _WorkerState()


def _init_worker(
    detector: Any, reader: ScanReader | None, threads: int | None, all_peaks: bool = False
) -> None:
    """Pool initializer: install the injected detector, reader and options, limit threads."""
    if threads is not None:
        os.environ["OMP_NUM_THREADS"] = str(threads)
        try:
            from kernels import set_threads

            set_threads(threads)
        except Exception as exc:  # kernels absent or numba refusing: keep its default
            logger.debug("kernel threads unchanged: %s", exc)
    _STATE.detector = detector
    _STATE.reader = reader or default_reader
    _STATE.threads = threads
    _STATE.all_peaks = all_peaks


def _detector(model_path: str | None) -> SupportsDetect:
    if _STATE.detector is not None:
        if not hasattr(_STATE.detector, "detect") and callable(_STATE.detector):
            try:
                _STATE.detector = _STATE.detector()  # a factory: build once per process
            except DetectorLoadError:
                raise
            except Exception as exc:
                raise DetectorLoadError(f"the detector factory failed: {exc}") from exc
        detector: SupportsDetect = _STATE.detector
        return detector
    if model_path not in _STATE.detectors:
        loaded = detector_loader(model_path, _STATE.threads)
        if _STATE.all_peaks and not report_all_peaks(loaded):
            logger.warning("this detector has no manifest thresholds: all_peaks ignored")
        warmup = getattr(loaded, "warmup", None)
        if callable(warmup):  # one-off session set-up stays out of the first scan's latency
            warmup()
        _STATE.detectors[model_path] = loaded
    return _STATE.detectors[model_path]


def report_all_peaks(detector: Any) -> bool:
    """Make a model-backed detector report every decoded peak (report threshold 0).

    Scan scores and decisions do not change (they use every peak already); only the findings,
    hence the box metrics (AP, FROC), cover the full confidence range. Returns False when the
    detector has no ``manifest.thresholds`` to lower.
    """
    manifest = getattr(detector, "manifest", None)
    thresholds = getattr(manifest, "thresholds", None)
    if manifest is None or thresholds is None or not hasattr(manifest, "model_copy"):
        return False
    lowered = thresholds.model_copy(update={"report_min_confidence": 0.0})
    detector.manifest = manifest.model_copy(update={"thresholds": lowered})
    return True


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".strip()


def score_file(file: str | Path, model_path: str | None = None) -> ScanRecord:
    """Read one scan file and run the detector on it; never raises for a bad file.

    Parameters
    ----------
    file : str or Path
        Scan file (DICOM or an image the reader accepts).
    model_path : str, optional
        Model to use when no detector was installed in this process (shipped model when None).
        The detector is loaded on first use and kept for the life of the process.

    Returns
    -------
    ScanRecord
        Status OK with the ``Result``, or MISSING / UNREADABLE / DETECT_FAILED with the error.

    Raises
    ------
    DetectorLoadError
        The detector itself cannot be loaded (fatal for the whole run, not one scan).
    """
    path = str(file)
    if not os.path.isfile(path):
        return ScanRecord(path, ScanStatus.MISSING, error=f"file not found: {path}")
    detector = _detector(model_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        record = _score(path, detector)
    if caught:
        notes = tuple(dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught))
        record = dataclasses.replace(record, warnings=notes)
    return record


def _score(path: str, detector: SupportsDetect) -> ScanRecord:
    start = time.perf_counter()
    try:
        scan = _STATE.reader(path)
    except Exception as exc:  # any reader failure is one unreadable scan, never fatal
        logger.debug("cannot read %s: %s", path, exc)
        return ScanRecord(path, ScanStatus.UNREADABLE, error=_describe(exc))
    decode_ms = (time.perf_counter() - start) * 1000.0
    try:
        result = detector.detect(scan, decode_ms=decode_ms)
    except Exception as exc:
        logger.warning("detector failed on %s: %s", path, exc)
        logger.debug("%s", traceback.format_exc())
        return ScanRecord(path, ScanStatus.DETECT_FAILED, error=_describe(exc))
    latency_ms = (time.perf_counter() - start) * 1000.0
    return ScanRecord(path, ScanStatus.OK, result=result, latency_ms=latency_ms)


def _check_jobs(jobs: object) -> int:
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise BenchConfigError(f"jobs must be a whole number >= 1, got {jobs!r}")
    return jobs


def run_files(
    files: Sequence[str | Path],
    *,
    jobs: int = 1,
    model_path: str | None = None,
    detector: Any = None,
    reader: ScanReader | None = None,
    progress: bool = True,
    all_peaks: bool = False,
) -> list[ScanRecord]:
    """Score every file, in order, with ``jobs`` worker processes.

    Parameters
    ----------
    files : sequence of str or Path
        Scan files.
    jobs : int
        Worker processes; 1 runs in this process (no pool).
    model_path : str, optional
        Model loaded in each worker when ``detector`` is None (the shipped model when None).
    detector : SupportsDetect or callable, optional
        A ready detector or a zero-argument factory returning one. With ``jobs > 1`` it must be
        picklable (a module-level class or function); each worker gets its own copy.
    reader : callable, optional
        ``reader(path) -> Scan``; ``scanner.read_scan`` when None. Must be picklable for
        ``jobs > 1``.
    progress : bool
        Show a tqdm progress bar on stderr.
    all_peaks : bool
        Detectors loaded from ``model_path`` report every decoded peak, not only findings above
        the manifest's report threshold (see :func:`report_all_peaks`).

    Returns
    -------
    list of ScanRecord
        One per file, in the order of ``files``.
    """
    from tqdm import tqdm

    jobs = _check_jobs(jobs)
    items = [str(f) for f in files]
    bar = tqdm(total=len(items), desc="bench", unit="scan", disable=not progress)
    records: list[ScanRecord] = []
    try:
        if jobs == 1 or len(items) <= 1:
            saved = (_STATE.detector, _STATE.detectors, _STATE.reader, _STATE.all_peaks)
            _STATE.detector, _STATE.detectors = detector, {}
            _STATE.reader = reader or default_reader
            _STATE.all_peaks = all_peaks
            try:
                for item in items:
                    records.append(score_file(item, model_path))
                    bar.update(1)
            finally:
                _STATE.detector, _STATE.detectors, _STATE.reader, _STATE.all_peaks = saved
        else:
            workers = min(jobs, len(items))
            chunk = max(1, min(8, len(items) // (workers * 4)))
            context = multiprocessing.get_context("spawn")
            pool = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=context,
                initializer=_init_worker,
                initargs=(detector, reader, 1, all_peaks),
            )
            try:
                stream: Iterator[ScanRecord] = pool.map(
                    score_file, items, [model_path] * len(items), chunksize=chunk
                )
                for record in stream:
                    records.append(record)
                    bar.update(1)
            except BaseException:
                # A fatal error (detector cannot load, interrupt): drop the queued scans.
                pool.shutdown(wait=True, cancel_futures=True)
                raise
            pool.shutdown(wait=True)
    finally:
        bar.close()
    return records
