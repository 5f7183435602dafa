"""Contraband models with realistic internal structure (frame, glass, battery layers, PCB, screws).

Each builder takes a random generator and returns an :class:`~scanner.simulate.objects.ObjectModel`;
dimensions are drawn around real devices (smartphones ~150 x 70 x 8 mm, feature phones, the
46.7 x 21 x 12 mm Zanco tiny t1 class of mini phones, 18650 cells, nano-SIMs, razor blades…).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np

from scanner.simulate.enums import Category
from scanner.simulate.materials import Material as M
from scanner.simulate.objects import ObjectModel, Sheet

__all__ = ["KINDS", "make_contraband"]

Rng = np.random.Generator


def _pouch_cell(s: Sheet, cu: float, cv: float, w: float, length: float, t: float) -> None:
    """Li-ion pouch: LiCoO2 and graphite coatings, Cu and Al foils, laminate."""
    m = s.rrect(cu, cv, w, length, 1.5)
    k = t / 4.5
    s.add(M.CATHODE, m, 1.5 * k)
    s.add(M.GRAPHITE, m, 1.8 * k)
    s.add(M.COPPER, m, 0.11 * k)
    s.add(M.ALUMINIUM, m, 0.16 * k + 0.08)
    s.add(M.PLASTIC, m, 0.6 * k)  # separator, electrolyte, laminate polymer
    s.add(M.ALUMINIUM, s.rrect(cu, cv - length / 2 + 2, w * 0.8, 4), 0.3)  # tab strip
    s.add(M.FR4, s.rrect(cu, cv - length / 2 - 2, w * 0.7, 4), 0.8)  # protection board


def _pcb(
    s: Sheet, cu: float, cv: float, w: float, length: float, rng: Rng, dense: float = 1.0
) -> None:
    """Printed circuit board with copper, chips and steel shield cans."""
    board = s.rrect(cu, cv, w, length, 1.0)
    s.add(M.FR4, board, rng.uniform(0.7, 1.1))
    s.add(M.COPPER, board, rng.uniform(0.05, 0.1))
    for _ in range(int(rng.integers(1, 4) * dense) + 1):
        cw, cl = rng.uniform(0.25, 0.6) * w, rng.uniform(0.2, 0.5) * length
        ccu = cu + rng.uniform(-1, 1) * (w - cw) / 2
        ccv = cv + rng.uniform(-1, 1) * (length - cl) / 2
        can = s.rrect(ccu, ccv, cw, cl, 0.5)
        s.add(M.STEEL, can, 0.2 * rng.choice([1, 2]))
        s.add(M.STEEL, can - s.rrect(ccu, ccv, cw - 0.6, cl - 0.6), rng.uniform(1.0, 1.6))
        chip = min(cw, cl) * rng.uniform(0.3, 0.7)
        s.add(M.SILICON, s.rrect(ccu, ccv, chip, chip), 0.3)
        s.add(M.PLASTIC, s.rrect(ccu, ccv, chip * 1.2, chip * 1.2), 0.8)
    for _ in range(int(rng.integers(4, 16) * dense)):
        a = rng.uniform(0.5, 2.5)
        s.add(
            M.STEEL,
            s.rrect(
                cu + rng.uniform(-0.45, 0.45) * w,
                cv + rng.uniform(-0.45, 0.45) * length,
                a,
                a * rng.uniform(0.5, 2),
            ),
            rng.uniform(0.1, 0.5),
        )


def _screws(s: Sheet, points: list[tuple[float, float]], rng: Rng, length: float) -> None:
    r = rng.uniform(0.7, 1.0)
    for cu, cv in points:
        s.add(M.STEEL, s.ellipse(cu, cv, r, r), length)
        s.add(M.STEEL, s.ellipse(cu, cv, r * 1.8, r * 1.8), 0.4)


def smartphone(rng: Rng) -> ObjectModel:
    """Slab smartphone: glass, metal frame and midframe, pouch battery, PCB, cameras, screws."""
    L, W, T = rng.uniform(130, 172), rng.uniform(62, 80), rng.uniform(7.0, 10.0)
    r = rng.uniform(6, 12)
    s = Sheet(L + 5, W + 5)
    outline = s.rrect(0, 0, W, L, r)
    s.body(outline, T)
    s.add(M.GLASS, outline, 0.65)
    if rng.random() < 0.7:
        s.add(M.GLASS, outline, 0.6)
    else:
        s.add(M.PLASTIC, outline, 1.0)
    frame_mat = M.ALUMINIUM if rng.random() < 0.75 else M.STEEL if rng.random() < 0.5 else M.PLASTIC
    wall = rng.uniform(1.0, 2.0)
    s.add(frame_mat, outline - s.rrect(0, 0, W - 2 * wall, L - 2 * wall, max(r - wall, 0.5)), T)
    inner = s.rrect(0, 0, W - 2 * wall, L - 2 * wall, max(r - wall, 0.5))
    s.add(M.ALUMINIUM if frame_mat is not M.PLASTIC else M.PLASTIC, inner, rng.uniform(0.4, 0.9))
    s.add(M.PLASTIC, inner, 0.5)  # display stack polymers
    # battery in the lower part, PCB above it
    bl = L * rng.uniform(0.45, 0.58)
    bw = W * rng.uniform(0.70, 0.85)
    bcv = L / 2 - wall - 8 - bl / 2 - L * rng.uniform(0.02, 0.06)
    bcv = -bcv * (1 if rng.random() < 0.8 else -1)
    _pouch_cell(s, rng.uniform(-2, 2), bcv, bw, bl, rng.uniform(3.8, 5.2))
    pcb_len = L * rng.uniform(0.28, 0.38)
    pcb_cv = -np.sign(bcv) * (L / 2 - wall - 2 - pcb_len / 2)
    _pcb(s, 0, pcb_cv, W - 2 * wall - 2, pcb_len, rng)
    s.add(M.FR4, s.rrect(-(W / 2 - wall - 4), 0, 5, L * 0.5), 0.6)  # flex/side board
    # cameras and speaker, SIM tray, USB port, vibration motor
    cam_v = pcb_cv + np.sign(pcb_cv) * pcb_len * 0.25
    for k in range(int(rng.integers(1, 4))):
        cu = -W / 2 + 12 + k * 11
        s.add(M.GLASS, s.ellipse(cu, cam_v, 5, 5), 1.2)
        s.add(M.STEEL, s.ellipse(cu, cam_v, 5.5, 5.5) - s.ellipse(cu, cam_v, 4.5, 4.5), 1.5)
        s.add(M.PLASTIC, s.ellipse(cu, cam_v, 3.5, 3.5), 3.0)
        s.add(M.MAGNET, s.ellipse(cu, cam_v, 4.5, 4.5) - s.ellipse(cu, cam_v, 3.8, 3.8), 2.0)
    spk_v = -np.sign(pcb_cv) * (L / 2 - wall - 6)
    s.add(M.MAGNET, s.rrect(W * 0.25, spk_v, 10, 7, 1), rng.uniform(1.5, 2.5))
    s.add(M.STEEL, s.rrect(0, spk_v + np.sign(spk_v) * 3, 9, 3.5, 1), 0.6)
    s.add(M.STEEL, s.rrect(W / 2 - wall - 1, pcb_cv, 2.5, 16), 0.8)
    s.add(M.STEEL, s.rrect(-W * 0.25, spk_v, 8, 4, 1), 1.5)
    inset = wall + 2.5
    _screws(
        s,
        [
            (-W / 2 + inset, L / 2 - inset),
            (W / 2 - inset, L / 2 - inset),
            (-3, -(L / 2 - inset)),
            (3, -(L / 2 - inset)),
        ][: int(rng.integers(2, 5))],
        rng,
        3.0,
    )
    if rng.random() < 0.4:  # protective case: polymer back and a raised rim
        c = rng.uniform(1.0, 2.0)
        case = s.rrect(0, 0, W + 2 * c, L + 2 * c, r + c)
        s.add(M.RUBBER if rng.random() < 0.5 else M.PLASTIC, case, c)
        s.add(M.RUBBER, case - outline, T + c)
        s.body(case, T + c)
    return s.model(Category.PHONE, "smartphone")


def feature_phone(rng: Rng) -> ObjectModel:
    """Candy-bar feature phone: plastic housing, small screen, keypad, PCB, prismatic cell."""
    L, W, T = rng.uniform(100, 128), rng.uniform(44, 54), rng.uniform(11, 17)
    s = Sheet(L + 1, W + 1)
    outline = s.rrect(0, 0, W, L, rng.uniform(4, 10))
    s.body(outline, T)
    s.add(M.PLASTIC, outline, rng.uniform(2.2, 3.2))
    s.add(M.PLASTIC, outline - s.rrect(0, 0, W - 3, L - 3, 3), T - 2.5)
    s.add(M.GLASS, s.rrect(0, -L * 0.22, W * 0.7, L * 0.3, 1), 1.4)
    s.add(M.STEEL, s.rrect(0, -L * 0.22, W * 0.75, L * 0.33, 1), 0.3)
    s.add(M.RUBBER, s.rrect(0, L * 0.22, W * 0.8, L * 0.38, 2), 1.2)
    _pcb(s, 0, 0, W - 5, L - 8, rng, dense=0.8)
    cell_l, cell_w = L * rng.uniform(0.35, 0.45), W * rng.uniform(0.7, 0.85)
    _pouch_cell(s, 0, L * 0.15, cell_w, cell_l, rng.uniform(4.0, 5.5))
    s.add(M.ALUMINIUM, s.rrect(0, L * 0.15, cell_w, cell_l, 1), 0.8)
    s.add(M.MAGNET, s.ellipse(0, -L / 2 + 7, 5, 5), 2.0)
    _screws(
        s,
        [
            (-W / 2 + 3.5, -L / 2 + 4),
            (W / 2 - 3.5, -L / 2 + 4),
            (-W / 2 + 3.5, L / 2 - 4),
            (W / 2 - 3.5, L / 2 - 4),
        ],
        rng,
        4.0,
    )
    return s.model(Category.PHONE, "feature_phone")


def mini_phone(rng: Rng) -> ObjectModel:
    """Thumb-sized prison phone (Zanco tiny t1 class): mostly battery and PCB in plastic."""
    L, W, T = rng.uniform(44, 70), rng.uniform(19, 27), rng.uniform(10, 14)
    s = Sheet(L + 1, W + 1)
    outline = s.rrect(0, 0, W, L, rng.uniform(3, 6))
    s.body(outline, T)
    s.add(M.PLASTIC, outline, rng.uniform(1.8, 2.6))
    s.add(M.PLASTIC, outline - s.rrect(0, 0, W - 2.4, L - 2.4, 2), T - 2)
    _pouch_cell(s, 0, L * 0.12, W - 5, L * 0.5, rng.uniform(4.0, 5.5))
    _pcb(s, 0, -L * 0.1, W - 4, L * 0.75, rng, dense=0.5)
    s.add(M.GLASS, s.rrect(0, -L * 0.25, W * 0.75, L * 0.25, 1), 0.8)
    s.add(M.MAGNET, s.ellipse(0, -L / 2 + 4.5, 3, 3), 1.5)
    s.add(M.STEEL, s.rrect(0, L / 2 - 1.5, 7, 2.5), 0.6)  # charging port
    return s.model(Category.PHONE, "mini_phone")


def _cylinder_cell(s: Sheet, cu: float, cv: float, r: float, length: float) -> None:
    """Cylindrical Li-ion cell (18650 class) lying in the plane, along the object's length."""
    jelly = s.rod(cu, cv, r - 0.3, length - 4)
    s.add(M.CATHODE, jelly, 0.33)
    s.add(M.GRAPHITE, jelly, 0.36)
    s.add(M.COPPER, jelly, 0.02)
    s.add(M.ALUMINIUM, jelly, 0.025)
    s.add(M.STEEL, np.maximum(s.rod(cu, cv, r, length) - s.rod(cu, cv, r - 0.25, length), 0), 1.0)
    s.add(M.STEEL, s.rrect(cu, cv - length / 2 + 1, 2 * r, 1.5), 2 * r * 0.25)
    s.add(M.STEEL, s.rrect(cu, cv + length / 2 - 1, 2 * r, 1.5), 2 * r * 0.25)
    s.add(M.STEEL, s.rod(cu, cv, 1.2, length - 2), 0.15)  # centre pin / mandrel


