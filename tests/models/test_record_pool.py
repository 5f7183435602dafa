"""Tests of the in-memory pool of training records and its sliding window."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np
import pytest

from models.training.cache import CacheRecord
from models.training.data import CropSampler, _load_trimmed
from models.training.errors import DataError
from models.training.record_pool import RecordPool, _nbytes, default_memory_bytes, own_pages

#: Bytes of one fake record: a 10x10 float16 image, one box, one label.
_REC_BYTES = 10 * 10 * 2 + 16 + 8


class _Loader:
    """Fake record loader that counts loads per path and can fail on some."""

    def __init__(self, bad: set[str] | None = None) -> None:
        self.loads: list[str] = []
        self.bad = bad or set()
        self.lock = threading.Lock()

    def __call__(self, path: Path) -> CacheRecord | None:
        with self.lock:
            self.loads.append(path.name)
        if path.name in self.bad:
            return None
        return CacheRecord(
            np.zeros((10, 10), np.float16),
            np.zeros((1, 4), np.float32),
            np.zeros(1, np.int64),
            {"name": path.name},
        )


def _root_bytes(a: np.ndarray) -> int:
    """Size of the buffer at the root of ``a``'s chain of views."""
    base: object = a
    while isinstance(base, np.ndarray) and base.base is not None:
        base = base.base
    return base.nbytes if isinstance(base, np.ndarray) else len(base)  # type: ignore[arg-type]


def _paths(n: int) -> list[Path]:
    return [Path(f"r{i:03d}.npz") for i in range(n)]


def test_fake_record_size() -> None:
    assert _nbytes(_Loader()(Path("a"))) == _REC_BYTES


def test_everything_held_when_it_fits() -> None:
    load = _Loader()
    pool = RecordPool(load, memory_bytes=100 * _REC_BYTES)
    held = pool.update(_paths(20), epoch=0)
    assert [r.meta["name"] for r in held] == [p.name for p in _paths(20)]
    assert pool.capacity is None
    assert pool.held_bytes == 20 * _REC_BYTES
    # a second epoch loads nothing again; new records are taken in
    pool.update(_paths(25), epoch=1)
    assert len(load.loads) == 25


def test_window_slides_through_a_cache_larger_than_the_budget() -> None:
    load = _Loader()
    pool = RecordPool(load, memory_bytes=10 * _REC_BYTES, slide=0.2)
    paths = _paths(30)
    seen: set[str] = set()
    for epoch in range(12):
        held = pool.update(paths, epoch)
        names = [r.meta["name"] for r in held]
        assert len(names) == pool.capacity == 10
        # the window: 10 consecutive records (cyclic), starting 2 further each epoch
        start = (2 * epoch) % 30
        assert names == [paths[(start + i) % 30].name for i in range(10)]
        # only the window is held (the prefetch is not taken in until the next update)
        assert pool.held_bytes == 10 * _REC_BYTES
        seen.update(names)
        # what the run has drawn from so far: the records the window has reached
        assert {p.name for p in pool.drawn(paths, epoch)} == seen
    assert seen == {p.name for p in paths}
    # each record is loaded once per visit of the window, not once per epoch
    assert len(load.loads) == 10 + 12 * 2  # epoch 0, then 2 new per epoch (prefetched)


def test_window_depends_only_on_the_epoch() -> None:
    """A resumed run (fresh pool at epoch 5) holds what an uninterrupted one holds."""
    paths = _paths(30)
    walked = RecordPool(_Loader(), memory_bytes=10 * _REC_BYTES)
    for epoch in range(6):
        a = walked.update(paths, epoch)
    b = RecordPool(_Loader(), memory_bytes=10 * _REC_BYTES).update(paths, 5)
    assert [r.meta["name"] for r in a] == [r.meta["name"] for r in b]


def test_next_window_is_prefetched() -> None:
    load = _Loader()
    pool = RecordPool(load, memory_bytes=10 * _REC_BYTES, slide=0.3)
    paths = _paths(40)
    pool.update(paths, 0)
    assert pool._prefetch is not None
    pool._prefetch.join()
    n = len(load.loads)
    assert load.loads[-3:] == ["r010.npz", "r011.npz", "r012.npz"]
    pool.update(paths, 1)  # everything it needs was prefetched
    assert load.loads[n : n + 3] != ["r010.npz", "r011.npz", "r012.npz"]


