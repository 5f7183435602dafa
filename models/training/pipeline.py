"""``scanguard train`` end to end: data -> fit -> export -> calibrate (-> install).

Stages
------
data
    Generate the training cache (background generator processes when followed by ``fit``).
fit
    Train; resumable with ``resume=True``; stops after ``minutes`` if given.
average
    Instead of fit: ``<out>/last.pt`` becomes the mean of the EMA weights of the checkpoints in
    ``average`` (runs fine-tuned from one parent; see ``models.training.averaging``).
export
    EMA weights -> ``<out>/phone_detector.onnx`` with the parity check.
calibrate
    Generate held-out calibration and test caches (seeds never used for training), fit Platt
    calibration and decision thresholds on the calibration set, measure metrics on the test
    set, write ``<out>/manifest.json``, ``<out>/metrics.json`` and ``<out>/MODEL_CARD.md``.
    With ``init_from`` a released ``.onnx`` model and no run in ``out``, that model (and the
    training record in its manifest) is re-calibrated and re-measured as it is.
install
    Copy the model, manifest and model card into the ``models`` package.
"""

from __future__ import annotations

import functools
import json
import logging
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from models.manifest import InputSpec, Manifest, OutputSpec, TrainingInfo
from models.training.cache import (
    Source,
    Split,
    check_pitch,
    generate,
    list_records,
    split_seeds,
)
from models.training.classes import CLASSES
from models.training.errors import TrainingError
from models.training.lineage import (
    is_onnx_model,
    parent_pitch,
    trained_from_checkpoint,
    trained_from_release,
    training_scans,
)

__all__ = ["PipelineOptions", "Stage", "run_pipeline"]

logger = logging.getLogger(__name__)

MODEL_FILE = "phone_detector.onnx"
#: Working pitch of a new model when neither ``--pitch`` nor a parent gives one.
DEFAULT_PITCH_MM = 2.0
MODEL_NAME = "scanguard-phone-centernet"
PACKAGE_DIR = Path(__file__).resolve().parent.parent


class Stage(StrEnum):
    """Steps of the training pipeline, in order."""

    DATA = "data"
    FIT = "fit"
    AVERAGE = "average"
    EXPORT = "export"
    CALIBRATE = "calibrate"
    INSTALL = "install"


@dataclass
class PipelineOptions:
    """Options of ``scanguard train`` (see ``scanguard train --help``)."""

    out: Path = Path("runs/train")
    cache: Path | None = None
    seed: int = 0
    scans: int = 2000
    calibration_scans: int = 300
    test_scans: int = 300
    epochs: int = 30
    steps_per_epoch: int = 200
    batch_size: int = 16
    crop: tuple[int, int] = (384, 192)
    minutes: float | None = None
    resume: bool = False
    source: Source = Source.SIMULATOR
    jobs: int = 1
    threads: int = 2
    version: str = "1.0.0"
    stages: tuple[Stage, ...] = (Stage.DATA, Stage.FIT, Stage.EXPORT, Stage.CALIBRATE)
    progress: bool = True
    init_from: Path | None = None
    warmup_steps: int = 300
    lr: float = 3e-3
    flip_test: bool = True
    #: Enlargement of the zoom-test pass (``OutputSpec.zoom_test``); None: one scale.
    zoom_test: float | None = None
    #: Fit a box-size prior of phone peaks at calibration (``Calibration.size_prior``).
    size_prior: bool = True
    device: str = "auto"
    loader_threads: int = 0
    #: Memory the training records may take, GB; None for half of the machine's.
    memory_gb: float | None = None
    hard_phone_weight: float = 2.0
    stride: int = 4
    #: None: the parent's pitch with ``init_from``, else :data:`DEFAULT_PITCH_MM`.
    pitch_mm: float | None = None
    average: tuple[Path, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def cache_dir(self, split: Split) -> Path:
        """Cache folder of a split."""
        root = self.cache or Path("runs/cache") / f"{self.source.value}-seed{self.seed}"
        return Path(root) / split.value


def _spawn_generators(
    opts: PipelineOptions, split: Split, n: int, pitch_mm: float
) -> list[subprocess.Popen[bytes]]:
    out = opts.cache_dir(split)
    out.mkdir(parents=True, exist_ok=True)
    check_pitch(list_records(out)[:1], pitch_mm, "existing")
    procs = []
    for k in range(max(1, opts.jobs)):
        cmd = [
            sys.executable,
            "-m",
            "models.training.cache",
            str(out),
            split.value,
            str(opts.seed),
            str(n),
            "--start",
            str(k),
            "--step",
            str(max(1, opts.jobs)),
            "--source",
            opts.source.value,
            "--pitch",
            str(pitch_mm),
        ]
        log = open(out.parent / f"generate-{split.value}-{k}.log", "ab")
        procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT))
    logger.info(
        "started %d generator process(es) for %d %s scans in %s", len(procs), n, split.value, out
    )
    return procs


