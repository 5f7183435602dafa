"""PNG rendering of stored scans, with an LRU cache of decoded scans."""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from detect.result import Result
    from scanner.scan import Scan


class Colormap(str, Enum):
    """Display colour maps of the image endpoint."""

    GRAY = "gray"
    DENSITY = "density"


@dataclass(frozen=True)
class RenderOptions:
    """Display settings of one rendering (``None`` window/level = automatic from the body)."""

    window: float | None = None
    level: float | None = None
    invert: bool = False
    colormap: Colormap = Colormap.GRAY
    enhance: bool = False
    boxes: bool = True


def render_png(scan: Scan, result: Result | None, options: RenderOptions) -> bytes:
    """Render a scan (and optionally its finding boxes) as PNG bytes.

    Uses :func:`detect.render.render_scan_png` when installed, otherwise a plain
    window/level rendering.

    Parameters
    ----------
    scan : Scan
        Decoded scan, ``image`` float32 (rows, cols) attenuation.
    result : Result or None
        Findings drawn when ``options.boxes``.
    options : RenderOptions
    """
    try:
        from detect.render import render_scan_png
    except ImportError:
        return _render_plain(scan, result, options)
    return render_scan_png(
        scan,
        result,
        window=options.window,
        level=options.level,
        invert=options.invert,
        colormap=options.colormap.value,
        enhance=options.enhance,
        boxes=options.boxes,
    )


def _render_plain(scan: Scan, result: Result | None, options: RenderOptions) -> bytes:
    """Window/level to 8 bit (dense = white), boxes in red; used without ``detect.render``."""
    from PIL import Image, ImageDraw

    image = np.asarray(scan.image, dtype=np.float32)
    if options.window is None or options.level is None:
        body = image[image > 0.05]
        lo, hi = (
            (float(np.percentile(body, 1)), float(np.percentile(body, 99.5)))
            if body.size
            else (0.0, 1.0)
        )
        window = options.window if options.window is not None else max(hi - lo, 1e-3)
        level = options.level if options.level is not None else (hi + lo) / 2
    else:
        window, level = options.window, options.level
    scaled = np.clip((image - (level - window / 2)) / window, 0.0, 1.0)
    if options.invert:
        scaled = 1.0 - scaled
    grey = (scaled * 255.0 + 0.5).astype(np.uint8)
    if options.colormap is Colormap.DENSITY:
        from matplotlib import colormaps

        rgb = (colormaps["viridis"](grey)[..., :3] * 255).astype(np.uint8)
        canvas = Image.fromarray(rgb, mode="RGB")
    else:
        canvas = Image.fromarray(grey, mode="L").convert("RGB")
    if options.boxes and result is not None:
        draw = ImageDraw.Draw(canvas)
        for finding in result.findings:
            x, y, w, h = finding.bbox_px
            draw.rectangle([x, y, x + w, y + h], outline=(255, 40, 40), width=2)
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG")
    return buffer.getvalue()


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
