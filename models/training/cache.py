"""The training cache: preprocessed scans (float16, working pitch) with boxes, one ``.npz`` each.

A generator process writes records (atomically, so a trainer reading the folder never sees half a
file); the trainer re-lists the folder every epoch and picks up new records.

Each record holds
``image`` float16 (H, W): the model input before padding
(``clip(attenuation * scale, 0, clip_max)``),
``boxes`` float32 (N, 4): ``[x, y, w, h]`` in working pixels,
``labels`` int64 (N,): class index (see :data:`models.training.classes.CLASSES`),
``meta``: a JSON string with the seed, encoding, acquisition, working pitch (``pitch_mm``) and
per-object attributes.

Records of one folder may differ in pitch: the trainer resamples each crop to the model's
working pitch (:class:`models.training.data.CropSampler`), while evaluation needs records at
the model's own pitch (:func:`check_pitch`).
"""

from __future__ import annotations

import io
import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from models.manifest import InputSpec
from models.training.classes import class_index
from models.training.errors import DataError

__all__ = [
    "CacheRecord",
    "Source",
    "Split",
    "check_pitch",
    "generate",
    "list_records",
    "load_record",
    "make_record",
    "meta_pitch",
    "record_pitch",
    "split_seeds",
]

logger = logging.getLogger(__name__)


class Split(StrEnum):
    """Disjoint seed ranges: scans of one split never appear in another."""

    TRAIN = "train"
    CALIBRATION = "calibration"
    TEST = "test"


#: Offset of each split's seeds inside a training seed's block of 10 million seeds.
_SPLIT_OFFSET = {Split.TRAIN: 0, Split.CALIBRATION: 5_000_000, Split.TEST: 7_000_000}
_SEED_BLOCK = 10_000_000
#: Working pitch (mm) of records written before records stated their pitch: all used the default.
LEGACY_PITCH_MM = 2.0
#: Generation stops if this many scans fail before any succeeds.
_MAX_FIRST_FAILURES = 5


class Source(StrEnum):
    """Where scans come from."""

    #: ``scanner.simulate`` through the vendor encodings and ``scanner.read_scan``.
    SIMULATOR = "simulator"
    #: The private rectangles-on-noise stand-in (tests and smoke runs only).
    STANDIN = "standin"


def split_seeds(seed: int, split: Split | str, n: int, start: int = 0) -> list[int]:
    """Scan seeds of a split.

    Parameters
    ----------
    seed : int
        Training seed (``scanguard train --seed``).
    split : Split or str
    n : int
        Number of seeds.
    start : int
        Index of the first seed inside the split.
    """
    base = seed * _SEED_BLOCK + _SPLIT_OFFSET[Split(split)]
    return [base + start + i for i in range(n)]


@dataclass
class CacheRecord:
    """One preprocessed scan.

    Attributes
    ----------
    image : ndarray of float16, shape (H, W)
    boxes : ndarray of float32, shape (N, 4)
        ``[x, y, w, h]`` in working pixels.
    labels : ndarray of int64, shape (N,)
    meta : dict
        ``seed``, ``encoding``, ``acquisition``, ``pitch_mm`` and ``objects`` (one dict per box,
        same order).
    """

    image: NDArray[np.float16]
    boxes: NDArray[np.float32]
    labels: NDArray[np.int64]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def pitch_mm(self) -> float:
        """Working pitch of the image and boxes (mm per pixel)."""
        return meta_pitch(self.meta)

    def save(self, path: Path) -> None:
        """Write atomically (temporary file then rename)."""
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as fh:
            np.savez(
                fh,
                image=self.image,
                boxes=self.boxes,
                labels=self.labels,
                meta=np.array(json.dumps(self.meta, default=str)),
            )
        os.replace(tmp, path)


def _unreadable(path: str | Path, exc: Exception) -> DataError:
    return DataError(
        f"cannot read training cache record {str(path)!r} ({exc}); delete it and re-run "
        "`scanguard train` to regenerate it"
    )