def _generate_now(opts: PipelineOptions, split: Split, n: int, pitch_mm: float) -> list[Path]:
    procs = _spawn_generators(opts, split, n, pitch_mm) if opts.jobs > 1 else []
    if not procs:
        generate(
            opts.cache_dir(split),
            split_seeds(opts.seed, split, n),
            opts.source,
            spec=InputSpec(pitch_mm=pitch_mm),
            prefix=split.value,
        )
    for p in procs:
        p.wait()
    paths = list_records(opts.cache_dir(split))[:n]
    check_pitch(paths, pitch_mm, split.value)
    return paths


def _fit(opts: PipelineOptions, generators: list[subprocess.Popen[bytes]]) -> None:
    from models.training.checkpoint import TrainConfig
    from models.training.data import AugmentConfig
    from models.training.network import NetworkConfig
    from models.training.trainer import train

    extra = dict(opts.extra)
    augment = extra.pop("augment", AugmentConfig())
    network = extra.pop("network", NetworkConfig())
    cfg = TrainConfig(
        out=str(opts.out),
        cache=str(opts.cache_dir(Split.TRAIN)),
        seed=opts.seed,
        epochs=opts.epochs,
        steps_per_epoch=opts.steps_per_epoch,
        batch_size=opts.batch_size,
        crop=opts.crop,
        minutes=opts.minutes,
        threads=opts.threads,
        max_records=opts.scans,
        min_records=min(opts.scans, 50),
        init_from=str(opts.init_from) if opts.init_from else None,
        warmup_steps=opts.warmup_steps,
        lr=opts.lr,
        device=opts.device,
        loader_threads=opts.loader_threads,
        memory_gb=opts.memory_gb,
        augment=replace(augment, hard_phone_weight=opts.hard_phone_weight),
        network=replace(network, stride=opts.stride),
        pitch_mm=opts.pitch_mm or DEFAULT_PITCH_MM,
        **extra,
    )
    train(
        cfg,
        resume=opts.resume,
        progress=opts.progress,
        producing=lambda: any(p.poll() is None for p in generators),
    )


