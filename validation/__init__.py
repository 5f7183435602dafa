"""Validation benchmark: score a detector on an annotated scan set with defensible statistics."""

import logging

from validation.bench import BenchResult, build_report, run_bench
from validation.dataset import BenchAnnotation, BenchDataset, BenchImage, load_dataset
from validation.errors import (
    AnnotationError,
    BenchConfigError,
    BenchError,
    DatasetError,
    DetectorLoadError,
)
from validation.runner import ScanRecord, ScanStatus, make_reader, run_files, score_file

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "AnnotationError",
    "BenchAnnotation",
    "BenchConfigError",
    "BenchDataset",
    "BenchError",
    "BenchImage",
    "BenchResult",
    "DatasetError",
    "DetectorLoadError",
    "ScanRecord",
    "ScanStatus",
    "build_report",
    "load_dataset",
    "make_reader",
    "run_bench",
    "run_files",
    "score_file",
]
