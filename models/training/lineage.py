"""A model's training lineage: every phase behind it, and what calibration needs to know of it.

A run's checkpoint names its parent (``init_from``: a checkpoint or an exported ``.onnx``
model) or the runs it averages (``averaged_from``); following those links gives every training
phase behind a model, which the manifest and the model card list. A released model (an
``.onnx`` with its manifest) carries its phases in its manifest.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from models.errors import ManifestError, ModelIntegrityError
from models.manifest import Manifest
from models.training.cache import Split, list_records, split_seeds
from models.training.errors import TrainingError

__all__ = [
    "TrainedModel",
    "is_onnx_model",
    "parent_pitch",
    "release_manifest",
    "trained_from_checkpoint",
    "trained_from_release",
    "training_phases",
    "training_scans",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainedModel:
    """What the calibrate stage needs to know of the model it calibrates and measures."""

    pitch_mm: float
    stride: int
    phases: list[dict[str, Any]]
    epochs: int
    batch_size: int
    crop: list[int]
    export_info: dict[str, Any]


def trained_from_checkpoint(out: Path) -> TrainedModel:
    """The run in ``out``: its checkpoint, its training lineage and its export record."""
    from models.training.checkpoint import CHECKPOINT, load_checkpoint

    cfg, state = load_checkpoint(out / CHECKPOINT)
    export_info = json.loads((out / "export.json").read_text(encoding="utf-8"))
    return TrainedModel(
        cfg.pitch_mm,
        cfg.network.stride,
        training_phases(cfg, state),
        state.epoch,
        cfg.batch_size,
        list(cfg.crop),
        export_info,
    )


def is_onnx_model(path: str | Path) -> bool:
    """Whether ``path`` names an exported ONNX model (by its ``.onnx`` suffix)."""
    return Path(path).suffix.lower() == ".onnx"


def release_manifest(model_path: Path) -> Manifest:
    """The manifest of an exported model: ``manifest.json`` beside it, naming it, sha256 matching.

    Raises
    ------
    TrainingError
        If there is none, it describes another file, or the model's sha256 differs.
    """
    where = f"{str(model_path)!r} needs its manifest.json beside it, matching the model"
    try:
        manifest = Manifest.load(model_path.parent / "manifest.json")
        if manifest.file != model_path.name:
            raise TrainingError(f"{where} (the one there describes {manifest.file!r})")
        manifest.verify(model_path)
    except (ManifestError, ModelIntegrityError) as exc:
        raise TrainingError(f"{where} ({exc}); keep a model and its manifest together") from exc
    return manifest


def trained_from_release(source: Path, model: Path) -> TrainedModel:
    """A released model (``--init-from MODEL.onnx --stages calibrate`` with no run in ``--out``).

    Its manifest (beside it, naming it, sha256 matching) gives the pitch, stride and training
    record; the model is copied into the run folder and re-calibrated and re-measured as it is.
    """
    manifest = release_manifest(source)
    model.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, model)
    info = manifest.training.model_extra or {}
    logger.info("re-measuring released model %s %s", manifest.name, manifest.version)
    return TrainedModel(
        manifest.input.pitch_mm,
        manifest.outputs.stride,
        [dict(ph) for ph in info.get("phases", [])],
        manifest.training.epochs,
        int(info.get("batch_size", 0)),
        [int(v) for v in info.get("crop", [])],
        {
            "opset": manifest.opset,
            "parity_max_abs_diff": info.get("parity_max_abs_diff"),
            "parity_tolerance": info.get("parity_tolerance"),
        },
    )


def training_phases(cfg: Any, state: Any) -> list[dict[str, Any]]:
    """Every training phase behind a checkpoint, parents first.

    Follows ``init_from`` (fine-tuning) and ``averaged_from`` (weight averaging) links; a
    checkpoint reached twice (a common parent of averaged runs) is listed once. An exported
    ``.onnx`` parent contributes the phases its manifest records.
    """
    from models.training.checkpoint import load_checkpoint

    phases: list[dict[str, Any]] = []
    seen: set[str] = set()

    def visit(cfg: Any, state: Any) -> None:
        parents = state.averaged_from or ([cfg.init_from] if cfg.init_from else [])
        for parent in parents:  # each checkpoint at most once, so a cycle ends too
            path = Path(parent)
            key = path.resolve().as_posix()
            if key in seen:
                continue
            seen.add(key)
            if not path.exists():
                logger.warning("training source %s is gone; its steps are not counted", path)
                continue
            if is_onnx_model(path):
                phases.extend(_exported_phases(path))
                continue
            visit(*load_checkpoint(path))
        phases.append(_phase(cfg, state))

    visit(cfg, state)
    return phases


def _exported_phases(model_path: Path) -> list[dict[str, Any]]:
    """The training phases an exported model's manifest records (none without a manifest).

    The manifest is the ``manifest.json`` beside the model that names it; its sha256 must match,
    so the phases counted are those of this very file.
    """
    try:
        manifest = release_manifest(model_path)
    except TrainingError as exc:
        logger.warning("%s; its training steps are not counted", exc)
        return []
    return [dict(ph) for ph in (manifest.training.model_extra or {}).get("phases", [])]


def training_scans(phases: list[dict[str, Any]]) -> tuple[int, str]:
    """Distinct training scans over all phases, and their seed spans.

    Phases whose records start at the same seed drew from the same (growing) scan series, so
    the largest of them counts; series that start elsewhere add up.
    """
    series: dict[Any, tuple[int, str]] = {}
    for ph in phases:
        if ph.get("averaged_from"):
            continue
        first = ph.get("first_seed")
        n = int(ph.get("scans") or 0)
        if n >= series.get(first, (-1, ""))[0]:
            series[first] = (n, str(ph.get("train_seeds") or ""))
    return sum(n for n, _ in series.values()), ", ".join(s for _, s in series.values() if s)


#: The augmentation ranges a phase records (those aimed at other scanners; see the model card).
_AUGMENT_KEYS = ("gain_range", "gamma_range", "scale_range", "blur_sigma", "p_blur")


def _phase(cfg: Any, state: Any) -> dict[str, Any]:
    """One training phase: its steps, batch, crop, stride, threads, wall time and training cache."""
    if state.averaged_from:
        return {"averaged_from": list(state.averaged_from), "steps": 0, "wall_time_s": 0.0}
    from models.training.checkpoint import format_seed_span

    cache = Path(cfg.cache)
    n_scans = state.records or (
        len(list_records(cache)[: cfg.max_records or None]) if cache.is_dir() else None
    )
    bounds = state.seed_bounds
    if bounds is None and n_scans:
        # Checkpoints that predate recorded seeds drew the first scans of the run's own series.
        seeds = split_seeds(cfg.seed, Split.TRAIN, n_scans)
        bounds = seeds[0], seeds[-1]
    return {
        "run": Path(cfg.out).as_posix(),
        "init_from": Path(cfg.init_from).as_posix() if cfg.init_from else None,
        "steps": state.step,
        "batch_size": cfg.batch_size,
        "crop": list(cfg.crop),
        "threads": cfg.threads,
        "lr": cfg.lr,
        "hard_phone_weight": cfg.augment.hard_phone_weight,
        "augment": {key: asdict(cfg.augment)[key] for key in _AUGMENT_KEYS},
        "stride": cfg.network.stride,
        "pitch_mm": cfg.pitch_mm,
        "device": cfg.device if cfg.device != "auto" else "cpu",
        "seed": cfg.seed,
        "wall_time_s": round(state.elapsed_s, 1),
        "cache": cache.as_posix(),
        "scans": n_scans,
        "first_seed": bounds[0] if bounds else None,
        "train_seeds": format_seed_span(bounds, n_scans or 0),
    }


def parent_pitch(path: Path) -> float | None:
    """Working pitch (mm) of a run's parent: a checkpoint's, or an exported model's manifest's.

    None when the parent is an ``.onnx`` model without its manifest (:func:`release_manifest`).

    Raises
    ------
    CheckpointError
        If a checkpoint parent is missing or unreadable.
    """
    if not is_onnx_model(path):
        from models.training.checkpoint import load_checkpoint

        return float(load_checkpoint(path)[0].pitch_mm)
    try:
        return release_manifest(path).input.pitch_mm
    except TrainingError:
        return None
