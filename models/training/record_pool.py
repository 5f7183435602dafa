"""The training records held in memory while a run trains.

A cache of native 1.6 mm scans takes about 1.8 MB of memory per record once the air around the
body is cut, so 20,000 records need ~36 GB: more than most training machines have. The pool
keeps every record in memory when they fit in a budget (by default half of the machine's
memory); otherwise it holds a window of as many records as fit and slides that window through
the cache by a fixed share each epoch, loading the next epoch's records in a background thread
while the current epoch trains. The window depends only on the records present, the budget and
the epoch, so a resumed run sees the same records as an uninterrupted one.
"""

from __future__ import annotations

import logging
import mmap
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from models.training.cache import CacheRecord
from models.training.errors import DataError

__all__ = ["RecordPool", "default_memory_bytes", "own_pages"]

logger = logging.getLogger(__name__)

_G = TypeVar("_G", bound=np.generic)

#: Share of the machine's memory the records may take when no budget is given.
DEFAULT_MEMORY_SHARE = 0.5
#: Budget used when the machine's memory cannot be read.
_FALLBACK_MEMORY_BYTES = 8 * 10**9


def default_memory_bytes() -> int:
    """Half of this machine's physical memory (8 GB where it cannot be read)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        return _FALLBACK_MEMORY_BYTES
    return int(total * DEFAULT_MEMORY_SHARE) if total > 0 else _FALLBACK_MEMORY_BYTES


def own_pages(a: NDArray[_G]) -> NDArray[_G]:
    """A copy of ``a`` in its own anonymous memory map, returned to the system when freed.

    Records held for many epochs and replaced one window step at a time are the worst case for
    the C allocator: freed images of a few MB stay inside its heaps and a sliding window grew a
    run's memory to ~2.5x what it held. Pages of their own are unmapped as soon as the array is
    garbage collected.

    Parameters
    ----------
    a : ndarray, any shape

    Returns
    -------
    ndarray
        Same shape, dtype and values as ``a``, C-contiguous.
    """
    if a.nbytes == 0:
        return a.copy()
    # private where the platform has it, so that a forked process cannot write into the record
    private = {"flags": mmap.MAP_PRIVATE} if hasattr(mmap, "MAP_PRIVATE") else {}
    buf = mmap.mmap(-1, a.nbytes, **private)
    out: NDArray[_G] = np.frombuffer(buf, dtype=a.dtype, count=a.size).reshape(a.shape)
    out[...] = a
    return out


def _nbytes(rec: CacheRecord) -> int:
    return int(rec.image.nbytes + rec.boxes.nbytes + rec.labels.nbytes)


class RecordPool:
    """Training records in memory: all of them, or a window that slides one step per epoch.

    Parameters
    ----------
    load : callable
        ``load(path) -> CacheRecord or None``; None for a record that cannot be read (it is
        then left out for the rest of the run).
    memory_bytes : int, optional
        Most bytes of record arrays to hold; ``None`` for :func:`default_memory_bytes`.
    slide : float
        Share of the window replaced each epoch when the records do not all fit, in (0, 1].
    """

    def __init__(
        self,
        load: Callable[[Path], CacheRecord | None],
        memory_bytes: int | None = None,
        slide: float = 0.1,
    ) -> None:
        if memory_bytes is not None and memory_bytes <= 0:
            raise DataError(
                f"memory budget {memory_bytes} bytes is not positive; give e.g. --memory-gb 8"
            )
        if not 0.0 < slide <= 1.0:
            raise DataError(f"slide={slide} must be in (0, 1], e.g. 0.1")
        self._load = load
        self.memory_bytes = default_memory_bytes() if memory_bytes is None else memory_bytes
        self.slide = slide
        self._held: dict[Path, CacheRecord] = {}
        self._bytes = 0
        self._bad: set[Path] = set()
        #: Records that fit in the budget; None while every record seen so far fits.
        self.capacity: int | None = None
        self._prefetch: threading.Thread | None = None
        self._prefetched: dict[Path, CacheRecord | None] = {}

    @property
    def held_bytes(self) -> int:
        """Bytes of record arrays now in memory."""
        return self._bytes

    def usable(self, paths: Sequence[Path]) -> list[Path]:
        """``paths`` without the records found unreadable so far."""
        return [p for p in paths if p not in self._bad]

    def _take(self, path: Path, rec: CacheRecord | None) -> None:
        if rec is None:
            self._bad.add(path)
        elif path not in self._held:
            self._held[path] = rec
            self._bytes += _nbytes(rec)

    def _drop(self, path: Path) -> None:
        rec = self._held.pop(path, None)
        if rec is not None:
            self._bytes -= _nbytes(rec)

    def _join(self) -> None:
        if self._prefetch is not None:
            self._prefetch.join()
            self._prefetch = None
        for p, rec in self._prefetched.items():
            self._take(p, rec)
        self._prefetched = {}

    def _step(self) -> int:
        assert self.capacity is not None
        return max(1, round(self.capacity * self.slide))

    def window(self, paths: Sequence[Path], epoch: int) -> list[Path]:
        """Records held during ``epoch`` (all of ``paths`` when they fit)."""
        paths = self.usable(paths)
        n = len(paths)
        if self.capacity is None or self.capacity >= n:
            return list(paths)
        start = (epoch * self._step()) % n
        return [paths[(start + i) % n] for i in range(self.capacity)]

    def drawn(self, paths: Sequence[Path], epoch: int) -> list[Path]:
        """Records held in epochs 0 to ``epoch``: the first ones of ``paths`` the window has
        reached, or all of them."""
        paths = self.usable(paths)
        if self.capacity is None or self.capacity >= len(paths):
            return list(paths)
        return list(paths[: self.capacity + epoch * self._step()])

    def update(self, paths: Sequence[Path], epoch: int) -> list[CacheRecord]:
        """Hold the records of ``epoch`` and return them, in the order of ``paths``' window.

        Loads what is missing (the part prefetched during the last epoch is waited for), frees
        what left the window and starts prefetching the next epoch's new records.
        """
        self._join()
        if self.capacity is None:
            for p in self.usable(paths):
                if p in self._held:
                    continue
                if self._held and self._bytes >= self.memory_bytes:
                    self.capacity = len(self._held)
                    self._announce(len(self.usable(paths)))
                    break
                self._take(p, self._load(p))
        current = self.window(paths, epoch)
        keep = set(current)
        for p in [p for p in self._held if p not in keep]:
            self._drop(p)
        for p in current:
            if p not in self._held and p not in self._bad:
                self._take(p, self._load(p))
        if self.capacity is not None:
            upcoming = [p for p in self.window(paths, epoch + 1) if p not in self._held]
            if upcoming:
                self._prefetch = threading.Thread(
                    target=self._fetch, args=(upcoming,), name="record-prefetch", daemon=True
                )
                self._prefetch.start()
        return [self._held[p] for p in current if p in self._held]

    def _fetch(self, paths: list[Path]) -> None:
        for p in paths:
            self._prefetched[p] = self._load(p)

    def _announce(self, n: int) -> None:
        per = self._bytes / max(1, len(self._held))
        logger.info(
            "the %d training records need about %.1f GB of memory, more than the %.1f GB "
            "budget: %d are held at a time and %.0f%% of them are replaced each epoch "
            "(--memory-gb sets the budget)",
            n,
            n * per / 1e9,
            self.memory_bytes / 1e9,
            len(self._held),
            100 * self.slide,
        )
