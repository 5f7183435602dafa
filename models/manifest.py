"""The model manifest: identity, sha256, preprocessing, calibration and thresholds of a model.

Everything that changes how scans are judged lives here, beside the model file, not in code:
a new model changes behaviour without a code change. The training code writes the manifest with
:meth:`Manifest.save`; the detector reads it with :meth:`Manifest.load` and refuses a model whose
sha256 differs (:meth:`Manifest.verify`).
"""

from __future__ import annotations

import hashlib
import json
import math
from enum import StrEnum
from pathlib import Path
from typing import Any, Self

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from models.errors import ManifestError, ModelIntegrityError

__all__ = [
    "MIN_PHONE_LONG_MM",
    "SCORE_CLASS",
    "Calibration",
    "CalibrationMethod",
    "InputSpec",
    "Manifest",
    "OutputSpec",
    "PlattParams",
    "SizePrior",
    "Thresholds",
    "TrainingInfo",
    "file_sha256",
    "flip_average",
]

#: Length (mm) from which a box is long enough to be a phone: just under the smallest phone's
#: 46.7 mm (a Zanco tiny t1). The default limit of :class:`SizePrior`.
MIN_PHONE_LONG_MM = 45.0

#: The class whose calibrated confidence makes the scan score.
SCORE_CLASS = "phone"