def _export(opts: PipelineOptions) -> dict[str, Any]:
    from models.training.checkpoint import CHECKPOINT, load_checkpoint
    from models.training.export import OPSET, export_onnx

    _, state = load_checkpoint(opts.out / CHECKPOINT)
    report = export_onnx(state.ema, opts.out / MODEL_FILE)
    info = {
        "opset": OPSET,
        "parity_max_abs_diff": report.max_abs_diff,
        "parity_tolerance": report.tolerance,
        "parity_shapes": report.shapes,
        "step": state.step,
        "epoch": state.epoch,
        "train_wall_time_s": state.elapsed_s,
    }
    (opts.out / "export.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
    return info


def _calibrate(opts: PipelineOptions) -> Manifest:
    from models.training.card import write_model_card
    from models.training.checkpoint import CHECKPOINT
    from models.training.evaluate import (
        choose_thresholds,
        finish_peaks,
        fit_calibration,
        fit_size_priors,
        predict_records,
    )
    from models.training.metrics import compute_metrics
    from models.training.robustness import robustness

    model = opts.out / MODEL_FILE
    release = opts.init_from if opts.init_from and is_onnx_model(opts.init_from) else None
    if release is not None and not (opts.out / CHECKPOINT).exists():
        trained = trained_from_release(release, model)
    elif not model.exists():
        raise TrainingError(
            f"no exported model at {str(model)!r}; run the export stage first "
            "(scanguard train --stages export), or re-measure a released model with "
            "--init-from MODEL.onnx --stages calibrate"
        )
    else:
        trained = trained_from_checkpoint(opts.out)
    phases = trained.phases
    # The model's pitch is the one it trained at, whatever --pitch says now.
    spec = InputSpec(pitch_mm=trained.pitch_mm)
    cal = _generate_now(opts, Split.CALIBRATION, opts.calibration_scans, spec.pitch_mm)
    test = _generate_now(opts, Split.TEST, opts.test_scans, spec.pitch_mm)
    run = functools.partial(
        predict_records,
        threads=opts.threads,
        progress=opts.progress,
        flip_test=opts.flip_test,
        stride=trained.stride,
        zoom_test=opts.zoom_test,
    )
    cal_peaks = run(model, cal, nms_iou=None)
    priors = fit_size_priors([finish_peaks(p) for p in cal_peaks]) if opts.size_prior else None
    cal_preds = [finish_peaks(p, calibration=priors) for p in cal_peaks]
    calibration = fit_calibration(cal_preds, size_prior=priors.size_prior if priors else None)
    thresholds = choose_thresholds(cal_preds, calibration)
    run = functools.partial(run, calibration=calibration)
    test_preds = run(model, test)
    metrics = compute_metrics(test_preds, calibration, thresholds)
    metrics["calibration_set"] = compute_metrics(cal_preds, calibration, thresholds, n_boot=0)
    metrics["robustness"] = robustness(model, test, test_preds, run, spec=spec)
    export_info = trained.export_info
    n_train, train_seeds = training_scans(phases)
    training = TrainingInfo.model_validate(
        dict(
            seed=opts.seed,
            n_train_scans=n_train,
            n_calibration_scans=len(cal),
            epochs=trained.epochs,
            wall_time_s=round(sum(ph["wall_time_s"] for ph in phases), 1),
            device="+".join(sorted({ph["device"] for ph in phases if "device" in ph})),
            simulator="scanner.simulate" if opts.source is Source.SIMULATOR else "stand-in",
            n_test_scans=len(test),
            steps=sum(ph["steps"] for ph in phases),
            phases=phases,
            batch_size=trained.batch_size,
            crop=trained.crop,
            train_seeds=train_seeds,
            calibration_seeds=_seed_range(opts.seed, Split.CALIBRATION, len(cal)),
            test_seeds=_seed_range(opts.seed, Split.TEST, len(test)),
            parity_max_abs_diff=export_info["parity_max_abs_diff"],
            parity_tolerance=export_info["parity_tolerance"],
        )
    )
    manifest = Manifest(
        name=MODEL_NAME,
        version=opts.version,
        file=MODEL_FILE,
        sha256="0" * 64,
        opset=export_info["opset"],
        input=spec,
        outputs=OutputSpec(
            stride=trained.stride, flip_test=opts.flip_test, zoom_test=opts.zoom_test
        ),
        classes=list(CLASSES),
        calibration=calibration,
        thresholds=thresholds,
        training=training,
        metrics=metrics,
    ).with_model(model)
    manifest.save(opts.out / "manifest.json")
    (opts.out / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    # Installed, the model is models/phone_detector.onnx on every checkout; re-measuring it
    # there needs no run folder (the lineage module's release path).
    command = (
        f"scanguard train --out runs/recheck --init-from models/{MODEL_FILE} --seed {opts.seed} "
        f"--stages calibrate --calibration-scans {len(cal)} --test-scans {len(test)}"
        + (f" --cache {opts.cache}" if opts.cache else "")
        + ("" if opts.flip_test else " --no-flip-test")
        + f" --zoom-test {opts.zoom_test or 1:g}"
        + ("" if opts.size_prior else " --no-size-prior")
    )
    write_model_card(manifest, opts.out / "MODEL_CARD.md", command)
    logger.info("wrote %s", opts.out / "manifest.json")
    return manifest


def _seed_range(seed: int, split: Split, n: int) -> str:
    seeds = split_seeds(seed, split, n)
    return f"{seeds[0]}..{seeds[-1]}" if seeds else ""


def _install(opts: PipelineOptions) -> None:
    for name in (MODEL_FILE, "manifest.json", "MODEL_CARD.md"):
        src = opts.out / name
        if not src.exists():
            raise TrainingError(f"{str(src)!r} is missing; run the calibrate stage before install")
        shutil.copyfile(src, PACKAGE_DIR / name)
    Manifest.load(PACKAGE_DIR / "manifest.json").verify(PACKAGE_DIR / MODEL_FILE)
    logger.info("installed %s into %s", MODEL_FILE, PACKAGE_DIR)


def _resolve_pitch(opts: PipelineOptions) -> float:
    """The run's working pitch: as given, else its parent's (the run's own checkpoint when
    resuming), else :data:`DEFAULT_PITCH_MM`."""
    from models.training.checkpoint import CHECKPOINT

    source = opts.out / CHECKPOINT if opts.resume else opts.init_from
    parent = parent_pitch(source) if source else None
    if opts.pitch_mm is None:
        if source and parent is None:
            logger.warning(
                "the working pitch of %s is unknown (no manifest beside it); training at %g mm: "
                "give --pitch to choose",
                source,
                DEFAULT_PITCH_MM,
            )
        return parent or DEFAULT_PITCH_MM
    if parent is not None and abs(parent - opts.pitch_mm) > 1e-9:
        logger.info("moving the model from a %g mm to a %g mm working pitch", parent, opts.pitch_mm)
    return opts.pitch_mm


def run_pipeline(opts: PipelineOptions) -> None:
    """Run the requested stages in order (see the module docstring)."""
    if Stage.DATA in opts.stages or Stage.FIT in opts.stages:
        opts = replace(opts, pitch_mm=_resolve_pitch(opts))
    opts.out.mkdir(parents=True, exist_ok=True)
    (opts.out / "options.json").write_text(
        json.dumps(asdict(opts), indent=2, default=str), encoding="utf-8"
    )
    t0 = time.monotonic()
    generators: list[subprocess.Popen[bytes]] = []
    stages = set(opts.stages)
    if Stage.AVERAGE in stages and Stage.FIT in stages:
        raise TrainingError(
            "the average stage replaces fit (it writes <out>/last.pt); run them separately"
        )
    if Stage.AVERAGE in stages:
        from models.training.averaging import average_checkpoints

        average_checkpoints(list(opts.average), opts.out)
        logger.info("averaged %d checkpoints into %s", len(opts.average), opts.out)
    if Stage.DATA in stages:
        pitch = opts.pitch_mm or DEFAULT_PITCH_MM  # resolved above
        if Stage.FIT in stages:
            generators = _spawn_generators(opts, Split.TRAIN, opts.scans, pitch)
        else:
            _generate_now(opts, Split.TRAIN, opts.scans, pitch)
    try:
        if Stage.FIT in stages:
            _fit(opts, generators)
    finally:
        for p in generators:
            if p.poll() is None:
                p.terminate()
                p.wait()
    if Stage.EXPORT in stages:
        _export(opts)
    if Stage.CALIBRATE in stages:
        _calibrate(opts)
    if Stage.INSTALL in stages:
        _install(opts)
    logger.info(
        "pipeline %s done in %.0f s", ",".join(s.value for s in opts.stages), time.monotonic() - t0
    )
