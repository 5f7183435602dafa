"""``scanguard train``: train, export, calibrate and install the phone detector.

PyTorch is an optional extra (``pip install scanguard[train]``); it is imported only when the
command runs, so the runtime never needs it.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

__all__ = ["register"]

logger = logging.getLogger(__name__)

_STAGES = ("data", "fit", "average", "export", "calibrate", "install")
#: Enlargement of the zoom-test pass a model is calibrated and shipped with (the shipped model's).
DEFAULT_ZOOM_TEST = 1.1


def _stages(text: str) -> tuple[str, ...]:
    names = tuple(s.strip() for s in text.split(",") if s.strip())
    bad = [s for s in names if s not in _STAGES]
    if bad or not names:
        raise argparse.ArgumentTypeError(
            f"unknown stage(s) {bad or text!r}; "
            f"choose a comma-separated list of {', '.join(_STAGES)}"
        )
    return names


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or a positive integer, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def _pitch(text: str) -> float:
    value = float(text)
    if not 0.5 <= value <= 4.0:
        raise argparse.ArgumentTypeError(
            f"expected a working pitch in mm between 0.5 and 4 (e.g. 2 or 1.5), got {text}"
        )
    return value


def _at_least_one(text: str) -> float:
    value = float(text)
    if not value >= 1:
        raise argparse.ArgumentTypeError(
            f"expected a number of at least 1 (1 = no extra weight), got {text}"
        )
    return value


def _zoom(text: str) -> float | None:
    value = float(text)
    if not 1.0 <= value <= 2.0:
        raise argparse.ArgumentTypeError(
            f"expected an enlargement between 1 and 2 (1 = no zoom-test pass), got {text}"
        )
    return None if value == 1.0 else value


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``train`` sub-command."""
    p = subparsers.add_parser(
        "train",
        help="train the phone detector on simulated scans and export it to ONNX",
        description=(
            "Generate simulated training scans, train the CenterNet detector (resumable), export "
            "it to ONNX with a parity check, fit calibration and thresholds on held-out scans and "
            "measure metrics on a held-out test set."
        ),
    )
    p.add_argument(
        "--out", type=Path, default=Path("runs/train"), help="run folder (default %(default)s)"
    )
    p.add_argument("--seed", type=int, default=0, help="training seed; also selects the scan seeds")
    p.add_argument(
        "--scans", type=_positive_int, default=2000, help="training scans (default %(default)s)"
    )
    p.add_argument("--epochs", type=_positive_int, default=30, help="epochs (default %(default)s)")
    p.add_argument("--steps-per-epoch", type=_positive_int, default=200)
    p.add_argument("--batch-size", type=_positive_int, default=16)
    p.add_argument(
        "--crop",
        type=_positive_int,
        nargs=2,
        default=(384, 192),
        metavar=("H", "W"),
        help="training crop in working pixels, multiples of 32 (default 384 192)",
    )
    p.add_argument("--resume", action="store_true", help="continue from <out>/last.pt")
    p.add_argument(
        "--init-from",
        type=Path,
        default=None,
        metavar="CHECKPOINT",
        help="start from another run's checkpoint (its EMA weights) or from an exported model, "
        "e.g. models/phone_detector.onnx (fine-tuning)",
    )
    p.add_argument("--warmup-steps", type=int, default=300, help="learning-rate warm-up steps")
    p.add_argument(
        "--lr",
        type=_positive_float,
        default=3e-3,
        help="peak learning rate of the cosine schedule (default %(default)s); lower it to "
        "fine-tune",
    )
    p.add_argument(
        "--average",
        type=Path,
        nargs="+",
        default=(),
        metavar="CHECKPOINT",
        help="average the EMA weights of these checkpoints (runs fine-tuned from one parent) into "
        "<out>/last.pt instead of training; implies the average stage",
    )
    p.add_argument(
        "--minutes",
        type=float,
        default=None,
        help="stop training after this many minutes (a checkpoint is saved)",
    )
    p.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="cache root (default runs/cache/<source>-seed<seed>)",
    )
    p.add_argument(
        "--flip-test",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="calibrate and evaluate with the heatmap averaged over the scan and its mirror image, "
        "and ship the model with that setting (default on; doubles inference time)",
    )
    p.add_argument(
        "--zoom-test",
        type=_zoom,
        default=DEFAULT_ZOOM_TEST,
        metavar="FACTOR",
        help="calibrate and evaluate with a second pass on the scan enlarged by FACTOR, its "
        "peaks merged with the plain pass's, and ship the model with that setting (default "
        "%(default)s; 1 turns it off; adds about FACTOR^2 of one pass to inference time)",
    )
    p.add_argument(
        "--size-prior",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="fit a box-size prior of phone peaks on the calibration scans and ship it in the "
        "manifest (default on; see detect.calibration.size_adjust)",
    )
    p.add_argument("--calibration-scans", type=_positive_int, default=300)
    p.add_argument("--test-scans", type=_positive_int, default=300)
    p.add_argument(
        "--source",
        choices=("simulator", "standin"),
        default="simulator",
        help="scan source; 'standin' is a tiny synthetic smoke-test generator",
    )
    p.add_argument("--jobs", type=_positive_int, default=1, help="scan generator processes")
    p.add_argument("--threads", type=_positive_int, default=2, help="torch/onnxruntime threads")
    p.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="where to train: a CUDA GPU when one is present (auto, the default), or cpu / cuda",
    )
    p.add_argument(
        "--loader-threads",
        type=_non_negative_int,
        default=0,
        help="background threads preparing training batches (default 0: inline); 3-4 keep a GPU "
        "busy",
    )
    p.add_argument(
        "--memory-gb",
        type=_positive_float,
        default=None,
        help="memory the training scans may take, GB (default: half of this machine's); a "
        "larger cache is trained on a window of scans that slides through it each epoch",
    )
    p.add_argument(
        "--hard-phone-weight",
        type=_at_least_one,
        default=2.0,
        help="how much more often object crops centre on mini phones and internally concealed "
        "phones than on other phones (default %(default)s)",
    )
    p.add_argument(
        "--stride",
        type=int,
        choices=(2, 4),
        default=4,
        help="output stride of the heatmap (default %(default)s); 2 gives small objects such as "
        "mini phones finer peaks at about twice the inference time (benchmarks/architecture.py); "
        "a stride-2 run may start from a stride-4 checkpoint (--init-from)",
    )
    p.add_argument(
        "--pitch",
        type=_pitch,
        default=None,
        metavar="MM",
        help="working pitch of a new model and of the scans generated for it, mm per pixel "
        "(default: the --init-from parent's, or the run's own when resuming, else 2); a finer "
        "pitch resolves mini phones better at about "
        "(2 / MM)^2 times the inference time (benchmarks/architecture.py). Training may use a "
        "cache made at another pitch (crops are resampled); calibration and test records must "
        "be at the model's pitch, so give them a --cache of their own. Later stages follow the "
        "checkpoint's pitch",
    )
    p.add_argument(
        "--stages",
        type=_stages,
        default=("data", "fit", "export", "calibrate"),
        help="comma-separated stages: data,fit,average,export,calibrate,install "
        "(default data,fit,export,calibrate)",
    )
    p.add_argument(
        "--install",
        action="store_true",
        help="also copy the model, manifest and model card into the models package",
    )
    p.add_argument("--version", default="1.0.0", help="model version written to the manifest")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    try:
        from models.training.cache import Source
        from models.training.errors import TrainingError
        from models.training.pipeline import PipelineOptions, Stage, run_pipeline
    except ModuleNotFoundError as exc:
        logger.error(
            "training needs the optional 'train' extra (%s); install it with "
            "`pip install -e .[train]`",
            exc.name,
        )
        return 2
    if any(c % 32 for c in args.crop):
        logger.error("--crop %s %s: both sides must be multiples of 32", *args.crop)
        return 2
    stages = tuple(Stage(s) for s in args.stages)
    if args.install and Stage.INSTALL not in stages:
        stages = (*stages, Stage.INSTALL)
    if args.average and Stage.AVERAGE not in stages:
        stages = tuple(s for s in stages if s not in (Stage.DATA, Stage.FIT))
        stages = tuple(sorted((*stages, Stage.AVERAGE), key=list(Stage).index))
    opts = PipelineOptions(
        out=args.out,
        cache=args.cache,
        seed=args.seed,
        scans=args.scans,
        calibration_scans=args.calibration_scans,
        test_scans=args.test_scans,
        epochs=args.epochs,
        steps_per_epoch=args.steps_per_epoch,
        batch_size=args.batch_size,
        crop=tuple(args.crop),
        minutes=args.minutes,
        resume=args.resume,
        source=Source(args.source),
        jobs=args.jobs,
        threads=args.threads,
        version=args.version,
        stages=stages,
        progress=not args.no_progress,
        init_from=args.init_from,
        warmup_steps=args.warmup_steps,
        lr=args.lr,
        flip_test=args.flip_test,
        zoom_test=args.zoom_test,
        size_prior=args.size_prior,
        device=args.device,
        loader_threads=args.loader_threads,
        memory_gb=args.memory_gb,
        hard_phone_weight=args.hard_phone_weight,
        stride=args.stride,
        pitch_mm=args.pitch,
        average=tuple(args.average),
    )
    try:
        run_pipeline(opts)
    except TrainingError as exc:
        logger.error("%s", exc)
        return 1
    return 0