_CHUNK = 1 << 20


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes.

    Parameters
    ----------
    path : str or Path
        File to hash.

    Returns
    -------
    str
        64 lower-case hex digits.

    Raises
    ------
    ModelIntegrityError
        If the file cannot be read.
    """
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        raise ModelIntegrityError(
            f"cannot read model file {str(path)!r} ({exc.strerror or exc}); check the path, or "
            "pass model_path= / --model to point at the ONNX file"
        ) from exc
    return digest.hexdigest()


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class InputSpec(_Section):
    """How a scan becomes the model's input tensor (shared by training and inference).

    Attributes
    ----------
    name : str
        Name of the ONNX input.
    pitch_mm : float
        Working pitch (square pixels) the scan is resampled to.
    scale : float
        Attenuation is multiplied by this before clipping.
    clip_max : float
        Upper clip of the scaled attenuation (lower clip is 0).
    pad_multiple : int
        Height and width are zero-padded (bottom/right) to a multiple of this.
    destripe : bool
        Remove detector-channel stripes before resampling.
    """

    name: str = "image"
    pitch_mm: float = Field(default=2.0, gt=0.0, le=50.0)
    scale: float = Field(default=0.25, gt=0.0)
    clip_max: float = Field(default=4.0, gt=0.0)
    pad_multiple: int = Field(default=32, ge=1, le=1024)
    destripe: bool = True


class OutputSpec(_Section):
    """Names of the CenterNet outputs, their stride in input pixels and how they are read.

    Attributes
    ----------
    flip_test : bool
        Run the model also on the left-right mirrored input and average the two heatmaps
        (mirrored back) before decoding; box sizes and offsets come from the plain pass. The
        calibration and thresholds of a manifest were fitted with the setting it names.
    zoom_test : float or None
        Also run the model once (without the flip test) on the input enlarged by this factor
        (:func:`detect.preprocess.enlarge`), map that pass's peaks back to the working pixels
        and merge them with the plain pass's by class-wise non-maximum suppression: small
        objects, which the network sees at too few pixels, get a second, larger look. None: one
        scale. Like ``flip_test``, the calibration and thresholds were fitted with it.
    """

    heatmap: str = "heatmap"
    wh: str = "wh"
    offset: str = "offset"
    stride: int = Field(default=4, ge=1)
    flip_test: bool = False
    zoom_test: float | None = Field(default=None, gt=1.0, le=2.0)


def flip_average(
    heatmap: NDArray[np.float32], mirrored: NDArray[np.float32]
) -> NDArray[np.float32]:
    """Mean of a heatmap and the heatmap of the mirrored input, mirrored back (flip test).

    Parameters
    ----------
    heatmap, mirrored : ndarray of float32, shape (..., Ho, Wo)
        Heatmaps of the input and of the input mirrored left-right. Exact when the input
        width is a multiple of the stride (the padded tensor always is).

    Returns
    -------
    ndarray of float32, shape (..., Ho, Wo)
    """
    return np.float32(0.5) * (heatmap + mirrored[..., ::-1])


class CalibrationMethod(StrEnum):
    """How raw peak scores become calibrated probabilities."""

    #: ``sigmoid(a * logit(raw) + b)`` per class.
    PLATT = "platt"
    #: Raw peak scores are used as they are.
    NONE = "none"


class PlattParams(_Section):
    """Platt parameters of one class: ``p = sigmoid(a * logit(raw) + b)``."""

    a: float = 1.0
    b: float = 0.0

    @field_validator("a", "b")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("Platt parameters must be finite numbers")
        return value


class SizePrior(_Section):
    """How a box shorter than the smallest phone lowers its peak's raw score, before Platt scaling.

    ``raw' = sigmoid(logit(raw) + slope * min(0, ln(long / min_long_mm)))`` with ``long`` the
    longer side of the box in mm. The smallest phone (a Zanco tiny t1) is 46.7 mm long, while
    many of the detector's false phone peaks are smaller blobs; boxes at least ``min_long_mm``
    long keep their score, so mini phones are not penalised for being small.
    """

    slope: float = 0.0
    min_long_mm: float = Field(default=MIN_PHONE_LONG_MM, gt=0.0)

    @field_validator("slope")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("the size prior's slope must be a finite number")
        return value


class Calibration(_Section):
    """Calibration of peak confidences per class, and of the scan score.

    Attributes
    ----------
    method : CalibrationMethod
    per_class : dict of str to PlattParams
        Maps a class's raw peak scores to the probability that a peak is a true object of the
        class; classes absent here are left uncalibrated.
    scan : PlattParams or None
        Maps the scan's highest calibrated ``phone`` confidence to the probability that the
        scan holds a phone (what the scan score and the decision thresholds are on). None: the
        highest phone confidence is the scan score as it is.
    size_prior : dict of str to SizePrior
        Box-size adjustment of a class's raw peak scores, applied before its Platt scaling
        (and before non-maximum suppression); classes absent here are not adjusted.
    """

    method: CalibrationMethod = CalibrationMethod.PLATT
    per_class: dict[str, PlattParams] = Field(default_factory=dict)
    scan: PlattParams | None = None
    size_prior: dict[str, SizePrior] = Field(default_factory=dict)

    def params(self, label: str) -> PlattParams:
        """Platt parameters of ``label`` (identity when the class has none)."""
        if self.method is CalibrationMethod.NONE:
            return PlattParams()
        return self.per_class.get(label, PlattParams())

    def prior(self, label: str) -> SizePrior | None:
        """Size prior of ``label`` (None: its raw scores are not adjusted)."""
        if self.method is CalibrationMethod.NONE:
            return None
        return self.size_prior.get(label)

    def scan_params(self) -> PlattParams | None:
        """Platt parameters of the scan score (None: no scan-level calibration)."""
        return None if self.method is CalibrationMethod.NONE else self.scan


class Thresholds(_Section):
    """Score thresholds of peak extraction, reporting and the scan decision.

    Attributes
    ----------
    peak_min_score : float
        Raw heatmap peaks below this are dropped before calibration.
    report_min_confidence : float
        Findings with a calibrated confidence below this are not reported.
    alarm : float
        Scan score at or above this: ALARM.
    clear_below : float
        Scan score below this: CLEAR (between the two: INCONCLUSIVE).
    nms_iou : float
        IoU above which a lower-scoring box of the same class is suppressed.
    top_k : int
        At most this many peaks per scan are decoded.
    """

    peak_min_score: float = Field(default=0.05, ge=0.0, lt=1.0)
    report_min_confidence: float = Field(default=0.3, ge=0.0, le=1.0)
    alarm: float = Field(default=0.6, ge=0.0, le=1.0)
    clear_below: float = Field(default=0.25, ge=0.0, le=1.0)
    nms_iou: float = Field(default=0.5, gt=0.0, le=1.0)
    top_k: int = Field(default=50, ge=1, le=10_000)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.clear_below > self.alarm:
            raise ValueError(
                f"thresholds.clear_below ({self.clear_below}) must not exceed thresholds.alarm "
                f"({self.alarm})"
            )
        return self


class TrainingInfo(BaseModel):
    """How the model was trained (free-form beyond the listed fields)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    seed: int = 0
    n_train_scans: int = 0
    n_calibration_scans: int = 0
    epochs: int = 0
    wall_time_s: float = 0.0
    device: str = "cpu"
    simulator: str = "scanner.simulate"


