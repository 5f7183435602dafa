"""PNG rendering of a scan with its findings (used by ``scanguard detect --png`` and the service).

Window/level goes through :func:`kernels.window_level`, colour through
:func:`kernels.pseudo_colour`, boxes and labels are drawn with Pillow.
"""

from __future__ import annotations

import io
import math

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

from detect.errors import InputError
from detect.result import Decision, Result
from kernels import ColourMap, KernelError, clahe, pseudo_colour, unsharp, window_level
from scanner.scan import Scan

__all__ = ["CLASS_COLOURS", "auto_window", "render_scan_png"]

#: Box colour (RGB) per class; classes not listed use :data:`OTHER_COLOUR`.
CLASS_COLOURS: dict[str, tuple[int, int, int]] = {
    "phone": (255, 40, 40),
    "power_bank": (255, 140, 0),
    "battery": (255, 210, 0),
    "sim_card": (0, 200, 255),
    "blade": (255, 0, 255),
    "drug_package": (60, 220, 60),
}
OTHER_COLOUR = (255, 255, 255)
_DECISION_COLOURS = {
    Decision.ALARM: (220, 30, 30),
    Decision.INCONCLUSIVE: (230, 160, 0),
    Decision.CLEAR: (30, 160, 60),
}


def auto_window(image: NDArray[np.float32]) -> tuple[float, float]:
    """(window, level) spanning the 0.5th to 99.5th percentile of ``image`` (rows, cols)."""
    sample = image[:: max(1, image.shape[0] // 512), :: max(1, image.shape[1] // 512)]
    lo, hi = (float(v) for v in np.percentile(sample, [0.5, 99.5]))
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi - lo < 1e-3:
        lo, hi = lo if math.isfinite(lo) else 0.0, (lo if math.isfinite(lo) else 0.0) + 1.0
    return hi - lo, (hi + lo) / 2.0


def _enhance(u8: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Local contrast (CLAHE) then mild sharpening of an 8-bit image."""
    out = unsharp(clahe(u8, clip_limit=0.01), radius=1.5, amount=0.5)
    return np.asarray(np.round(np.clip(out, 0.0, 1.0) * 255.0), dtype=np.uint8)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow built without FreeType
        return ImageFont.load_default()


def render_scan_png(
    scan: Scan,
    result: Result | None,
    *,
    window: float | None = None,
    level: float | None = None,
    invert: bool = False,
    colormap: str = "grey",
    enhance: bool = False,
    boxes: bool = True,
) -> bytes:
    """Render a scan (and optionally its findings) to PNG bytes.

    Parameters
    ----------
    scan : Scan
        The scan; its attenuation image (rows, cols) is shown at full resolution.
    result : Result or None
        Findings to draw; None draws none.
    window, level : float, optional
        Display window width and centre in attenuation units; default from the image's
        0.5th-99.5th percentiles.
    invert : bool
        Show dense material dark (radiograph look) instead of bright.
    colormap : str
        ``"grey"``, ``"density"`` or ``"hot"`` (:class:`kernels.ColourMap`).
    enhance : bool
        Apply local contrast enhancement after windowing (:func:`kernels.clahe`, then a mild
        :func:`kernels.unsharp`).
    boxes : bool
        Draw the findings' boxes, labels and confidences, and the decision banner.

    Returns
    -------
    bytes
        An RGB PNG of shape (rows, cols).

    Raises
    ------
    InputError
        If the window is not positive, or the colour map is unknown.
    """
    try:
        cmap = ColourMap(colormap)
    except ValueError as exc:
        names = ", ".join(repr(m.value) for m in ColourMap)
        raise InputError(f"unknown colormap {colormap!r}; use one of {names}") from exc
    auto_w, auto_l = auto_window(scan.image)
    w = auto_w if window is None else float(window)
    lv = auto_l if level is None else float(level)
    if not (math.isfinite(w) and w > 0 and math.isfinite(lv)):
        raise InputError(f"window must be a positive number and level finite, got {w}, {lv}")
    try:
        u8 = window_level(scan.image, w, lv, invert=bool(invert))
        if enhance:
            u8 = _enhance(u8)
        rgb = pseudo_colour(u8, cmap)
    except KernelError as exc:
        raise InputError(f"cannot render the scan: {exc}") from exc
    img = Image.fromarray(np.ascontiguousarray(rgb), mode="RGB")
    if boxes and result is not None:
        _draw_findings(img, result)
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=4)
    return buf.getvalue()


def _draw_findings(img: Image.Image, result: Result) -> None:
    draw = ImageDraw.Draw(img)
    cols, rows = img.size
    line = max(2, round(min(rows, cols) / 250))
    font = _font(max(12, round(min(rows, cols) / 40)))
    for f in result.findings:
        colour = CLASS_COLOURS.get(f.label, OTHER_COLOUR)
        x, y, w, h = f.bbox_px
        x0, y0 = round(x), round(y)
        x1, y1 = max(x0 + 1, round(x + w) - 1), max(y0 + 1, round(y + h) - 1)
        draw.rectangle((x0, y0, x1, y1), outline=colour, width=line)
        text = f"{f.label} {f.confidence:.2f}"
        tb = draw.textbbox((0, 0), text, font=font)
        tw, th = tb[2] - tb[0], tb[3] - tb[1]
        ty = y0 - th - 2 * line if y0 - th - 2 * line >= 0 else min(y1 + line, rows - th - line)
        tx = min(max(0, x0), max(0, cols - tw - 2 * line))
        draw.rectangle((tx, ty, tx + tw + 2 * line, ty + th + 2 * line), fill=(0, 0, 0))
        draw.text((tx + line - tb[0], ty + line - tb[1]), text, fill=colour, font=font)
    banner = f"{result.decision.value} {result.scan_score:.2f}"
    tb = draw.textbbox((0, 0), banner, font=font)
    draw.rectangle(
        (0, 0, tb[2] - tb[0] + 4 * line, tb[3] - tb[1] + 4 * line),
        fill=_DECISION_COLOURS[result.decision],
    )
    draw.text((2 * line - tb[0], 2 * line - tb[1]), banner, fill=(255, 255, 255), font=font)
