"""The one result every consumer (CLI, bench, service) gets for a scan."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from scanner.scan import Scan

RESULT_SCHEMA_VERSION = "1"


class Decision(StrEnum):
    """Scan-level decision."""

    ALARM = "ALARM"
    CLEAR = "CLEAR"
    INCONCLUSIVE = "INCONCLUSIVE"


class BodyZone(StrEnum):
    """Where on the body a finding lies."""

    HEAD_NECK = "head/neck"
    CHEST = "chest"
    ABDOMEN = "abdomen"
    PELVIS_GROIN = "pelvis/groin"
    ARMS_HANDS = "arms/hands"
    LEGS = "legs"
    FEET = "feet"
    OUTSIDE_BODY = "outside body"


class Finding(BaseModel):
    """One detected object.

    ``bbox_px`` is ``[x, y, width, height]`` in the original image's pixels (x = column,
    y = row, COCO convention); ``bbox_mm`` the same in millimetres from the top-left corner.
    """

    model_config = ConfigDict(frozen=True)

    label: str
    confidence: float = Field(ge=0.0, le=1.0, description="calibrated probability")
    bbox_px: tuple[float, float, float, float]
    bbox_mm: tuple[float, float, float, float]
    zone: BodyZone


class StageTimings(BaseModel):
    """Wall time per pipeline stage in milliseconds."""

    decode_ms: float = 0.0
    preprocess_ms: float = 0.0
    infer_ms: float = 0.0
    postprocess_ms: float = 0.0

    @property
    def total_ms(self) -> float:
        """Sum of all stages."""
        return self.decode_ms + self.preprocess_ms + self.infer_ms + self.postprocess_ms


class ModelIdentity(BaseModel):
    """Which model produced a result."""

    name: str
    version: str
    sha256: str


class ImageInfo(BaseModel):
    """Geometry of the scan the result refers to."""

    rows: int
    cols: int
    spacing_mm: tuple[float, float] = Field(description="(row, column) pixel spacing in mm")
    spacing_source: str
    upright_turns: int = Field(
        0,
        ge=0,
        le=3,
        description=(
            "counter-clockwise quarter turns (numpy.rot90) that stood the person in the image "
            "upright for the detector: 0 for a scan stored head up, 2 for one stored upside "
            "down; boxes are always in the stored image's frame"
        ),
    )


class Result(BaseModel):
    """Detection result of one scan: findings, calibrated scan score and decision."""

    schema_version: str = RESULT_SCHEMA_VERSION
    decision: Decision
    scan_score: float = Field(ge=0.0, le=1.0, description="calibrated P(scan holds a phone)")
    findings: list[Finding]
    model: ModelIdentity
    timings: StageTimings
    image: ImageInfo
    sop_instance_uid: str | None = None


class SupportsDetect(Protocol):
    """What the bench and the service need of a detector (the real one or a test double)."""

    @property
    def identity(self) -> ModelIdentity:
        """Name, version and sha256 of the model."""
        ...

    def detect(self, scan: Scan, *, decode_ms: float = 0.0) -> Result:
        """Detect contraband in one normalised scan."""
        ...