def power_bank(rng: Rng) -> ObjectModel:
    """Power bank with cylindrical or pouch cells, PCB and USB sockets."""
    if rng.random() < 0.5:
        n = int(rng.integers(1, 4))
        W, L, T = 19.5 * n + 4, rng.uniform(90, 105), 23.0
        s = Sheet(L + 1, W + 1)
        outline = s.rrect(0, 0, W, L, 3)
        s.body(outline, T)
        for k in range(n):
            _cylinder_cell(s, -W / 2 + 2 + 9.75 + 19.5 * k, -8, 9.0, 65)
    else:
        W, L, T = rng.uniform(60, 75), rng.uniform(95, 140), rng.uniform(11, 16)
        s = Sheet(L + 1, W + 1)
        outline = s.rrect(0, 0, W, L, 5)
        s.body(outline, T)
        _pouch_cell(s, 0, -8, W - 6, L - 30, T - 4)
    s.add(M.PLASTIC, outline, 3.0)
    s.add(M.PLASTIC, outline - s.rrect(0, 0, W - 3, L - 3, 2), T - 3)
    _pcb(s, 0, L / 2 - 10, W - 6, 14, rng, dense=0.6)
    for k in range(int(rng.integers(1, 3))):
        cu = (k - 0.5) * 16 if W > 35 else 0
        usb = s.rrect(cu, L / 2 - 5, 12, 8)
        s.add(M.STEEL, usb - s.rrect(cu, L / 2 - 5, 11, 7), 4.5)
        s.add(M.STEEL, usb, 0.5)
    return s.model(Category.POWER_BANK, "power_bank")


