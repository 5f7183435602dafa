"""Anthropomorphic phantom: a standing person as per-material path-length maps.

The body is built from analytic solids (ellipsoids, tapered cylinders, profiled elliptic
cylinders, curved bands) in mm coordinates with ``x = 0`` on the body's midline and ``y = 0`` at
the top of the head, ``y`` increasing towards the feet. Fat is a shell under the skin, bones and
lungs displace soft tissue, bowel gas removes it, clothing and shoes are shells around the limbs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from scanner.simulate import _raster as R
from scanner.simulate.enums import Location, Pose, Sex
from scanner.simulate.materials import Material as M

__all__ = ["Body", "Region", "draw_body", "hiding_places", "sample_body"]


@dataclass(frozen=True)
class Body:
    """Sampled shape parameters of one person (lengths in mm, angles in rad)."""

    sex: Sex
    height: float
    build: float  # 0 lean … 1 obese
    pose: Pose
    arm_angle: float  # from hanging straight down, outwards
    elbow_flex: float
    stance: float  # half distance between the ankles
    shoulder: float  # half-width at the shoulder joints
    chest: float  # half-width of the rib cage
    waist: float
    hips: float
    depth: float  # half-depth of the abdomen
    fat: float  # subcutaneous fat thickness on the trunk
    cloth_layers: int
    cloth_mm: float  # solid-equivalent fabric per layer
    trousers_to: float  # y where trouser legs end (fraction of height)
    sleeves_to: float  # fraction of the arm covered by sleeves
    sole: float  # shoe sole height (0: barefoot)
    sole_density: float  # foam (0.25) … solid rubber (0.9), relative
    arm_asym: float  # relative difference between the left and right arm angles

    def frac(self, f: float) -> float:
        """``f`` times the standing height."""
        return f * self.height


@dataclass(frozen=True)
class Region:
    """A hiding place: a box in body coordinates (mm) and whether the object is inside the body."""

    location: Location
    x: tuple[float, float]
    y: tuple[float, float]
    internal: bool


def sample_body(
    rng: np.random.Generator,
    sex: Sex | None = None,
    height: float | None = None,
    pose: Pose | None = None,
    build: float | None = None,
) -> Body:
    """Draw a random person; any fixed argument overrides the random choice."""
    sex = Sex(sex) if sex is not None else (Sex.MALE if rng.random() < 0.6 else Sex.FEMALE)
    male = sex is Sex.MALE
    if height is None:
        height = float(np.clip(rng.normal(1760 if male else 1630, 75), 1500, 2000))
    b = float(rng.beta(2.0, 2.6)) if build is None else float(build)
    s = height / 1750
    pose = (
        Pose(pose)
        if pose is not None
        else Pose(rng.choice([p.value for p in Pose], p=[0.55, 0.25, 0.20]))
    )
    arm = {
        Pose.ARMS_DOWN: rng.uniform(0.06, 0.30),
        Pose.ARMS_OUT: rng.uniform(0.5, 1.3),
        Pose.ARMS_UP: rng.uniform(2.6, 3.0),
    }[pose]
    chest = (155 if male else 140) * s * rng.uniform(0.92, 1.08) + 30 * b
    shoulder = chest + (25 if male else 15) * s * rng.uniform(0.8, 1.2)
    waist = (130 if male else 115) * s * rng.uniform(0.9, 1.1) + 90 * b
    hips = (160 if male else 180) * s * rng.uniform(0.92, 1.08) + 55 * b
    depth = (100 + 95 * b) * rng.uniform(0.9, 1.1)
    return Body(
        sex=sex, height=height, build=b, pose=pose, arm_angle=float(arm),
        elbow_flex=float(rng.uniform(0.0, 0.35)), stance=float(rng.uniform(70, 230) * s),
        shoulder=float(shoulder), chest=float(chest), waist=float(waist), hips=float(hips),
        depth=float(depth), fat=float(4 + 38 * b**1.4 * rng.uniform(0.8, 1.2)),
        cloth_layers=int(rng.integers(1, 4)), cloth_mm=float(rng.uniform(0.05, 0.3)),
        trousers_to=float(rng.choice([0.66, 0.96, 0.97, 0.98])),
        sleeves_to=float(rng.choice([0.0, 0.35, 1.0, 1.0])),
        sole=float(rng.choice([0.0, rng.uniform(12, 40)], p=[0.15, 0.85])),
        sole_density=float(rng.uniform(0.25, 0.9)),
        arm_asym=float(rng.normal(0, 0.12)),
    )  # fmt: skip


def _arm_points(body: Body, side: int) -> tuple[tuple[float, float], ...]:
    """Shoulder, elbow, wrist and hand-tip positions of one arm (side = -1 right, +1 left)."""
    sh = (side * body.shoulder * 0.93, body.frac(0.19))
    upper, fore, hand = body.frac(0.186), body.frac(0.146), body.frac(0.108)
    a1 = body.arm_angle * (1 + side * body.arm_asym)
    a2 = a1 + (body.elbow_flex if body.pose is Pose.ARMS_UP else -body.elbow_flex * 0.5)
    el = (sh[0] + side * upper * math.sin(a1), sh[1] + upper * math.cos(a1))
    wr = (el[0] + side * fore * math.sin(a2), el[1] + fore * math.cos(a2))
    tip = (wr[0] + side * hand * math.sin(a2), wr[1] + hand * math.cos(a2))
    return sh, el, wr, tip


def _leg_points(body: Body, side: int) -> tuple[tuple[float, float], ...]:
    """Hip joint, thigh top, knee and ankle of one leg."""
    hip = (side * (body.hips - 75), body.frac(0.475))
    top = (side * (body.hips * 0.55), body.frac(0.485))
    ankle = (side * body.stance, body.frac(0.955))
    knee = (0.45 * top[0] + 0.55 * ankle[0], body.frac(0.715))
    return hip, top, knee, ankle


def body_extent(body: Body) -> tuple[float, float, float, float]:
    """(x_min, x_max, y_min, y_max) in mm that the body (with arms, shoes) occupies."""
    xs, ys = [-body.shoulder - 60, body.shoulder + 60, -body.hips - 40, body.hips + 40], [0.0]
    for side in (-1, 1):
        for x, y in _arm_points(body, side):
            xs.append(x + side * 60)
            ys.append(y - 60)
        ys.append(body.height + body.sole)
        xs.append(side * (body.stance + 80))
    return min(xs), max(xs), min(ys), max(ys)


def _torso_profile(body: Body) -> tuple[list[float], list[float], list[float]]:
    f = body.frac
    ys = [f(0.165), f(0.185), f(0.215), f(0.30), f(0.345), f(0.40), f(0.455), f(0.49), f(0.52)]
    w = [70, body.shoulder * 0.9, body.chest + 12, body.chest + 5, (body.chest + body.waist) / 2,
         body.waist, body.hips, body.hips * 0.93, body.hips * 0.55]  # fmt: skip
    d = body.depth
    chest_d = 95 + 0.35 * (d - 95)
    hd = [55, chest_d * 0.85, chest_d, chest_d * 1.02, (chest_d + d) / 2, d, d * 0.95, d * 0.72,
          0.0]  # fmt: skip
    return ys, [float(v) for v in w], [float(v) for v in hd]


def _limb(
    cv: R.Canvas,
    p0: tuple[float, float],
    p1: tuple[float, float],
    r0: float,
    r1: float,
    fat: float,
    bone: tuple[float, float] | None,
    caps: bool = True,
    bone_shift: float = 0.0,
    fade: float = 0.0,
) -> None:
    """A limb segment: tissue core, fat shell, a hollow long bone (cortex + marrow)."""
    inner = R.segment(cv, p0, p1, r0 - fat, r1 - fat, caps=caps, fade=fade)
    outer = R.segment(cv, p0, p1, r0, r1, caps=caps, fade=fade)
    R.put(cv, M.TISSUE, inner)
    R.put(cv, M.FAT, R.shell(outer, inner))
    if bone is not None:
        ro, ri = bone
        dx, dy = p1[0] - p0[0], p1[1] - p0[1]
        n = math.hypot(dx, dy) or 1.0
        ox, oy = -dy / n * bone_shift, dx / n * bone_shift
        b0 = (p0[0] + ox + dx * 0.04, p0[1] + oy + dy * 0.04)
        b1 = (p1[0] + ox - dx * 0.02, p1[1] + oy - dy * 0.02)
        R.put(cv, M.BONE, R.segment(cv, b0, b1, ro, ro * 0.85), displace=True)
        marrow = R.segment(cv, b0, b1, ri, ri * 0.85)
        R.put(cv, M.BONE, marrow, scale=-1.0)
        R.put(cv, M.FAT, marrow)


def _cloth_shell(
    cv: R.Canvas,
    outer: tuple[R.Window, R.F32] | None,
    inner: tuple[R.Window, R.F32] | None,
    scale: float,
) -> None:
    R.put(cv, M.CLOTH, R.shell(outer, inner), scale)


def draw_body(cv: R.Canvas, body: Body, rng: np.random.Generator) -> None:
    """Render ``body`` onto the canvas's body material maps."""
    f = body.frac
    fat = body.fat
    # --- head and neck -------------------------------------------------------------------
    hx, hy, hz = 74 * body.height / 1750, f(0.062), 94 * body.height / 1750
    head_c = (0.0, f(0.062))
    R.put(cv, M.TISSUE, R.ellipsoid(cv, head_c[0], head_c[1], hx, hy, hz))
    skull_o = R.ellipsoid(cv, head_c[0], head_c[1] - 4, hx - 3, hy - 6, hz - 3)
    skull_i = R.ellipsoid(cv, head_c[0], head_c[1] - 4, hx - 10, hy - 13, hz - 10)
    R.put(cv, M.BONE, R.shell(skull_o, skull_i), displace=True)
    R.put(cv, M.TISSUE, R.ellipsoid(cv, 0, f(0.100), hx * 0.8, f(0.035), hz * 0.8))
    R.put(
        cv,
        M.BONE,
        R.arc_band(cv, 0, f(0.092), hx * 0.7, f(0.024), 12, 5, upper=False),
        displace=True,
    )  # mandible
    R.put(
        cv, M.BONE, R.arc_band(cv, 0, f(0.094), hx * 0.55, 8, 9, 10, upper=False), displace=True
    )  # teeth
    neck_r = (52 if body.sex is Sex.MALE else 45) + 14 * body.build
    R.put(cv, M.TISSUE, R.segment(cv, (0, f(0.115)), (0, f(0.19)), neck_r, neck_r * 1.15,
                                   caps=False))  # fmt: skip
    # --- trunk ---------------------------------------------------------------------------
    ys, hw, hd = _torso_profile(body)
    # individual shape: jitter the trunk's widths and depths (the shoulders stay put)
    hw = [w * float(rng.normal(1.0, 0.035)) if 1 < k < len(hw) - 1 else w for k, w in enumerate(hw)]
    hd = [d * float(rng.normal(1.0, 0.05)) if 1 < k < len(hd) - 1 else d for k, d in enumerate(hd)]
    inner = R.profiled_cylinder(cv, 0.0, ys, hw, hd, grow=-fat)
    outer = R.profiled_cylinder(cv, 0.0, ys, hw, hd)
    R.put(cv, M.TISSUE, inner)
    R.put(cv, M.FAT, R.shell(outer, inner))
    # breasts
    if body.sex is Sex.FEMALE or body.build > 0.6:
        size = (55 if body.sex is Sex.FEMALE else 35) * rng.uniform(0.8, 1.3) + 25 * body.build
        for side in (-1, 1):
            br = R.ellipsoid(cv, side * body.chest * 0.5, f(0.285), size * 1.1, size, size * 0.9)
            R.put(cv, M.FAT, br, 0.7)
            R.put(cv, M.TISSUE, br, 0.3)
    # lungs, gas
    for side in (-1, 1):
        R.put(
            cv,
            M.LUNG,
            R.ellipsoid(
                cv, side * body.chest * 0.47, f(0.262), body.chest * 0.42, f(0.068), hd[3] * 0.7
            ),
            displace=True,
        )
    R.put(cv, M.TISSUE, R.ellipsoid(cv, 35, f(0.335), 40, 28, 45), -1.0)  # stomach bubble
    for _ in range(int(rng.integers(2, 12))):
        gx = rng.uniform(-0.7, 0.7) * body.waist
        gy = f(rng.uniform(0.35, 0.47))
        R.put(
            cv,
            M.TISSUE,
            R.ellipsoid(
                cv,
                gx,
                gy,
                rng.uniform(8, 35),
                rng.uniform(6, 22),
                rng.uniform(8, 30),
                rng.uniform(0, 3),
            ),
            -1.0,
        )
    # mottled bowel content: many small gas pockets along the colon frame
    for _ in range(int(rng.integers(0, 60))):
        t = rng.uniform(0, 1)
        gx = body.waist * 0.62 * (np.cos(np.pi * t) if rng.random() < 0.8 else rng.uniform(-1, 1))
        gy = f(0.36 + 0.10 * np.sin(np.pi * t) ** 0.3 * rng.uniform(0.3, 1.0))
        r = rng.uniform(2.5, 8)
        R.put(cv, M.TISSUE, R.ellipsoid(cv, gx, gy, r, r * rng.uniform(0.6, 1.4), r), -1.0)
    _skeleton_trunk(cv, body)
    # --- arms and legs -------------------------------------------------------------------
    limb_fat = fat * 0.55
    for side in (-1, 1):
        sh, el, wr, tip = _arm_points(body, side)
        ua = (48 if body.sex is Sex.MALE else 42) + 16 * body.build
        _limb(cv, sh, el, ua, ua * 0.75, limb_fat, (11, 6))
        _limb(cv, el, wr, ua * 0.75, 27, limb_fat * 0.6, (7, 3), bone_shift=8, fade=ua * 0.7)
        _limb(cv, el, wr, 1, 1, 0, (7, 3), bone_shift=-8)
        hand_c = ((wr[0] + tip[0]) / 2, (wr[1] + tip[1]) / 2)
        ang = math.atan2(tip[0] - wr[0], tip[1] - wr[1])
        down = body.pose is Pose.ARMS_DOWN
        hand = R.ellipsoid(cv, hand_c[0], hand_c[1], 20 if down else 42, body.frac(0.05),
                           40 if down else 16, -ang)  # fmt: skip
        R.put(cv, M.TISSUE, hand)
        R.put(cv, M.BONE, hand, 0.25, displace=True)
        hip, top, knee, ankle = _leg_points(body, side)
        th = 80 * body.height / 1750 + 30 * body.build
        _limb(cv, top, knee, th, 52, limb_fat, None, caps=True, fade=body.frac(0.035))
        femur = ((hip[0] * 1.02, hip[1] + 30), knee)
        R.put(cv, M.BONE, R.segment(cv, *femur, 13, 15), displace=True)
        marrow = R.segment(cv, *femur, 7, 8)
        R.put(cv, M.BONE, marrow, -1.0)
        R.put(cv, M.FAT, marrow)
        _limb(cv, knee, ankle, 52, 33, limb_fat * 0.6, (13, 7), bone_shift=-side * 6, fade=45)
        R.put(
            cv,
            M.BONE,
            R.segment(cv, (knee[0] + side * 22, knee[1] + 25), ankle, 7, 6),
            displace=True,
        )  # fibula
        R.put(cv, M.BONE, R.ellipsoid(cv, knee[0], knee[1] - 8, 24, 24, 20), 0.8, displace=True)
        R.put(cv, M.BONE, R.ellipsoid(cv, knee[0], knee[1] - 30, 42, 28, 30), 0.3, displace=True)
        # foot seen along its length
        fy = body.height - 32
        foot = R.ellipsoid(cv, ankle[0] + side * 12, fy, 46, 34, 120)
        R.put(cv, M.TISSUE, foot)
        R.put(
            cv,
            M.BONE,
            R.ellipsoid(cv, ankle[0] + side * 10, fy - 4, 34, 24, 90),
            0.35,
            displace=True,
        )
        R.put(cv, M.TISSUE, R.segment(cv, ankle, (ankle[0], fy), 35, 40, caps=False))
        _clothes_limb(cv, body, side, (sh, el, wr), ua, (top, knee, ankle), th)
        if body.sole > 0:
            x0, x1 = ankle[0] + side * 12 - 58, ankle[0] + side * 12 + 58
            R.put(cv, M.RUBBER, R.box(cv, x0, x1, body.height, body.height + body.sole,
                                      270 * body.sole_density))  # fmt: skip
            shoe_o = R.ellipsoid(cv, ankle[0] + side * 12, fy, 56, 44, 135)
            shoe_i = R.ellipsoid(cv, ankle[0] + side * 12, fy, 52, 40, 131)
            R.put(cv, M.RUBBER, R.shell(shoe_o, shoe_i))
    _clothes_trunk(cv, body, ys, hw, hd)
    _texture(cv, rng)


