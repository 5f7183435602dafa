"""Errors the detector raises. Every message says what is wrong and how to fix it."""

from __future__ import annotations

from models import errors as _model_errors


class DetectorError(Exception):
    """Base class of every error the ``detect`` package raises."""


class ModelLoadError(DetectorError):
    """The model cannot be loaded (missing file, bad manifest, graph not matching the manifest)."""


class ManifestError(ModelLoadError, _model_errors.ManifestError):
    """The model manifest is missing or invalid."""


class ModelIntegrityError(ModelLoadError, _model_errors.ModelIntegrityError):
    """The model file does not match the sha256 in its manifest."""


class ProviderError(DetectorError):
    """A requested onnxruntime execution provider is not available."""


class InferenceError(DetectorError):
    """onnxruntime failed while running the model, or returned outputs of the wrong shape."""


class InputError(DetectorError, ValueError):
    """The scan or image given to the detector cannot be processed (shape, spacing, values)."""