def charger(rng: Rng) -> ObjectModel:
    """Mains phone charger: plastic case, ferrite transformer with copper windings, pins."""
    W, L, T = rng.uniform(30, 45), rng.uniform(35, 55), rng.uniform(20, 30)
    s = Sheet(L + 20, W + 1)
    outline = s.rrect(0, 0, W, L, 4)
    s.body(outline, T)
    s.add(M.PLASTIC, outline, 3.0)
    s.add(M.PLASTIC, outline - s.rrect(0, 0, W - 3, L - 3, 2), T - 3)
    core = rng.uniform(10, 16)
    s.add(M.FERRITE, s.rrect(0, -2, core, core), core * 0.6)
    s.add(M.COPPER, s.rrect(0, -2, core * 0.8, core * 1.1, 2), 2.0)
    _pcb(s, 0, 6, W - 5, L - 10, rng, dense=0.6)
    for side in (-1, 1):  # pins
        s.add(M.BRASS, s.rrect(side * 6, -L / 2 - 7, 2, 16), 6.5 if rng.random() < 0.5 else 1.5)
    s.add(M.STEEL, s.rrect(0, L / 2 - 4, 12, 8), 0.8)
    return s.model(Category.POWER_BANK, "charger")


def battery(rng: Rng, kind: str) -> ObjectModel:
    """A loose battery: phone pouch cell, 18650/AA cylinder or coin cell."""
    if kind == "pouch":
        W, L, T = rng.uniform(30, 65), rng.uniform(40, 90), rng.uniform(3.5, 6)
        s = Sheet(L + 8, W + 1)
        s.body(s.rrect(0, 2, W, L, 1.5), T)
        _pouch_cell(s, 0, 2, W, L, T)
    elif kind == "cylindrical":
        r, L = (9.0, 65.0) if rng.random() < 0.6 else (7.2, 50.0)
        s = Sheet(L + 1, 2 * r + 1)
        s.body(s.rrect(0, 0, 2 * r, L, r * 0.3), 2 * r)
        _cylinder_cell(s, 0, 0, r, L)
    else:
        r, T = rng.choice([10.0, 12.5]), rng.choice([2.0, 3.2])
        s = Sheet(2 * r + 1, 2 * r + 1)
        disc = s.ellipse(0, 0, r, r)
        s.body(disc, T)
        s.add(M.STEEL, disc, 0.6)
        s.add(M.STEEL, disc - s.ellipse(0, 0, r - 0.3, r - 0.3), T)
        s.add(M.CATHODE, s.ellipse(0, 0, r - 1, r - 1), T * 0.35)
    return s.model(Category.BATTERY, str(kind))


