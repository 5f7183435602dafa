"""Errors raised by the training pipeline. Every message says what is wrong and how to fix it."""

from __future__ import annotations


class TrainingError(Exception):
    """Base class of every error the training package raises."""


class DataError(TrainingError):
    """The training cache or a generated scan is missing or unusable."""


class CheckpointError(TrainingError):
    """A checkpoint cannot be read, or does not match the requested network."""


class ExportError(TrainingError):
    """ONNX export failed or the exported model disagrees with PyTorch."""


class DeviceError(TrainingError):
    """The requested training device is not available."""