def _texture(cv: R.Canvas, rng: np.random.Generator) -> None:
    """Low-frequency density variation of soft tissue (muscle, organs, bowel content)."""
    amp = float(rng.uniform(0.0, 0.05))
    if amp <= 0.002:
        return
    step = max(2, round(25.0 / min(cv.pitch)))
    small = rng.standard_normal((cv.shape[0] // step + 2, cv.shape[1] // step + 2))
    small = ndimage.gaussian_filter(small, 1.0)
    small /= small.std() or 1.0
    field = ndimage.zoom(small, step, order=1)[: cv.shape[0], : cv.shape[1]]
    cv.maps[M.TISSUE] *= (1.0 + amp * field).astype(np.float32)


def _skeleton_trunk(cv: R.Canvas, body: Body) -> None:
    f = body.frac
    # spine: 24 vertebrae from C2 to L5, then the sacrum
    for k in range(24):
        t = k / 23
        y = f(0.118 + t * (0.462 - 0.118))
        w = 14 + 30 * t**0.8
        h = f(0.0062) + f(0.0035) * t
        vb = R.ellipsoid(cv, 0, y, w, h, 12 + 16 * t)
        R.put(cv, M.BONE, vb, 0.35, displace=True)
        for side in (-1, 1):
            R.put(
                cv,
                M.BONE,
                R.ellipsoid(cv, side * w * 0.6, y - h * 0.3, 5, 6, 8),
                1.0,
                displace=True,
            )  # pedicles
    R.put(cv, M.BONE, R.ellipsoid(cv, 0, f(0.49), 52, f(0.03), 30), 0.35, displace=True)
    # ribs (posterior arcs rising to the spine, anterior arcs descending to the sternum)
    for k in range(12):
        yk = f(0.180 + k * 0.0155)
        a = body.chest * (0.62 + 0.33 * math.sin(math.pi * min(k, 8) / 16 + 0.2))
        R.put(
            cv,
            M.BONE,
            R.arc_band(cv, 0, yk + 40 + 3 * k, a, 40 + 3 * k, 9, 3.2, True, 18),
            displace=True,
        )
        if k < 10:
            R.put(cv, M.BONE, R.arc_band(cv, 0, yk + 25, a * 0.97, 45 + 2 * k, 11, 2.2, False,
                                         30 + 3 * k), displace=True)  # fmt: skip
    R.put(cv, M.BONE, R.ellipsoid(cv, 0, f(0.245), 16, f(0.05), 8), 0.5, displace=True)
    for side in (-1, 1):
        R.put(
            cv,
            M.BONE,
            R.segment(cv, (side * 18, f(0.178)), (side * body.shoulder * 0.85, f(0.172)), 8, 7),
            0.7,
            displace=True,
        )  # clavicle
        R.put(
            cv,
            M.BONE,
            R.ellipsoid(cv, side * body.chest * 0.7, f(0.225), 48, 72, 4, side * 0.25),
            1.0,
            displace=True,
        )  # scapula
        # pelvis: iliac wing, crest, pubis, ischium, femoral head and neck
        ix = side * (body.hips - 85)
        R.put(cv, M.BONE, R.ellipsoid(cv, ix, f(0.44), 62, 48, 5, side * 0.35), 1.0, displace=True)
        R.put(cv, M.BONE, R.arc_band(cv, ix, f(0.44) + 10, 64, 52, 10, 5, True), displace=True)
        R.put(
            cv,
            M.BONE,
            R.segment(cv, (side * 12, f(0.513)), (side * 62, f(0.497)), 10, 9),
            displace=True,
        )
        R.put(
            cv,
            M.BONE,
            R.segment(cv, (side * 60, f(0.475)), (side * 52, f(0.525)), 12, 10),
            displace=True,
        )
        fh = (side * (body.hips - 78), f(0.476))
        R.put(cv, M.BONE, R.ellipsoid(cv, fh[0], fh[1], 24, 24, 24), 0.5, displace=True)
        R.put(
            cv,
            M.BONE,
            R.segment(cv, fh, (side * (body.hips - 38), f(0.49)), 15, 17),
            0.6,
            displace=True,
        )


def _clothes_limb(
    cv: R.Canvas,
    body: Body,
    side: int,
    arm: tuple[tuple[float, float], ...],
    ua: float,
    leg: tuple[tuple[float, float], ...],
    th: float,
) -> None:
    scale = body.cloth_layers * body.cloth_mm / 3.0
    sh, _el, wr = arm
    if body.sleeves_to > 0:
        end = (sh[0] + (wr[0] - sh[0]) * body.sleeves_to, sh[1] + (wr[1] - sh[1]) * body.sleeves_to)
        _cloth_shell(
            cv,
            R.segment(cv, sh, end, ua + 3, ua * 0.8 + 3),
            R.segment(cv, sh, end, ua, ua * 0.8),
            scale,
        )
    top, knee, ankle = leg
    end_y = body.frac(body.trousers_to)
    if end_y > knee[1]:
        t = (end_y - knee[1]) / (ankle[1] - knee[1])
        end = (knee[0] + (ankle[0] - knee[0]) * t, end_y)
        _cloth_shell(
            cv,
            R.segment(cv, top, knee, th + 8, 60, caps=False),
            R.segment(cv, top, knee, th, 52, caps=False),
            scale,
        )
        _cloth_shell(
            cv,
            R.segment(cv, knee, end, 60, 45, caps=False),
            R.segment(cv, knee, end, 52, 35, caps=False),
            scale,
        )
        R.put(
            cv,
            M.CLOTH,
            R.segment(cv, (top[0] + side * th, top[1]), (end[0] + side * 44, end[1]), 2.5, 2.5),
            0.5 * scale,
        )  # outer seam
    else:
        t = (end_y - top[1]) / (knee[1] - top[1])
        end = (top[0] + (knee[0] - top[0]) * t, end_y)
        _cloth_shell(
            cv,
            R.segment(cv, top, end, th + 8, th + 4, caps=False),
            R.segment(cv, top, end, th, th - 4, caps=False),
            scale,
        )
    # socks
    _cloth_shell(cv, R.segment(cv, (ankle[0], ankle[1] - 90), (ankle[0], body.height - 30), 39, 44,
                               caps=False),
                 R.segment(cv, (ankle[0], ankle[1] - 90), (ankle[0], body.height - 30), 36, 41,
                           caps=False), 0.5)  # fmt: skip


def _clothes_trunk(
    cv: R.Canvas, body: Body, ys: list[float], hw: list[float], hd: list[float]
) -> None:
    scale = body.cloth_layers * body.cloth_mm / 3.0
    _cloth_shell(
        cv,
        R.profiled_cylinder(cv, 0, ys, hw, hd, grow=6),
        R.profiled_cylinder(cv, 0, ys, hw, hd, grow=3),
        scale,
    )
    wb = body.frac(0.43)
    half_w = float(np.interp(wb, ys, hw))
    half_d = float(np.interp(wb, ys, hd))
    band = R.profiled_cylinder(cv, 0, [wb - 20, wb + 20], [half_w + 9] * 2, [half_d + 9] * 2)
    inner = R.profiled_cylinder(cv, 0, [wb - 20, wb + 20], [half_w + 3] * 2, [half_d + 3] * 2)
    _cloth_shell(cv, band, inner, 1.5 * scale)
    # pocket linings: soft-edged fabric pouches
    for side in (-1, 1):
        pouch = R.ellipsoid(cv, side * body.hips * 0.75, body.frac(0.50), 60, body.frac(0.045), 1.0)
        R.put(cv, M.CLOTH, pouch, 0.9 * scale)


def hiding_places(body: Body) -> dict[Location, list[Region]]:
    """Where objects can be hidden on (or in) this body, as boxes in body coordinates (mm)."""
    f = body.frac
    out: dict[Location, list[Region]] = {loc: [] for loc in Location}
    out[Location.WAISTBAND].append(
        Region(
            Location.WAISTBAND, (-body.waist * 0.9, body.waist * 0.9), (f(0.415), f(0.445)), False
        )
    )
    for side in (-1, 1):
        xs = sorted((side * body.hips * 0.45, side * body.hips * 0.95))
        out[Location.POCKET].append(
            Region(Location.POCKET, (xs[0], xs[1]), (f(0.465), f(0.56)), False)
        )
        xs = sorted((side * (body.chest - 10), side * (body.chest + 25)))
        out[Location.ARMPIT].append(
            Region(Location.ARMPIT, (xs[0], xs[1]), (f(0.21), f(0.25)), False)
        )
        _, _, _knee, ankle = _leg_points(body, side)
        out[Location.SOCK].append(
            Region(Location.SOCK, (ankle[0] - 30, ankle[0] + 30), (f(0.90), f(0.955)), False)
        )
        out[Location.SHOE].append(
            Region(
                Location.SHOE,
                (ankle[0] - 25, ankle[0] + 25),
                (body.height - 40, body.height - 10),
                False,
            )
        )
        xs = sorted((side * (body.hips * 0.7), side * (body.hips * 0.95)))
        out[Location.SEAM].append(Region(Location.SEAM, (xs[0], xs[1]), (f(0.52), f(0.66)), False))
        if body.sex is Sex.FEMALE:
            xs = sorted((side * 15, side * body.chest * 0.75))
            out[Location.BRA].append(
                Region(Location.BRA, (xs[0], xs[1]), (f(0.255), f(0.30)), False)
            )
    out[Location.RECTAL].append(Region(Location.RECTAL, (-12, 12), (f(0.49), f(0.515)), True))
    if body.sex is Sex.FEMALE:
        out[Location.VAGINAL].append(Region(Location.VAGINAL, (-10, 10), (f(0.48), f(0.505)), True))
    out[Location.SWALLOWED].append(Region(Location.SWALLOWED, (-body.waist * 0.55,
                                                               body.waist * 0.55),
                                          (f(0.33), f(0.45)), True))  # fmt: skip
    return {k: v for k, v in out.items() if v}
