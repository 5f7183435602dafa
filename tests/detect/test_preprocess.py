"""Scan → model input tensor."""

from __future__ import annotations

import numpy as np
import pytest

from detect.errors import InputError
from detect.preprocess import (
    MAX_WORKING_PIXELS,
    InputSpec,
    Window,
    content_window,
    enlarge,
    preprocess,
    tile_window,
)
from kernels import resize


@pytest.mark.parametrize(
    ("shape", "spacing", "valid"),
    [
        ((2000, 800), (1.0, 0.8), (1000, 320)),
        ((300, 250), (2.0, 2.0), (300, 250)),
        ((101, 77), (0.5, 3.0), (25, 116)),
    ],
)
def test_shapes_and_scale(
    shape: tuple[int, int], spacing: tuple[float, float], valid: tuple[int, int]
) -> None:
    """Resampled to 2 mm, padded to a multiple of 32; scale is original px per working px."""
    rng = np.random.default_rng(1)
    pre = preprocess(rng.uniform(0, 3, shape).astype(np.float32), spacing, InputSpec())
    assert pre.valid_shape == valid
    h, w = pre.tensor.shape[2:]
    assert pre.tensor.shape[:2] == (1, 1) and pre.tensor.dtype == np.float32
    assert h % 32 == 0 and w % 32 == 0 and h - valid[0] < 32 and w - valid[1] < 32
    assert pre.scale == pytest.approx((shape[0] / valid[0], shape[1] / valid[1]))


def test_scaling_clipping_and_zero_padding() -> None:
    """x = clip(att * scale, 0, clip_max) inside, zeros in the padding."""
    img = np.full((50, 40), 8.0, np.float32)
    img[:, :20] = -1.0
    spec = InputSpec(scale=0.25, clip_max=1.5, pad_multiple=32, destripe=False)
    pre = preprocess(img, (2.0, 2.0), spec)
    t = pre.tensor[0, 0]
    assert pre.valid_shape == (50, 40) and t.shape == (64, 64)
    assert t[:50, :18].max() == 0.0
    assert t[:50, 22:40].min() == pytest.approx(1.5)
    assert not t[50:].any() and not t[:, 40:].any()


def test_unit_scale_without_clipping_keeps_values() -> None:
    """At the working pitch with scale 1 and a high clip the image passes through unchanged."""
    rng = np.random.default_rng(2)
    img = rng.uniform(0, 2, (64, 96)).astype(np.float32)
    spec = InputSpec(scale=1.0, clip_max=10.0, destripe=False)
    pre = preprocess(img, (2.0, 2.0), spec)
    np.testing.assert_allclose(pre.tensor[0, 0], img, atol=1e-6)


@pytest.mark.parametrize(
    ("image", "spacing", "match"),
    [
        (np.zeros((10, 10, 3), np.float32), (1.0, 1.0), "must be 2-D"),
        (np.zeros((4, 100), np.float32), (1.0, 1.0), "too small"),
        (np.full((20, 20), np.nan, np.float32), (1.0, 1.0), "NaN or infinite"),
        (np.zeros((20, 20), np.float32), (0.0, 1.0), "positive finite"),
        (np.zeros((20, 20), np.complex64), (1.0, 1.0), "real numbers"),
    ],
)
def test_bad_input_is_refused(image: np.ndarray, spacing: tuple[float, float], match: str) -> None:
    """Wrong shape, size, values or spacing raise InputError naming the problem."""
    with pytest.raises(InputError, match=match):
        preprocess(image, spacing, InputSpec())


def test_content_window_is_aligned_and_holds_content() -> None:
    """The window covers every non-air pixel plus the margin, corners on multiples of 32."""
    img = np.zeros((900, 700), np.float32)
    img[200:700, 300:420] = 2.0
    img[650:660, 600:610] = 5.0  # a dense object away from the body
    pre = preprocess(img, (2.0, 2.0), InputSpec(destripe=False))
    win = content_window(pre, InputSpec(), margin=10)
    assert all(v % 32 == 0 for v in (win.row0, win.col0))
    assert win.row1 % 32 == 0 or win.row1 == pre.tensor.shape[2]
    assert win.row0 <= 190 and win.row1 >= 710
    assert win.col0 <= 290 and win.col1 >= 620
    assert (win.row0, win.col0) == (160, 288)
    crop = win.crop(pre)
    assert crop.flags["C_CONTIGUOUS"] and crop.shape == (1, 1, 576, 352)
    assert win.valid_shape(pre) == (576, 352)


