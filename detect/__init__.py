"""Phone detection: ONNX inference, post-processing, calibrated scan decision."""

from detect.detector import Detector, ScanSource, detect, load_detector
from detect.errors import (
    DetectorError,
    InferenceError,
    InputError,
    ManifestError,
    ModelIntegrityError,
    ModelLoadError,
    ProviderError,
)
from detect.preprocess import InputSpec, Preprocessed, preprocess
from detect.result import (
    BodyZone,
    Decision,
    Finding,
    ImageInfo,
    ModelIdentity,
    Result,
    StageTimings,
    SupportsDetect,
)

__all__ = [
    "BodyZone",
    "Decision",
    "Detector",
    "DetectorError",
    "Finding",
    "ImageInfo",
    "InferenceError",
    "InputError",
    "InputSpec",
    "ManifestError",
    "ModelIdentity",
    "ModelIntegrityError",
    "ModelLoadError",
    "Preprocessed",
    "ProviderError",
    "Result",
    "ScanSource",
    "StageTimings",
    "SupportsDetect",
    "detect",
    "load_detector",
    "preprocess",
]