class Manifest(_Section):
    """Everything the detector needs to know about one ONNX model.

    Read with :meth:`load`, written with :meth:`save`; :meth:`verify` checks the model file
    against ``sha256``.
    """

    name: str = Field(min_length=1)
    version: str = Field(min_length=1)
    file: str = Field(min_length=1, description="model file name, relative to the manifest")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    opset: int = Field(default=17, ge=17)
    input: InputSpec = Field(default_factory=InputSpec)
    outputs: OutputSpec = Field(default_factory=OutputSpec)
    classes: list[str] = Field(min_length=1)
    calibration: Calibration = Field(default_factory=Calibration)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    training: TrainingInfo = Field(default_factory=TrainingInfo)
    metrics: dict[str, Any] = Field(default_factory=dict)

    @field_validator("sha256", mode="before")
    @classmethod
    def _lower_hex(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if len(set(self.classes)) != len(self.classes):
            raise ValueError(f"classes must be unique, got {self.classes}")
        if SCORE_CLASS not in self.classes:
            raise ValueError(
                f"classes must include {SCORE_CLASS!r} (the scan score is its confidence), "
                f"got {self.classes}"
            )
        for section in ("per_class", "size_prior"):
            unknown = sorted(set(getattr(self.calibration, section)) - set(self.classes))
            if unknown:
                raise ValueError(
                    f"calibration.{section} names classes the model does not have: {unknown}; "
                    f"classes are {self.classes}"
                )
        return self

    def class_index(self, label: str) -> int:
        """Heatmap channel of ``label``."""
        return self.classes.index(label)

    def model_path(self, manifest_path: str | Path) -> Path:
        """Path of the model file named by ``file``, resolved against the manifest's folder."""
        return Path(manifest_path).parent / self.file

    @classmethod
    def load(cls, path: str | Path) -> Manifest:
        """Read and validate a manifest JSON file.

        Raises
        ------
        ManifestError
            If the file is missing, not JSON, or not a valid manifest; the message names the
            file and the offending fields.
        """
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ManifestError(
                f"cannot read model manifest {str(path)!r} ({exc.strerror or exc}); point "
                "--model/--manifest (model_path=/manifest_path= in Python) at a model and its "
                "manifest, or create them with `scanguard train`"
            ) from exc
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ManifestError(
                f"model manifest {str(path)!r} is not valid JSON ({exc}); restore it from the "
                "model release or re-create it by training"
            ) from exc
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
                for err in exc.errors()
            )
            raise ManifestError(
                f"model manifest {str(path)!r} is invalid: {problems}; fix these fields or "
                "restore the manifest shipped with the model"
            ) from exc

    def save(self, path: str | Path) -> None:
        """Write the manifest as indented JSON (UTF-8, trailing newline)."""
        Path(path).write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")

    def verify(self, model_path: str | Path) -> None:
        """Check that ``model_path`` has the manifest's sha256.

        Raises
        ------
        ModelIntegrityError
            If the file is missing/unreadable or its sha256 differs; the message names the
            file, both digests and the fix.
        """
        actual = file_sha256(model_path)
        if actual != self.sha256:
            raise ModelIntegrityError(
                f"model file {str(model_path)!r} does not match its manifest: sha256 is "
                f"{actual}, the manifest ({self.name} {self.version}) expects {self.sha256}. "
                "The file is corrupt, modified or belongs to another manifest; restore the "
                "model and manifest as released together (or re-run training to write both)"
            )

    def with_model(self, model_path: str | Path) -> Manifest:
        """Copy of this manifest naming ``model_path``'s file name and sha256."""
        path = Path(model_path)
        return self.model_copy(update={"file": path.name, "sha256": file_sha256(path)})
