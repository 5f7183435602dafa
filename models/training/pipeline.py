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

from models.errors import ManifestError, ModelIntegrityError
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

__all__ = ["PipelineOptions", "Stage", "run_pipeline"]

logger = logging.getLogger(__name__)

MODEL_FILE = "phone_detector.onnx"
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
    device: str = "auto"
    loader_threads: int = 0
    hard_phone_weight: float = 2.0
    stride: int = 4
    pitch_mm: float = 2.0
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
    from models.training.data import AugmentConfig
    from models.training.network import NetworkConfig
    from models.training.trainer import TrainConfig, train

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
        augment=replace(augment, hard_phone_weight=opts.hard_phone_weight),
        network=replace(network, stride=opts.stride),
        pitch_mm=opts.pitch_mm,
        **extra,
    )
    train(
        cfg,
        resume=opts.resume,
        progress=opts.progress,
        producing=lambda: any(p.poll() is None for p in generators),
    )


def _export(opts: PipelineOptions) -> dict[str, Any]:
    from models.training.export import OPSET, export_onnx
    from models.training.trainer import CHECKPOINT, load_checkpoint

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
    from models.training.evaluate import (
        choose_thresholds,
        compute_metrics,
        fit_calibration,
        predict_records,
    )
    from models.training.robustness import robustness
    from models.training.trainer import CHECKPOINT, load_checkpoint

    model = opts.out / MODEL_FILE
    if not model.exists():
        raise TrainingError(
            f"no exported model at {str(model)!r}; run the export stage first "
            "(scanguard train --stages export)"
        )
    cfg, state = load_checkpoint(opts.out / CHECKPOINT)
    phases = _training_phases(cfg, state)
    # The model's pitch is the one it trained at (its checkpoint), whatever --pitch says now.
    spec = InputSpec(pitch_mm=cfg.pitch_mm)
    cal = _generate_now(opts, Split.CALIBRATION, opts.calibration_scans, spec.pitch_mm)
    test = _generate_now(opts, Split.TEST, opts.test_scans, spec.pitch_mm)
    run = functools.partial(
        predict_records,
        threads=opts.threads,
        progress=opts.progress,
        flip_test=opts.flip_test,
        stride=cfg.network.stride,
    )
    cal_preds = run(model, cal)
    calibration = fit_calibration(cal_preds)
    thresholds = choose_thresholds(cal_preds, calibration)
    test_preds = run(model, test)
    metrics = compute_metrics(test_preds, calibration, thresholds)
    metrics["calibration_set"] = compute_metrics(cal_preds, calibration, thresholds, n_boot=0)
    metrics["robustness"] = robustness(model, test, test_preds, run, spec=spec)
    export_info = json.loads((opts.out / "export.json").read_text(encoding="utf-8"))
    n_train, train_seeds = _training_scans(phases)
    training = TrainingInfo.model_validate(
        dict(
            seed=opts.seed,
            n_train_scans=n_train,
            n_calibration_scans=len(cal),
            epochs=state.epoch,
            wall_time_s=round(sum(ph["wall_time_s"] for ph in phases), 1),
            device="+".join(sorted({ph["device"] for ph in phases if "device" in ph})),
            simulator="scanner.simulate" if opts.source is Source.SIMULATOR else "stand-in",
            n_test_scans=len(test),
            steps=sum(ph["steps"] for ph in phases),
            phases=phases,
            batch_size=cfg.batch_size,
            crop=list(cfg.crop),
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
        outputs=OutputSpec(stride=cfg.network.stride, flip_test=opts.flip_test),
        classes=list(CLASSES),
        calibration=calibration,
        thresholds=thresholds,
        training=training,
        metrics=metrics,
    ).with_model(model)
    manifest.save(opts.out / "manifest.json")
    (opts.out / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    command = (
        f"scanguard train --out {opts.out} --seed {opts.seed} --stages calibrate "
        f"--calibration-scans {len(cal)} --test-scans {len(test)}"
        + (f" --cache {opts.cache}" if opts.cache else "")
        + ("" if opts.flip_test else " --no-flip-test")
    )
    write_model_card(manifest, opts.out / "MODEL_CARD.md", command)
    logger.info("wrote %s", opts.out / "manifest.json")
    return manifest


def _training_phases(cfg: Any, state: Any) -> list[dict[str, Any]]:
    """Every training phase behind a checkpoint, parents first.

    Follows ``init_from`` (fine-tuning) and ``averaged_from`` (weight averaging) links; a
    checkpoint reached twice (a common parent of averaged runs) is listed once. An exported
    ``.onnx`` parent contributes the phases its manifest records.
    """
    from models.training.onnx_weights import is_onnx_model
    from models.training.trainer import load_checkpoint

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
    manifest_path = model_path.parent / "manifest.json"
    try:
        manifest = Manifest.load(manifest_path)
    except ManifestError as exc:
        logger.warning(
            "%s has no readable manifest beside it (%s); its training steps are not counted",
            model_path,
            exc,
        )
        return []
    if manifest.file != model_path.name:
        logger.warning(
            "%s describes %s, not %s; its training steps are not counted",
            manifest_path,
            manifest.file,
            model_path.name,
        )
        return []
    try:
        manifest.verify(model_path)
    except ModelIntegrityError as exc:
        logger.warning("%s; its training steps are not counted", exc)
        return []
    return [dict(ph) for ph in (manifest.training.model_extra or {}).get("phases", [])]


def _training_scans(phases: list[dict[str, Any]]) -> tuple[int, str]:
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


def _phase(cfg: Any, state: Any) -> dict[str, Any]:
    """One training phase: its steps, batch, crop, stride, threads, wall time and training cache."""
    if state.averaged_from:
        return {"averaged_from": list(state.averaged_from), "steps": 0, "wall_time_s": 0.0}
    from models.training.trainer import format_seed_span

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


def run_pipeline(opts: PipelineOptions) -> None:
    """Run the requested stages in order (see the module docstring)."""
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
        if Stage.FIT in stages:
            generators = _spawn_generators(opts, Split.TRAIN, opts.scans, opts.pitch_mm)
        else:
            _generate_now(opts, Split.TRAIN, opts.scans, opts.pitch_mm)
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
