"""Errors raised by the validation benchmark. Every message says what is wrong and how to fix it."""

from __future__ import annotations


class BenchError(Exception):
    """Base class of every error the validation package raises."""


class DatasetError(BenchError):
    """The dataset folder or its COCO annotations cannot be used as given."""


class AnnotationError(DatasetError):
    """The COCO annotations file is missing, not JSON, or has a wrong or missing key."""


class BenchConfigError(BenchError):
    """A benchmark option (jobs, output folder, model path, bootstrap count) is invalid."""


class DetectorLoadError(BenchError):
    """The detector to benchmark could not be loaded."""
