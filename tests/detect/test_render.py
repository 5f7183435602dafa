"""PNG rendering of a scan with its findings."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from detect.errors import InputError
from detect.render import auto_window, render_scan_png
from detect.result import (
    BodyZone,
    Decision,
    Finding,
    ImageInfo,
    ModelIdentity,
    Result,
    StageTimings,
)
from tests.detect.conftest import make_scan

IMAGE = np.tile(np.linspace(0.0, 4.0, 200, dtype=np.float32), (300, 1))
SCAN = make_scan(IMAGE, (1.0, 1.0))
RESULT = Result(
    decision=Decision.ALARM,
    scan_score=0.9,
    findings=[
        Finding(
            label="phone",
            confidence=0.9,
            bbox_px=(50, 100, 60, 80),
            bbox_mm=(50, 100, 60, 80),
            zone=BodyZone.ABDOMEN,
        )
    ],
    model=ModelIdentity(name="m", version="1", sha256="0" * 64),
    timings=StageTimings(),
    image=ImageInfo(rows=300, cols=200, spacing_mm=(1.0, 1.0), spacing_source="caller"),
)


def _decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def test_grey_window_level_and_invert() -> None:
    """An explicit window maps the ramp linearly; invert flips it."""
    img = _decode(render_scan_png(SCAN, None, window=4.0, level=2.0))
    assert img.shape == (300, 200, 3)
    assert img[150, 0, 0] == 0 and img[150, -1, 0] == 255
    assert (img[..., 0] == img[..., 1]).all()
    inv = _decode(render_scan_png(SCAN, None, window=4.0, level=2.0, invert=True))
    assert inv[150, 0, 0] == 255 and inv[150, -1, 0] == 0


def test_boxes_drawn_only_when_asked() -> None:
    """The phone box is drawn in red; boxes=False leaves the image grey."""
    with_boxes = _decode(render_scan_png(SCAN, RESULT, window=4.0, level=2.0))
    red = (with_boxes[..., 0] > 200) & (with_boxes[..., 1] < 80) & (with_boxes[..., 2] < 80)
    assert red[120:170, 50].all()
    plain = _decode(render_scan_png(SCAN, RESULT, window=4.0, level=2.0, boxes=False))
    assert (plain[..., 0] == plain[..., 2]).all()


def test_colour_map_and_enhance() -> None:
    """The density map gives colour; enhancement changes the grey levels."""
    dens = _decode(render_scan_png(SCAN, None, colormap="density"))
    assert not (dens[..., 0] == dens[..., 2]).all()
    plain = _decode(render_scan_png(SCAN, None))
    enhanced = _decode(render_scan_png(SCAN, None, enhance=True))
    assert enhanced.shape == plain.shape and not np.array_equal(plain, enhanced)


def test_auto_window_spans_percentiles() -> None:
    """The automatic window covers the image's range."""
    window, level = auto_window(IMAGE)
    assert window == pytest.approx(4.0, abs=0.1)
    assert level == pytest.approx(2.0, abs=0.1)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"colormap": "rainbow"}, "unknown colormap"), ({"window": 0.0}, "window must be")],
)
def test_bad_options(kwargs: dict[str, object], match: str) -> None:
    """Unknown colour maps and non-positive windows raise InputError."""
    with pytest.raises(InputError, match=match):
        render_scan_png(SCAN, None, **kwargs)  # type: ignore[arg-type]
