"""Tests of the training cache and the class mapping."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.manifest import InputSpec
from models.training.cache import (
    CacheRecord,
    Source,
    Split,
    check_pitch,
    generate,
    list_records,
    load_record,
    record_pitch,
    split_seeds,
)
from models.training.classes import CLASSES, class_index
from models.training.errors import DataError


def test_split_seeds_are_disjoint() -> None:
    """Train, calibration and test seeds never overlap, for one seed or across seeds."""
    seen: set[int] = set()
    for seed in (0, 1):
        for split in Split:
            seeds = set(split_seeds(seed, split, 2000))
            assert len(seeds) == 2000
            assert not seeds & seen
            seen |= seeds


def test_record_round_trip(tmp_path: Path) -> None:
    """A saved record loads back identically and leaves no temporary file behind."""
    rec = CacheRecord(
        image=np.arange(12, dtype=np.float16).reshape(3, 4),
        boxes=np.array([[1, 2, 3, 4]], np.float32),
        labels=np.array([0]),
        meta={"seed": 5, "objects": [{"kind": "mini_phone"}]},
    )
    rec.save(tmp_path / "a.npz")
    back = load_record(tmp_path / "a.npz")
    np.testing.assert_array_equal(back.image, rec.image)
    np.testing.assert_array_equal(back.boxes, rec.boxes)
    assert back.labels.tolist() == [0] and back.meta == rec.meta
    assert list_records(tmp_path) == [tmp_path / "a.npz"]


def test_bad_record_raises(tmp_path: Path) -> None:
    """A file that is not a record raises DataError saying to regenerate it."""
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="regenerate"):
        load_record(tmp_path / "bad.npz")


def test_standin_cache_boxes_inside_images(standin_cache: Path) -> None:
    """Generated records hold float16 images in the input range with boxes inside them."""
    for path in list_records(standin_cache):
        rec = load_record(path)
        assert rec.image.dtype == np.float16
        assert 0.0 <= float(rec.image.min()) and float(rec.image.max()) <= 4.0
        h, w = rec.image.shape
        if len(rec.boxes):
            assert (rec.boxes[:, 0] >= 0).all() and (
                rec.boxes[:, 0] + rec.boxes[:, 2] <= w + 1
            ).all()
            assert (rec.boxes[:, 1] >= 0).all() and (
                rec.boxes[:, 1] + rec.boxes[:, 3] <= h + 1
            ).all()
        assert len(rec.meta["objects"]) == len(rec.labels)


@pytest.mark.parametrize(
    ("name", "index"),
    [("phone", 0), ("Mini-Phone", 0), ("drug_package", 5), ("sim card", 3), ("coin", None)],
)
def test_class_index(name: str, index: int | None) -> None:
    """Simulator categories map onto heatmap channels; unknown ones are skipped."""
    assert class_index(name) == index
    assert CLASSES[0] == "phone"


def test_records_state_their_pitch_and_folders_hold_one(tmp_path: Path) -> None:
    """Records carry the pitch they were made at; records without one are 2 mm (the old default).

    A folder holding records at one pitch refuses records at another, and evaluation records at
    the wrong pitch are refused with the pitch to use.
    """
    out = tmp_path / "p16"
    generate(out, split_seeds(0, "test", 2), Source.STANDIN, InputSpec(pitch_mm=1.6), prefix="t")
    paths = list_records(out)
    assert [record_pitch(p) for p in paths] == [1.6, 1.6]
    fine = load_record(paths[0])
    written = generate(tmp_path / "p2", split_seeds(0, "test", 1), Source.STANDIN, prefix="t")
    assert written == 1 and record_pitch(list_records(tmp_path / "p2")[0]) == 2.0
    # the same scan at 1.6 mm is 2 / 1.6 times as large as at 2 mm
    fine_h = fine.image.shape[0]
    coarse_h = load_record(list_records(tmp_path / "p2")[0]).image.shape[0]
    assert abs(fine_h / coarse_h - 1.25) < 0.02
    legacy = CacheRecord(fine.image, fine.boxes, fine.labels, {"seed": 1})
    assert legacy.pitch_mm == 2.0
    check_pitch(paths, 1.6, "test")
    with pytest.raises(DataError, match=r"at 1.6 mm, not at the 2 mm .*--pitch 1.6"):
        check_pitch(paths, 2.0, "test")
    with pytest.raises(DataError, match="existing record"):
        generate(out, split_seeds(0, "test", 3), Source.STANDIN, InputSpec(), prefix="t")
    assert len(list_records(out)) == 2  # nothing was added