def sim_card(rng: Rng, kind: str) -> ObjectModel:
    """Nano/micro/mini SIM: polymer body, silicon die, copper contact pad."""
    size = kind.removesuffix("_sim")
    W, L, T = {"nano": (8.8, 12.3, 0.67), "micro": (12.0, 15.0, 0.76), "mini": (15.0, 25.0, 0.76)}[
        str(size)
    ]
    s = Sheet(L + 0.5, W + 0.5)
    body = s.rrect(0, 0, W, L, 0.6)
    s.body(body, T)
    s.add(M.PVC if rng.random() < 0.4 else M.PLASTIC, body, T)  # PVC or PC/ABS card body
    chip_v = -L / 2 + 6.0 if size != "nano" else 0.0
    s.add(M.COPPER, s.rrect(0, chip_v, 8.0, 6.5, 0.8), 0.035)
    s.add(M.SILICON, s.rrect(0, chip_v, 4, 4), 0.2)
    s.add(M.PLASTIC, s.rrect(0, chip_v, 6.0, 5.5, 0.5), 0.25)
    return s.model(Category.SIM_CARD, f"{size}_sim")


def blade(rng: Rng, kind: str) -> ObjectModel:
    """Razor, utility, scalpel or knife blade (thin steel)."""
    if kind == "razor":
        W, L, T = 22.0, 43.0, rng.uniform(0.1, 0.2)
        s = Sheet(L + 0.5, W + 0.5)
        m = s.rrect(0, 0, W, L, 0.5)
        for cv in (-12, 0, 12):
            m = m - s.rrect(0, cv, 3, 6, 1.4)
        m = np.clip(m, 0, 1)
    elif kind == "utility":
        W, L, T = 19.0, 61.0, 0.6
        s = Sheet(L + 0.5, W + 0.5)
        taper = np.clip(1 - np.abs(s.v) / (L / 2) * 0.35 - (s.u > W / 2 - 6) * 0.0, 0, 1)
        m = s.rrect(0, 0, W, L) * (s.u + W / 2 < W * (1 - 0.3 * np.abs(s.v) / (L / 2)))
        m = (m * (taper > 0)).astype(np.float32)
    elif kind == "scalpel":
        W, L, T = 8.0, 40.0, 0.4
        s = Sheet(L + 0.5, W + 0.5)
        m = s.rrect(0, 0, W, L, 1) * (s.u < (W / 2) * (1 - np.maximum(s.v, 0) / (L / 2)) + 0.5)
        m = m - s.rrect(0, -L / 4, 2, 10, 1)
        m = np.clip(m, 0, 1).astype(np.float32)
    else:
        W, L, T = rng.uniform(18, 30), rng.uniform(70, 120), rng.uniform(1.2, 2.5)
        s = Sheet(L + 0.5, W + 0.5)
        frac = (s.v + L / 2) / L
        half = (W / 2) * np.where(frac > 0.7, (1 - frac) / 0.3, 1.0)
        m = (np.abs(s.u + 0 * s.v) <= half).astype(np.float32)
        edge = np.clip((s.u + W / 2) / (W * 0.5), 0.15, 1.0)  # ground edge tapers
        s.body(m, T)
        s.add(M.STEEL, m * edge, T)
        return s.model(Category.BLADE, "knife")
    s.body(m, T)
    s.add(M.STEEL, m, T)
    return s.model(Category.BLADE, kind)


