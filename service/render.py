"""PNG rendering of stored scans, with an LRU cache of decoded scans."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from service.errors import InvalidParameterError

if TYPE_CHECKING:
    from detect.result import Result
    from scanner.scan import Scan


class Colormap(StrEnum):
    """Colour maps of the image endpoint (``gray`` is accepted as a spelling of ``grey``)."""

    GREY = "grey"
    GRAY = "gray"
    DENSITY = "density"
    HOT = "hot"

    @property
    def kernel_name(self) -> str:
        """The :class:`kernels.ColourMap` value."""
        return "grey" if self is Colormap.GRAY else self.value


@dataclass(frozen=True)
class RenderOptions:
    """Display settings of one rendering (``None`` window/level = automatic)."""

    window: float | None = None
    level: float | None = None
    invert: bool = False
    colormap: Colormap = Colormap.GREY
    enhance: bool = False
    boxes: bool = True


def render_png(scan: Scan, result: Result | None, options: RenderOptions) -> bytes:
    """Render a scan (and optionally its finding boxes) as PNG bytes.

    Goes through :func:`detect.render.render_scan_png` (kernels window/level and colour).

    Parameters
    ----------
    scan : Scan
        Decoded scan, ``image`` float32 (rows, cols) attenuation.
    result : Result or None
        Findings drawn when ``options.boxes``.
    options : RenderOptions

    Raises
    ------
    InvalidParameterError
        When the renderer refuses the display parameters.
    """
    from detect.errors import InputError
    from detect.render import render_scan_png

    try:
        return render_scan_png(
            scan,
            result,
            window=options.window,
            level=options.level,
            invert=options.invert,
            colormap=options.colormap.kernel_name,
            enhance=options.enhance,
            boxes=options.boxes,
        )
    except InputError as exc:
        raise InvalidParameterError(str(exc)) from exc


class ScanCache:
    """Thread-safe LRU of decoded scans keyed by scan id.

    Parameters
    ----------
    size : int
        Scans kept (0 disables the cache).
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, Scan] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> Scan | None:
        """The cached scan, or ``None``."""
        with self._lock:
            scan = self._items.get(key)
            if scan is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return scan

    def put(self, key: str, scan: Scan) -> None:
        """Remember a scan, evicting the least recently used beyond ``size``."""
        if self.size <= 0:
            return
        with self._lock:
            self._items[key] = scan
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)
