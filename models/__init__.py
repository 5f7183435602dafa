"""Shipped model artefacts (ONNX detector + manifest) and the code that reads them."""

from __future__ import annotations

from pathlib import Path

from models.errors import ManifestError, ModelArtifactError, ModelIntegrityError
from models.manifest import InputSpec, Manifest, file_sha256

#: Folder holding the shipped model and its manifest.
MODELS_DIR: Path = Path(__file__).resolve().parent
#: The shipped ONNX detector.
DEFAULT_MODEL_PATH: Path = MODELS_DIR / "phone_detector.onnx"
#: The manifest of the shipped detector.
DEFAULT_MANIFEST_PATH: Path = MODELS_DIR / "manifest.json"

__all__ = [
    "DEFAULT_MANIFEST_PATH",
    "DEFAULT_MODEL_PATH",
    "MODELS_DIR",
    "InputSpec",
    "Manifest",
    "ManifestError",
    "ModelArtifactError",
    "ModelIntegrityError",
    "file_sha256",
]
