"""Phone detection: ONNX inference, post-processing, calibrated scan decision."""

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
    "Finding",
    "ImageInfo",
    "ModelIdentity",
    "Result",
    "StageTimings",
    "SupportsDetect",
]