def _pellets(rng: Rng) -> ObjectModel:
    """A cluster of small wrapped pellets (body packing): one label around the cluster."""
    n = int(rng.integers(4, 13))
    span_l, span_w = rng.uniform(45, 90), rng.uniform(30, 60)
    s = Sheet(span_l + 30, span_w + 30)
    fill = np.zeros_like(s.envelope)
    for _ in range(n):
        d, length = rng.uniform(8, 15), rng.uniform(16, 32)
        cu, cv = rng.uniform(-span_w / 2, span_w / 2), rng.uniform(-span_l / 2, span_l / 2)
        a = rng.uniform(0, np.pi)
        du, dv = s.u - cu, s.v - cv
        uu, vv = du * np.cos(a) - dv * np.sin(a), du * np.sin(a) + dv * np.cos(a)
        q = 1 - (uu / (d / 2)) ** 2 - (vv / (length / 2)) ** 2
        fill = np.maximum(fill, (np.sqrt(np.maximum(q, 0)) * d).astype(np.float32))
    s.add(M.DRUG, fill * rng.uniform(0.85, 0.97))
    s.add(M.RUBBER, (fill > 0).astype(np.float32), rng.uniform(0.6, 1.2))
    s.envelope = np.where(fill > 0, fill + 1.5, 0).astype(np.float32)
    return s.model(Category.DRUG_PACKAGE, "pellets")


