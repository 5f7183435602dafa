"""Innocent objects that look dense or sharp-edged: metal on clothing, personal items, implants.

:func:`sample_distractors` chooses a plausible set for one body and returns them with their
positions (body coordinates, mm), rotation, tilt and whether they are inside the body.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from scanner.simulate.enums import Sex
from scanner.simulate.materials import Material as M
from scanner.simulate.objects import ObjectModel, Sheet
from scanner.simulate.phantom import Body, _arm_points, _leg_points

__all__ = ["DISTRACTOR_KINDS", "Distractor", "make_distractor", "sample_distractors"]

Rng = np.random.Generator


@dataclass(frozen=True)
class Distractor:
    """A distractor model and where it goes (body coordinates)."""

    model: ObjectModel
    x: float
    y: float
    angle: float
    tilt: float
    internal: bool
    location: str


def belt_buckle(rng: Rng) -> ObjectModel:
    W, L = rng.uniform(35, 60), rng.uniform(40, 75)
    s = Sheet(L, W)
    mat = M.ZINC if rng.random() < 0.6 else M.STEEL
    frame = s.rrect(0, 0, W, L, 4)
    if rng.random() < 0.5:
        s.add(mat, frame, rng.uniform(2, 4))  # plate buckle
    else:
        s.add(mat, frame - s.rrect(0, 0, W - 10, L - 10, 3), rng.uniform(3, 5))
        s.add(M.STEEL, s.rrect(0, 0, 4, L - 8, 2), 3)  # prong
    s.body(frame, 6)
    return s.model(None, "belt_buckle")


def zip_fastener(rng: Rng) -> ObjectModel:
    L = rng.uniform(100, 200)
    s = Sheet(L, 12)
    teeth = ((np.floor((s.v + L) / 2.5) % 2) == 0).astype(np.float32)
    mat = M.BRASS if rng.random() < 0.7 else M.ALUMINIUM
    s.add(mat, teeth * s.rrect(-1.5, 0, 3, L) + (1 - teeth) * s.rrect(1.5, 0, 3, L), 2.0)
    s.add(mat, s.rrect(0, -L / 2 + 12, 9, 22, 2), 2.5)  # slider
    s.add(M.CLOTH, s.rrect(0, 0, 12, L), 0.5)
    return s.model(None, "zip")


def underwire(rng: Rng) -> ObjectModel:
    r = rng.uniform(55, 75)
    s = Sheet(r * 1.1, 2 * r + 4)
    q = np.sqrt(s.u**2 + (s.v + r * 0.45) ** 2)
    arc = ((np.abs(q - r) < 1.2) & (s.v > -r * 0.45)).astype(np.float32)
    s.add(M.STEEL, arc, 1.8)
    return s.model(None, "underwire")


def button(rng: Rng) -> ObjectModel:
    r = rng.uniform(5, 11)
    s = Sheet(2 * r + 1, 2 * r + 1)
    d = s.ellipse(0, 0, r, r)
    if rng.random() < 0.4:
        s.add(M.BRASS, d - s.ellipse(0, 0, r * 0.4, r * 0.4), 1.5)  # jeans rivet button
    else:
        s.add(M.PLASTIC, d, 3)
    return s.model(None, "button")


def coin(rng: Rng) -> ObjectModel:
    r, t = rng.uniform(8, 14), rng.uniform(1.5, 3.0)
    s = Sheet(2 * r + 1, 2 * r + 1)
    d = s.ellipse(0, 0, r, r)
    if rng.random() < 0.3:  # bimetallic
        s.add(M.BRASS, d - s.ellipse(0, 0, r * 0.7, r * 0.7), t)
        s.add(M.COPPER, s.ellipse(0, 0, r * 0.7, r * 0.7), t)
    else:
        s.add(M.BRASS if rng.random() < 0.5 else M.STEEL, d, t)
    return s.model(None, "coin")


def key(rng: Rng) -> ObjectModel:
    L = rng.uniform(45, 65)
    s = Sheet(L, 26)
    head = s.ellipse(0, -L / 2 + 12, 12, 11) - s.ellipse(0, -L / 2 + 5, 2.5, 2.5)
    blade_ = s.rrect(-2, 8, 8, L - 22)
    cuts = (np.sin(s.v * 1.3) > 0.3) & (s.u > 0.5)
    s.add(
        M.BRASS if rng.random() < 0.6 else M.STEEL, np.clip(head + blade_ * (1 - cuts), 0, 1), 2.2
    )
    return s.model(None, "key")


def watch(rng: Rng) -> ObjectModel:
    r = rng.uniform(17, 23)
    s = Sheet(2 * r + 60, 2 * r + 2)
    case = s.ellipse(0, 0, r, r)
    s.add(M.STEEL, case - s.ellipse(0, 0, r - 2, r - 2), 10)
    s.add(M.STEEL, case, 1.0)
    s.add(M.GLASS, case, 1.5)
    s.add(M.BRASS, s.ellipse(0, 0, r * 0.75, r * 0.75), rng.uniform(1.5, 3.0))  # movement
    if rng.random() < 0.5:
        links = s.rrect(0, 0, 20, 2 * r + 60) * ((np.floor(s.v / 4) % 2) == 0)
        s.add(M.STEEL, links * (1 - case), 2.5)
    return s.model(None, "watch")


def glasses(rng: Rng) -> ObjectModel:
    s = Sheet(45, 140)
    for side in (-1, 1):
        rim = s.ellipse(side * 33, 0, 26, 19)
        s.add(M.GLASS if rng.random() < 0.5 else M.PLASTIC, rim, 2.5)
        s.add(
            M.STEEL if rng.random() < 0.5 else M.PLASTIC,
            rim - s.ellipse(side * 33, 0, 24.5, 17.5),
            4.0,
        )
    s.add(M.STEEL, s.rrect(0, -6, 16, 2), 2.0)
    return s.model(None, "glasses")


def hearing_aid(rng: Rng) -> ObjectModel:
    s = Sheet(32, 12)
    s.add(M.PLASTIC, s.rrect(0, 0, 10, 30, 4), 8)
    s.add(M.ZINC, s.ellipse(0, 6, 3.9, 3.9), 3.6)
    s.add(M.STEEL, s.ellipse(0, 6, 3.9, 3.9) - s.ellipse(0, 6, 3.5, 3.5), 3.6)
    s.add(M.FR4, s.rrect(0, -5, 7, 10), 1.0)
    return s.model(None, "hearing_aid")


def dental(rng: Rng) -> ObjectModel:
    n = int(rng.integers(1, 5))
    s = Sheet(12, 60)
    for _k in range(n):
        s.add(
            M.AMALGAM,
            s.ellipse(
                rng.uniform(-26, 26), rng.uniform(-3, 3), rng.uniform(2, 4), rng.uniform(2, 4)
            ),
            rng.uniform(3, 7),
        )
    return s.model(None, "dental_filling")


def pacemaker(rng: Rng) -> ObjectModel:
    s = Sheet(60, 120)
    can = s.rrect(-30, 0, 48, 52, 14)
    s.add(M.TITANIUM, can, 0.8)
    s.add(M.TITANIUM, can - s.rrect(-30, 0, 46, 50, 13), 6)
    s.add(M.CATHODE, s.rrect(-30, 8, 36, 22, 4), 3.0)  # lithium-iodine cell approximated
    s.add(M.FR4, s.rrect(-30, -12, 36, 14), 1.0)
    s.add(M.PLASTIC, s.rrect(-30, -24, 24, 8, 2), 6)
    lead = ((np.abs(s.v - 10 * np.sin((s.u + 6) / 12)) < 0.9) & (s.u > -6)).astype(np.float32)
    s.add(M.STEEL, lead, 1.2)
    return s.model(None, "pacemaker")


def hip_prosthesis(rng: Rng) -> ObjectModel:
    L = rng.uniform(140, 190)
    s = Sheet(L + 60, 70)
    s.add(M.COCR, s.dome(0, -L / 2 - 10, 16, 16), 32)  # head
    s.add(M.TITANIUM, s.dome(0, -L / 2 - 10, 26, 26) - s.dome(0, -L / 2 - 10, 23, 23), 50)
    frac = np.clip((s.v + L / 2) / L, 0, 1)
    stem = (np.abs(s.u - 6 * frac) < (11 - 6 * frac)) & (s.v > -L / 2 + 10) & (s.v < L / 2)
    s.add(M.TITANIUM, stem.astype(np.float32), 14)
    s.add(M.TITANIUM, s.rrect(-5, -L / 2 + 10, 18, 28, 6), 16)  # neck
    return s.model(None, "hip_prosthesis")


def knee_prosthesis(rng: Rng) -> ObjectModel:
    s = Sheet(80, 80)
    s.add(M.COCR, s.rrect(0, -14, 70, 26, 10) * (1 - s.rrect(0, -20, 14, 18)), 30)
    s.add(M.TITANIUM, s.rrect(0, 12, 68, 6, 2), 35)
    s.add(M.TITANIUM, s.rrect(0, 28, 14, 30, 4), 14)
    s.add(M.PLASTIC, s.rrect(0, 4, 66, 10), 35)
    return s.model(None, "knee_prosthesis")


def shoe_shank(rng: Rng) -> ObjectModel:
    # seen along the foot: a short bright bar whose path is the shank length
    s = Sheet(3, rng.uniform(12, 22))
    s.add(M.STEEL, s.rrect(0, 0, s.w * s.res, 1.5), rng.uniform(80, 120))
    return s.model(None, "shoe_shank")


def eyelets(rng: Rng) -> ObjectModel:
    s = Sheet(40, 50)
    for k in range(int(rng.integers(3, 7))):
        y = -15 + k * 6
        for side in (-1, 1):
            s.add(M.BRASS, s.ellipse(side * 12, y, 3, 1.5) - s.ellipse(side * 12, y, 2, 0.8), 2)
    return s.model(None, "eyelets")


def wallet(rng: Rng) -> ObjectModel:
    """Leather wallet with plastic cards and a few coins: a flat rectangle like a phone."""
    W, L = rng.uniform(75, 100), rng.uniform(95, 115)
    s = Sheet(L, W)
    body = s.rrect(0, 0, W, L, 4)
    s.add(M.RUBBER, body, rng.uniform(2.0, 4.0))  # leather
    for _ in range(int(rng.integers(1, 6))):
        s.add(M.PVC, s.rrect(rng.uniform(-3, 3), rng.uniform(-3, 3), 54, 85.6, 3), 0.76)
    if rng.random() < 0.5:
        s.add(M.COPPER, s.rrect(-12, -25, 11, 9, 1), 0.05)  # card chip contacts
        s.add(M.SILICON, s.rrect(-12, -25, 5, 5), 0.2)
    for _ in range(int(rng.integers(0, 4))):
        r = rng.uniform(8, 13)
        s.add(M.BRASS, s.ellipse(rng.uniform(-20, 20), rng.uniform(20, 40), r, r), 2.0)
    s.body(body, 12)
    return s.model(None, "wallet")


def tobacco_tin(rng: Rng) -> ObjectModel:
    """Thin steel tin (tobacco, mints): a hollow metal box of phone-like size."""
    W, L, T = rng.uniform(55, 80), rng.uniform(80, 110), rng.uniform(12, 22)
    s = Sheet(L, W)
    box = s.rrect(0, 0, W, L, 6)
    wall = rng.uniform(0.2, 0.3)
    s.add(M.STEEL, box, 2 * wall)
    s.add(M.STEEL, box - s.rrect(0, 0, W - 2 * wall, L - 2 * wall, 6), T)
    s.add(M.CLOTH, s.rrect(0, 0, W - 3, L - 3, 5), T * rng.uniform(0.1, 0.4))  # contents
    s.body(box, T)
    return s.model(None, "tobacco_tin")


def lighter(rng: Rng) -> ObjectModel:
    """Disposable lighter: plastic body, steel wheel and cap."""
    s = Sheet(82, 26)
    s.add(M.PLASTIC, s.rrect(0, 6, 24, 68, 5), 11)
    s.add(M.STEEL, s.rrect(0, -33, 20, 12, 2), 2.0)
    s.add(M.STEEL, s.ellipse(0, -36, 5, 5), 8)
    return s.model(None, "lighter")


def pen(rng: Rng) -> ObjectModel:
    """Ballpoint pen: plastic barrel, refill, steel spring and tip."""
    L = rng.uniform(130, 150)
    s = Sheet(L, 12)
    s.add(M.PLASTIC, s.rod(0, 0, 5, L), 0.3)
    s.add(M.PLASTIC, s.rod(0, 5, 1.5, L - 20), 0.8)
    s.add(M.BRASS, s.rrect(0, -L / 2 + 4, 2, 8, 0.8), 2.0)
    s.add(M.STEEL, s.rrect(0, L / 2 - 30, 3, 18) * (np.sin(s.v * 3) > 0), 0.8)
    if rng.random() < 0.5:
        s.add(M.STEEL, s.rrect(4.5, -L / 2 + 30, 1.5, 45, 0.5), 1.2)  # metal clip
    return s.model(None, "pen")


DISTRACTOR_KINDS: dict[str, Callable[[Rng], ObjectModel]] = {
    f.__name__: f
    for f in (belt_buckle, zip_fastener, underwire, button, coin, key, watch, glasses,
              hearing_aid, dental, pacemaker, hip_prosthesis, knee_prosthesis, shoe_shank,
              eyelets, wallet, tobacco_tin, lighter, pen)
}  # fmt: skip


def make_distractor(rng: Rng, kind: str) -> ObjectModel:
    """Build one distractor by name (a key of :data:`DISTRACTOR_KINDS`)."""
    try:
        return DISTRACTOR_KINDS[kind](rng)
    except KeyError:
        from scanner.simulate.errors import ConfigError

        raise ConfigError(
            f"unknown distractor {kind!r}; use one of: {', '.join(DISTRACTOR_KINDS)}"
        ) from None


def sample_distractors(rng: Rng, body: Body, amount: float = 1.0) -> list[Distractor]:
    """Choose distractors for ``body``; ``amount`` scales how many (0 none, 1 typical, 3 heavy)."""
    f = body.frac
    out: list[Distractor] = []

    def p(x: float) -> bool:
        return bool(rng.random() < min(1.0, x * amount))

    def add(
        kind: str,
        x: float,
        y: float,
        angle: float = 0.0,
        tilt: float = 0.0,
        internal: bool = False,
        where: str = "clothing",
    ) -> None:
        out.append(Distractor(make_distractor(rng, kind), x, y, angle, tilt, internal, where))

    wb = f(0.43)
    if p(0.6):
        add(
            "belt_buckle",
            rng.normal(0, 10),
            wb + rng.normal(0, 5),
            math.pi / 2,
            rng.uniform(0, 0.3),
        )
    if p(0.6):
        add("zip_fastener", rng.normal(0, 5), wb + 60, rng.normal(0, 0.05), 0.0)
        add("button", rng.normal(0, 5), wb, 0.0, 0.0)
    if p(0.3):
        for k in range(int(rng.integers(3, 8))):
            add("button", rng.normal(0, 2), f(0.2) + k * f(0.035), 0.0, 0.0)
    # phone-like innocent objects in pockets and the waistband: the hard negatives
    for kind, prob in (("wallet", 0.3), ("tobacco_tin", 0.12), ("lighter", 0.2), ("pen", 0.15)):
        if p(prob):
            side = rng.choice([-1, 1])
            add(
                kind,
                side * body.hips * rng.uniform(0.45, 0.9),
                f(rng.uniform(0.44, 0.56)),
                rng.uniform(0, 6.28),
                float(min(abs(rng.normal(0, 0.5)), 1.5)),
            )
    if body.sex is Sex.FEMALE and p(0.7):
        for side in (-1, 1):
            add("underwire", side * body.chest * 0.5, f(0.29), rng.normal(0, 0.1), 0.3)
    for _ in range(int(rng.poisson(0.8 * amount))):
        side = rng.choice([-1, 1])
        add(
            "coin",
            side * body.hips * rng.uniform(0.5, 0.9),
            f(rng.uniform(0.47, 0.55)),
            rng.uniform(0, 6.28),
            rng.uniform(0, 1.4),
        )
    if p(0.35):
        side = rng.choice([-1, 1])
        add(
            "key",
            side * body.hips * rng.uniform(0.5, 0.9),
            f(rng.uniform(0.47, 0.55)),
            rng.uniform(0, 6.28),
            rng.uniform(0, 0.8),
        )
    if p(0.35):
        side = int(rng.choice([-1, 1]))
        _, _, wr, _ = _arm_points(body, side)
        add("watch", wr[0], wr[1] - 10, body.arm_angle * side, rng.uniform(0.5, 1.2))
    if p(0.2):
        add("glasses", 0, f(0.055), math.pi / 2, rng.uniform(0.0, 0.3))
    if p(0.05):
        add("hearing_aid", rng.choice([-1, 1]) * 78, f(0.07), rng.normal(0, 0.3), 0.2)
    if p(0.35):
        add("dental", 0, f(0.098), math.pi / 2, 0.0, internal=True, where="body")
    if p(0.04):
        add("pacemaker", 70, f(0.22), rng.normal(math.pi / 2, 0.3), 0.1, True, "body")
    if p(0.05):
        side = int(rng.choice([-1, 1]))
        hip = _leg_points(body, side)[0]
        add("hip_prosthesis", hip[0] + side * 5, hip[1] + 75, -side * 0.12, 0.05, True, "body")
    if p(0.04):
        side = int(rng.choice([-1, 1]))
        knee = _leg_points(body, side)[2]
        add("knee_prosthesis", knee[0], knee[1] - 10, 0.0, 0.0, True, "body")
    if body.sole > 0:
        for side in (-1, 1):
            ankle = _leg_points(body, side)[3]
            if p(0.4):
                add("shoe_shank", ankle[0] + side * 12, body.height + body.sole * 0.4, 0.0, 0.0)
            if p(0.3):
                add("eyelets", ankle[0] + side * 12, body.height - 55, 0.0, 1.0)
    return out