def load_record(path: str | Path) -> CacheRecord:
    """Read one record.

    Raises
    ------
    DataError
        If the file is missing or not a cache record.
    """
    try:
        with np.load(path, allow_pickle=False) as z:
            return CacheRecord(
                image=z["image"].astype(np.float16, copy=False),
                boxes=z["boxes"].astype(np.float32, copy=False).reshape(-1, 4),
                labels=z["labels"].astype(np.int64, copy=False),
                meta=json.loads(str(z["meta"])),
            )
    except (OSError, KeyError, ValueError) as exc:
        raise _unreadable(path, exc) from exc


def list_records(folder: str | Path) -> list[Path]:
    """Finished records in ``folder``, sorted by name (temporary files are skipped)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.npz"))


def meta_pitch(meta: dict[str, Any]) -> float:
    """Working pitch (mm) a record's metadata states (:data:`LEGACY_PITCH_MM` if none)."""
    return float(meta.get("pitch_mm", LEGACY_PITCH_MM))


def record_pitch(path: str | Path) -> float:
    """Working pitch (mm) of one record file (reads only its metadata, not the image)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return meta_pitch(json.loads(str(z["meta"])))
    except (OSError, KeyError, ValueError) as exc:
        raise _unreadable(path, exc) from exc


def check_pitch(paths: Sequence[Path], pitch_mm: float, what: str) -> None:
    """Refuse records whose working pitch is not ``pitch_mm``.

    Evaluation needs records at the model's pitch, and one cache folder holds one pitch.

    Raises
    ------
    DataError
        Naming the folder, both pitches and how to get records at the right pitch.
    """
    for path in paths:
        got = record_pitch(path)
        if abs(got - pitch_mm) > 1e-6:
            raise DataError(
                f"{what} record {str(path)!r} is at {got:g} mm, not at the {pitch_mm:g} mm "
                f"working pitch asked for; use a cache folder of {pitch_mm:g} mm records "
                f"(--cache NEW_FOLDER --pitch {pitch_mm:g} writes them) or --pitch {got:g}"
            )


def _preprocess(image: NDArray[np.float32], spacing: tuple[float, float], spec: InputSpec) -> Any:
    from detect.preprocess import preprocess

    return preprocess(image, spacing, spec)


def _objects_to_boxes(
    objects: Iterable[Any], scale: tuple[float, float]
) -> tuple[NDArray[np.float32], NDArray[np.int64], list[dict[str, Any]]]:
    """Original-pixel object boxes to working-pixel boxes of the classes the model detects."""
    row_f, col_f = scale
    boxes: list[list[float]] = []
    labels: list[int] = []
    attrs: list[dict[str, Any]] = []
    for obj in objects:

        def get(key: str, o: Any = obj) -> Any:
            return o.get(key) if isinstance(o, dict) else getattr(o, key, None)

        category = str(get("category"))
        index = class_index(category)
        if index is None:
            continue
        x, y, w, h = (float(v) for v in get("bbox"))
        boxes.append([x / col_f, y / row_f, w / col_f, h / row_f])
        labels.append(index)
        attrs.append({k: _plain(get(k)) for k in ("category", "kind", "concealment", "location")})
    return (np.asarray(boxes, np.float32).reshape(-1, 4), np.asarray(labels, np.int64), attrs)


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def _jsonable(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return all(isinstance(v, (int, float, str, bool)) for v in value)
    return isinstance(value, (int, float, str, bool))


def make_record(seed: int, source: Source | str, spec: InputSpec) -> CacheRecord:
    """Generate and preprocess one scan.

    With :attr:`Source.SIMULATOR` the scan goes the way a product scan goes: simulated transmission
    -> a randomly chosen vendor encoding (``scanner.encoding.encode_dicom``) -> DICOM bytes ->
    ``scanner.read_scan`` -> ``detect.preprocess.preprocess``.

    Parameters
    ----------
    seed : int
        Scan seed.
    source : Source or str
    spec : InputSpec
        Preprocessing of the model input.
    """
    source = Source(source)
    rng = np.random.default_rng([seed, 7919])
    meta: dict[str, Any] = {"seed": int(seed), "source": source.value}
    if source is Source.STANDIN:
        from models.training._standin import standin_scan

        image, spacing, objects = standin_scan(seed)
        meta["encoding"] = "attenuation"
    else:
        image, spacing, objects, extra = _simulated(seed, rng)
        meta.update(extra)
    pre = _preprocess(image, spacing, spec)
    valid_h, valid_w = pre.valid_shape
    x = np.asarray(pre.tensor, np.float32)[0, 0, :valid_h, :valid_w]
    boxes, labels, attrs = _objects_to_boxes(objects, pre.scale)
    meta["objects"] = attrs
    meta["spacing"] = [float(spacing[0]), float(spacing[1])]
    meta["pitch_mm"] = float(spec.pitch_mm)
    return CacheRecord(x.astype(np.float16), boxes, labels, meta)


def _simulated(
    seed: int, rng: np.random.Generator
) -> tuple[NDArray[np.float32], tuple[float, float], list[Any], dict[str, Any]]:
    from scanner import read_scan
    from scanner.encoding import ENCODINGS, encode_dicom
    from scanner.simulate import simulate_scan

    sim = simulate_scan(int(seed))
    names = sorted(ENCODINGS)
    name = names[int(rng.integers(len(names)))]
    ds = encode_dicom(
        sim.transmission, (float(sim.spacing[0]), float(sim.spacing[1])), ENCODINGS[name]
    )
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    # The simulated spacing stands in only where the encoding stores none (as a station's
    # configuration would): otherwise the reader would assume 1 mm and the boxes would be off.
    scan = read_scan(
        buf.getvalue(),
        validation="ignore",
        pixel_spacing=(float(sim.spacing[0]), float(sim.spacing[1])),
    )
    acq: Any = getattr(sim, "acquisition", None)
    if acq is not None and hasattr(acq, "to_dict"):
        acq = acq.to_dict()
    acq_dict: dict[str, Any] = acq if isinstance(acq, dict) else getattr(acq, "__dict__", {})
    extra = {
        "encoding": name,
        "acquisition": {k: _plain(v) for k, v in acq_dict.items() if _jsonable(_plain(v))},
    }
    return scan.image, scan.spacing, list(sim.objects), extra


def generate(
    out_dir: str | Path,
    seeds: Iterable[int],
    source: Source | str = Source.SIMULATOR,
    spec: InputSpec | None = None,
    prefix: str = "scan",
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write one record per seed into ``out_dir`` (seeds already there are skipped).

    Returns
    -------
    int
        Number of records written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    spec = spec or InputSpec()
    # One folder, one pitch: a seed already there at another pitch would be skipped silently.
    check_pitch(list_records(out)[:1], spec.pitch_mm, "existing")
    written = 0
    failures = 0
    for seed in seeds:
        path = out / f"{prefix}-{seed:012d}.npz"
        if path.exists():
            continue
        t0 = time.perf_counter()
        try:
            record = make_record(seed, source, spec)
        except Exception as exc:  # one bad scan must not stop a long generation run
            logger.warning("seed %d skipped: %s: %s", seed, type(exc).__name__, exc)
            failures += 1
            if written == 0 and failures >= _MAX_FIRST_FAILURES:
                raise DataError(
                    f"the first {failures} scans all failed (last: {type(exc).__name__}: {exc}); "
                    "fix the scan source before generating a cache"
                ) from exc
            continue
        record.save(path)
        written += 1
        logger.debug("seed %d: %.2f s", seed, time.perf_counter() - t0)
        if progress is not None:
            progress(1)
    return written


def main(argv: list[str] | None = None) -> int:
    """Generator process: ``python -m models.training.cache OUT SPLIT SEED N [--source S]``."""
    import argparse

    parser = argparse.ArgumentParser(description="write training cache records")
    parser.add_argument("out")
    parser.add_argument("split", choices=[s.value for s in Split])
    parser.add_argument("seed", type=int)
    parser.add_argument("n", type=int)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--step", type=int, default=1, help="take every STEP-th seed (for workers)")
    parser.add_argument(
        "--source", default=Source.SIMULATOR.value, choices=[s.value for s in Source]
    )
    parser.add_argument(
        "--pitch", type=float, default=InputSpec().pitch_mm, help="working pitch, mm"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    seeds = split_seeds(args.seed, args.split, args.n)[args.start :: args.step]
    spec = InputSpec(pitch_mm=args.pitch)
    n = generate(args.out, seeds, args.source, spec=spec, prefix=args.split)
    logger.info("wrote %d records to %s", n, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