def test_content_window_of_air_is_everything() -> None:
    """With nothing above air the window is the whole tensor."""
    rng = np.random.default_rng(3)
    pre = preprocess(rng.normal(0, 0.01, (300, 200)).astype(np.float32), (2.0, 2.0), InputSpec())
    win = content_window(pre, InputSpec())
    assert (win.row0, win.row1, win.col0, win.col1) == (0, 320, 0, 224)


def test_absurd_spacing_is_refused_before_resampling() -> None:
    """A spacing that makes the scan tens of metres across is refused as a wrong spacing."""
    img = np.zeros((2000, 800), np.float32)
    assert round(2000 * 10 / 2) * round(800 * 10 / 2) > MAX_WORKING_PIXELS
    with pytest.raises(InputError, match=r"20\.0 m x 8\.0 m.*spacing is probably wrong"):
        preprocess(img, (10.0, 10.0), InputSpec())


def test_small_window_is_one_tile() -> None:
    """A body-sized window is run in one piece."""
    win = Window(0, 1024, 64, 448)
    (tile,) = tile_window(win, InputSpec())
    assert tile.window == win and tile.core == win


@pytest.mark.parametrize(
    ("win", "max_tile", "overlap"),
    [
        (Window(0, 3200, 0, 1600), 1536, 192),
        (Window(96, 1120, 32, 480), 256, 96),
        (Window(0, 640, 0, 320), 300, 64),
    ],
)
def test_tiles_cover_the_window_with_overlap(win: Window, max_tile: int, overlap: int) -> None:
    """Tiles are aligned, no larger than max_tile, overlap enough, and their cores partition it."""
    spec = InputSpec()
    tiles = tile_window(win, spec, max_tile=max_tile, overlap=overlap)
    side = max_tile // 32 * 32
    assert len(tiles) > 1
    cover = np.zeros((win.row1, win.col1), np.int32)
    for t in tiles:
        w, c = t.window, t.core
        assert all(v % 32 == 0 for v in (w.row0, w.col0))
        assert w.row1 - w.row0 <= side and w.col1 - w.col0 <= side
        assert w.row0 >= win.row0 and w.row1 <= win.row1
        assert w.col0 >= win.col0 and w.col1 <= win.col1
        # the core sits inside the tile, half the overlap from every inner edge
        for lo, hi, core_lo, core_hi, edge_lo, edge_hi in (
            (w.row0, w.row1, c.row0, c.row1, win.row0, win.row1),
            (w.col0, w.col1, c.col0, c.col1, win.col0, win.col1),
        ):
            assert core_lo == edge_lo or core_lo - lo >= overlap // 2
            assert core_hi == edge_hi or hi - core_hi >= overlap // 2
        cover[c.row0 : c.row1, c.col0 : c.col1] += 1
    assert (cover[win.row0 :, win.col0 :] == 1).all()


def test_tile_overlap_must_be_smaller_than_the_tile() -> None:
    """An overlap as large as the tile is refused."""
    with pytest.raises(InputError, match="smaller than the tile size 256"):
        tile_window(Window(0, 1024, 0, 512), InputSpec(), max_tile=256, overlap=256)


def test_enlarge_pads_and_states_the_exact_factor() -> None:
    """The zoom-test input: resized by the rounded factor, zero-padded to the multiple."""
    rng = np.random.default_rng(0)
    image = rng.uniform(0.0, 4.0, (101, 45)).astype(np.float32)
    big = enlarge(image, 1.1, InputSpec())
    assert big.valid_shape == (111, 50)
    assert big.factor == pytest.approx((111 / 101, 50 / 45))
    assert big.tensor.shape == (1, 1, 128, 64) and big.tensor.dtype == np.float32
    np.testing.assert_array_equal(big.tensor[0, 0, :111, :50], resize(image, (111, 50)))
    assert not big.tensor[0, 0, 111:].any() and not big.tensor[0, 0, :, 50:].any()
    # bilinear: no value leaves the input's range
    assert big.tensor.max() <= image.max() and big.tensor[0, 0, :111, :50].min() >= image.min()


@pytest.mark.parametrize("factor", [1.0, 0.8, float("nan")])
def test_enlarge_refuses_a_factor_not_above_one(factor: float) -> None:
    """A zoom factor must enlarge; the message says so."""
    with pytest.raises(InputError, match="finite number above 1"):
        enlarge(np.ones((10, 10), np.float32), factor, InputSpec())
