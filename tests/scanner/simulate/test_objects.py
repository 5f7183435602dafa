"""Tests of contraband/distractor models and their projection (rotation, tilt, boxes)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scanner.simulate import Category, ConfigError
from scanner.simulate._raster import Canvas
from scanner.simulate.contraband import KINDS, make_contraband
from scanner.simulate.distractors import DISTRACTOR_KINDS, make_distractor
from scanner.simulate.materials import BODY_MATERIALS
from scanner.simulate.objects import ObjectModel, splat

ALL_KINDS = [(c, k) for c, kinds in KINDS.items() for k, _, _ in kinds]


def _footprint(cv: Canvas) -> np.ndarray:
    total = np.zeros(cv.shape, dtype=np.float32)
    for p in cv.patches:
        total[p.window] += p.path
    for m in BODY_MATERIALS:
        total += cv.maps[m]
    return total


@pytest.mark.parametrize(("category", "kind"), ALL_KINDS)
def test_every_kind_renders(category: Category, kind: str) -> None:
    """Each contraband kind has material, labels itself with that kind and projects a box."""
    model = make_contraband(np.random.default_rng(0), category, kind)
    assert model.category is category and model.kind == kind
    assert sum(float(v.sum()) for v in model.layers.values()) > 0
    cv = Canvas((200, 200), (1.0, 1.0))
    placed = splat(cv, model, (100.0, 100.0), 0.3)
    assert placed is not None and placed.bbox[2] >= 1 and placed.bbox[3] >= 1


@pytest.mark.parametrize("kind", sorted(DISTRACTOR_KINDS))
def test_every_distractor_renders(kind: str) -> None:
    """Each distractor has material and no contraband category."""
    model = make_distractor(np.random.default_rng(0), kind)
    assert model.category is None
    assert sum(float(v.sum()) for v in model.layers.values()) > 0


@pytest.mark.parametrize("seed", range(12))
def test_box_is_tight_around_the_footprint(seed: int) -> None:
    """At any angle and tilt the box holds all of the object and touches it on every side."""
    rng = np.random.default_rng(seed)
    category, kind = ALL_KINDS[seed % len(ALL_KINDS)]
    model = make_contraband(rng, category, kind)
    pitch = (float(rng.uniform(0.5, 2.0)), float(rng.uniform(0.5, 2.0)))
    cv = Canvas((int(300 / pitch[0]), int(300 / pitch[1])), pitch)
    angle, tilt = float(rng.uniform(0, 2 * math.pi)), float(rng.uniform(0, math.pi / 2))
    placed = splat(cv, model, (150.0, 150.0), angle, tilt, int(rng.integers(2)))
    assert placed is not None
    x, y, w, h = placed.bbox
    total = _footprint(cv)
    rr, cc = np.nonzero(total > 0.05 * total.max())
    # every pixel carrying the object overlaps the box ...
    assert rr.min() + 1 >= y and rr.max() <= y + h and cc.min() + 1 >= x and cc.max() <= x + w
    # ... and the box reaches no further than a pixel beyond any pixel that carries it
    rr, cc = np.nonzero(total > 0)
    assert rr.min() <= y + 1 and rr.max() + 1 >= y + h - 1
    assert cc.min() <= x + 1 and cc.max() + 1 >= x + w - 1


def test_tilt_foreshortens_and_thickens() -> None:
    """Tilting by 60° halves the projected length and doubles the path length."""
    model = make_contraband(np.random.default_rng(3), "blade", None)
    model = ObjectModel(model.category, model.kind, model.res,
                        {m: np.ones_like(v) * 0.2 for m, v in model.layers.items()},
                        np.ones_like(model.envelope) * 0.2)  # fmt: skip
    flat, tilted = Canvas((200, 200), (0.5, 0.5)), Canvas((200, 200), (0.5, 0.5))
    a = splat(flat, model, (50.0, 50.0), 0.0)
    b = splat(tilted, model, (50.0, 50.0), 0.0, math.radians(60), 0)
    assert a is not None and b is not None
    assert b.bbox[3] == pytest.approx(a.bbox[3] / 2, abs=2)
    assert b.bbox[2] == pytest.approx(a.bbox[2], abs=1)
    pa = max(float(p.path.max()) for p in flat.patches)
    pb = max(float(p.path.max()) for p in tilted.patches)
    assert pb == pytest.approx(2 * pa, rel=0.05)


def test_edge_on_blade_stays_visible() -> None:
    """An edge-on blade keeps a footprint and its path length is capped by its width."""
    model = make_contraband(np.random.default_rng(0), "blade", None)
    cv = Canvas((200, 200), (1.0, 1.0))
    placed = splat(cv, model, (100.0, 100.0), 0.0, math.pi / 2, 1)
    assert placed is not None and placed.bbox[2] >= 1
    assert max(float(p.path.max()) for p in cv.patches) <= model.size_mm[1] + 1e-3


def test_unknown_kind_is_rejected() -> None:
    """An unknown kind names the valid ones."""
    with pytest.raises(ConfigError, match="smartphone"):
        make_contraband(np.random.default_rng(0), "phone", "tablet")
    with pytest.raises(ConfigError, match="belt_buckle"):
        make_distractor(np.random.default_rng(0), "umbrella")