def test_unreadable_records_are_left_out(caplog: pytest.LogCaptureFixture) -> None:
    load = _Loader(bad={"r003.npz"})
    pool = RecordPool(load, memory_bytes=100 * _REC_BYTES)
    held = pool.update(_paths(6), 0)
    assert [r.meta["name"] for r in held] == [
        "r000.npz",
        "r001.npz",
        "r002.npz",
        "r004.npz",
        "r005.npz",
    ]
    assert Path("r003.npz") not in pool.usable(_paths(6))
    pool.update(_paths(6), 1)
    assert load.loads.count("r003.npz") == 1  # not retried every epoch


def test_budget_is_announced(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="models.training.record_pool"):
        RecordPool(_Loader(), memory_bytes=4 * _REC_BYTES).update(_paths(8), 0)
    assert "8 training records" in caplog.text and "--memory-gb" in caplog.text


@pytest.mark.parametrize(("memory", "slide"), [(0, 0.1), (-5, 0.1), (100, 0.0), (100, 1.5)])
def test_bad_settings_are_refused(memory: int, slide: float) -> None:
    with pytest.raises(DataError, match=r"e\.g\."):
        RecordPool(_Loader(), memory_bytes=memory, slide=slide)


def test_default_budget_is_half_the_memory() -> None:
    budget = default_memory_bytes()
    assert 10**8 < budget < 10**14


def test_sampler_draws_from_the_window_only(standin_cache: Path) -> None:
    """With a budget of a few records, batches come from the epoch's window."""
    full = CropSampler(standin_cache, crop=(128, 96))
    assert full.refresh() == 12
    per = full._pool.held_bytes / 12
    small = CropSampler(standin_cache, crop=(128, 96), memory_bytes=int(per * 3.5))
    n0 = small.refresh(0)  # the first window only
    assert small._pool.capacity is not None and 3 <= small._pool.capacity <= 5
    assert n0 == small._pool.capacity == len(small.paths)
    window0 = {id(r) for r in small._held}
    assert len(window0) == small._pool.capacity
    b = small.batch(4, np.random.default_rng(0))
    assert b.image.shape == (4, 1, 128, 96)
    assert small.refresh(1) > n0
    assert {r.meta["seed"] for r in small._held} != {
        r.meta["seed"] for r in full._held[: len(window0)]
    }
    assert small.refresh(12) == 12  # the window has reached every record


def test_trimmed_records_free_the_whole_image(tmp_path: Path) -> None:
    """A record cut to the body owns its pixels, so the pool's byte count is what it holds."""
    image = np.zeros((200, 48), np.float16)
    image[100:140, :] = 1.0  # body across the full width: the cut is a contiguous run of rows
    rec = CacheRecord(image, np.array([[5, 110, 8, 8]], np.float32), np.zeros(1, np.int64), {})
    rec.save(tmp_path / "train-000000000000.npz")
    cut = _load_trimmed(tmp_path / "train-000000000000.npz")
    assert cut is not None
    assert _root_bytes(cut.image) == cut.image.nbytes
    assert cut.image.shape == (136, 48)  # 48 rows of air kept on either side
    assert cut.boxes[0, 1] == 110 - 52
    assert _load_trimmed(tmp_path / "missing.npz") is None


@pytest.mark.parametrize("shape", [(7, 5), (0, 3), (4,)])
def test_own_pages_copies_into_a_buffer_of_its_own(shape: tuple[int, ...]) -> None:
    a = np.arange(int(np.prod(shape)), dtype=np.float16).reshape(shape)
    b = own_pages(a)
    assert b.shape == a.shape and b.dtype == a.dtype and b.flags.c_contiguous
    np.testing.assert_array_equal(b, a)
    big = np.zeros((100, 100), np.float16)
    view = own_pages(big[:3, :5])
    assert _root_bytes(view) == 3 * 5 * 2
    view[...] = 9  # writable, and the source is untouched
    assert float(big[:3, :5].max()) == 0.0