def drug_package(rng: Rng, kind: str) -> ObjectModel:
    """Wrapped drug bolus, a cluster of pellets or a flat bag; organic fill, wrapping, air."""
    if kind == "pellets":
        return _pellets(rng)
    if kind == "bolus":
        d, L = rng.uniform(12, 24), rng.uniform(28, 60)
        s = Sheet(L + 2, d + 2)
        prof = np.maximum(s.dome(0, 0, d / 2, L / 2), s.rod(0, 0, d / 2, L - d) / d)
        fill = prof * d
        s.add(M.DRUG, fill * rng.uniform(0.85, 0.97))
        shell = np.maximum(s.dome(0, 0, d / 2 + 0.6, L / 2 + 0.6) * (d + 1.2) - fill, 0)
        s.add(M.RUBBER, shell, rng.uniform(0.6, 1.0))  # latex/condom layers
        # displaced volume: fill, wrapping and a thin air rim between the layers
        s.envelope = np.where(fill + shell > 0, fill + 2 * shell + 1.2, 0).astype(np.float32)
    else:
        W, L, T = rng.uniform(35, 80), rng.uniform(50, 120), rng.uniform(6, 22)
        s = Sheet(L + 1, W + 1)
        prof = np.minimum(s.dome(0, 0, W / 2, L / 2) * 1.6, 1.0)
        s.add(M.DRUG, prof * T * rng.uniform(0.8, 0.95))
        s.add(M.PLASTIC, s.rrect(0, 0, W, L, 4), 0.2)
        s.add(M.PLASTIC, s.rrect(0, L / 2 - 3, W, 4), 0.8)  # seal
        s.body(prof > 0, T)
        s.envelope = (prof * T + 0.5).astype(np.float32) * (prof > 0)
    return s.model(Category.DRUG_PACKAGE, kind)


#: Builders per category, with relative frequencies of their kinds.
KINDS: dict[Category, list[tuple[str, Callable[[Rng], ObjectModel], float]]] = {
    Category.PHONE: [("smartphone", smartphone, 0.45), ("feature_phone", feature_phone, 0.2),
                     ("mini_phone", mini_phone, 0.35)],
    Category.POWER_BANK: [("power_bank", power_bank, 0.7), ("charger", charger, 0.3)],
    Category.BATTERY: [("pouch", partial(battery, kind="pouch"), 0.5),
                       ("cylindrical", partial(battery, kind="cylindrical"), 0.35),
                       ("coin_cell", partial(battery, kind="coin_cell"), 0.15)],
    Category.SIM_CARD: [("nano_sim", partial(sim_card, kind="nano_sim"), 0.6),
                        ("micro_sim", partial(sim_card, kind="micro_sim"), 0.25),
                        ("mini_sim", partial(sim_card, kind="mini_sim"), 0.15)],
    Category.BLADE: [("razor", partial(blade, kind="razor"), 0.35),
                     ("utility", partial(blade, kind="utility"), 0.3),
                     ("scalpel", partial(blade, kind="scalpel"), 0.15),
                     ("knife", partial(blade, kind="knife"), 0.2)],
    Category.DRUG_PACKAGE: [("bolus", partial(drug_package, kind="bolus"), 0.41),
                            ("bag", partial(drug_package, kind="bag"), 0.34),
                            ("pellets", partial(drug_package, kind="pellets"), 0.25)],
}  # fmt: skip


def make_contraband(rng: Rng, category: Category | str, kind: str | None = None) -> ObjectModel:
    """Build one contraband object.

    Parameters
    ----------
    rng : numpy.random.Generator
    category : Category or str
    kind : str, optional
        A kind of :data:`KINDS` for the category (phones ``"smartphone"``, ``"feature_phone"``,
        ``"mini_phone"``; power banks ``"power_bank"``, ``"charger"``; batteries ``"pouch"``,
        ``"cylindrical"``, ``"coin_cell"``; SIMs ``"nano_sim"``, ``"micro_sim"``,
        ``"mini_sim"``; blades ``"razor"``, ``"utility"``, ``"scalpel"``, ``"knife"``; drug
        packages ``"bolus"``, ``"bag"``, ``"pellets"``); random when omitted.
    """
    cat = Category(category)
    options = KINDS[cat]
    if kind is None:
        p = np.array([o[2] for o in options])
        _, build, _ = options[int(rng.choice(len(options), p=p / p.sum()))]
    else:
        found = [o for o in options if o[0] == kind]
        if not found:
            from scanner.simulate.errors import ConfigError

            valid = ", ".join(o[0] for o in options)
            raise ConfigError(f"unknown kind {kind!r} for {cat.value}; use one of: {valid}")
        _, build, _ = found[0]
    return build(rng)
