"""Errors about model artefacts (the ONNX file and its manifest).

Every message names the file concerned and says how to fix the problem.
"""

from __future__ import annotations


class ModelArtifactError(Exception):
    """Base class of the errors the ``models`` package raises."""


class ManifestError(ModelArtifactError):
    """The manifest is missing, not JSON, or does not match the manifest schema."""


class ModelIntegrityError(ModelArtifactError):
    """The model file is missing or its sha256 differs from the one in its manifest."""
