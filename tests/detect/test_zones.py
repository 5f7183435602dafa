"""Body zones on a synthetic standing figure."""

from __future__ import annotations

import numpy as np
import pytest

from detect.result import BodyZone
from detect.zones import BodyLayout, assign_zone, body_layout
from tests.detect.conftest import synthetic_body

BODY = synthetic_body(rows=1000, cols=400, spacing=(2.0, 1.6))
MID = BODY.image.shape[1] / 2


@pytest.fixture(params=[1, 2], ids=["full", "step2"])
def layout(request: pytest.FixtureRequest) -> BodyLayout:
    """Layout of the synthetic body, at full resolution and subsampled by 2."""
    return body_layout(BODY.image, step=request.param)


def _row(t: float) -> float:
    return BODY.top + t * BODY.height


def test_layout_finds_extent_and_midline(layout: BodyLayout) -> None:
    """The body's first/last rows and its midline are found from the mask."""
    s = layout.step
    assert abs(layout.top * s - BODY.top) <= 2 * s
    assert abs(layout.bottom * s - BODY.bottom) <= 2 * s
    assert abs(layout.midline * s - MID) <= 2 * s


@pytest.mark.parametrize(
    ("t", "col_offset_mm", "zone"),
    [
        (0.06, 0, BodyZone.HEAD_NECK),
        (0.15, 0, BodyZone.HEAD_NECK),
        (0.25, 0, BodyZone.CHEST),
        (0.25, 120, BodyZone.CHEST),
        (0.40, -60, BodyZone.ABDOMEN),
        (0.50, 0, BodyZone.PELVIS_GROIN),
        (0.30, -225, BodyZone.ARMS_HANDS),
        (0.50, 225, BodyZone.ARMS_HANDS),
        (0.70, 80, BodyZone.LEGS),
        (0.90, -80, BodyZone.LEGS),
        (0.98, 80, BodyZone.FEET),
        (0.40, 370, BodyZone.OUTSIDE_BODY),
    ],
)
def test_zone_of_position(
    layout: BodyLayout, t: float, col_offset_mm: float, zone: BodyZone
) -> None:
    """A centre at a fraction of body height and lateral offset lands in the expected zone."""
    centre = (_row(t), MID + col_offset_mm / BODY.spacing[1])
    assert assign_zone(layout, centre) is zone


def test_empty_scan_uses_image_extent() -> None:
    """With no body, zones follow the image extent instead of failing."""
    layout = body_layout(np.zeros((500, 200), np.float32))
    assert (layout.top, layout.bottom) == (0, 499)
    assert assign_zone(layout, (20.0, 100.0)) is BodyZone.HEAD_NECK
    assert assign_zone(layout, (495.0, 100.0)) is BodyZone.FEET


def test_raised_arms_do_not_move_the_head() -> None:
    """With hands above the head, the head top and zones still follow the trunk's axis."""
    body = synthetic_body(rows=1000, cols=400, spacing=(2.0, 1.6), arms_up=True)
    layout = body_layout(body.image, step=2)
    assert abs(layout.top * 2 - body.top) <= 4
    mid = body.image.shape[1] / 2

    def at(t: float, col_offset_mm: float) -> BodyZone:
        centre = (body.top + t * body.height, mid + col_offset_mm / body.spacing[1])
        return assign_zone(layout, centre)

    assert at(0.06, 0) is BodyZone.HEAD_NECK
    assert at(-0.1, -225) is BodyZone.ARMS_HANDS  # raised hand above the head
    assert at(0.08, 225) is BodyZone.ARMS_HANDS  # forearm beside the head
    assert at(0.25, 0) is BodyZone.CHEST
    assert at(0.40, 0) is BodyZone.ABDOMEN
    assert at(0.98, 80) is BodyZone.FEET


#: Body zones acceptable for each hiding place of the simulator.
LOCATION_ZONES = {
    "bra": {BodyZone.CHEST},
    "waistband": {BodyZone.ABDOMEN, BodyZone.PELVIS_GROIN},
    "pocket": {BodyZone.PELVIS_GROIN, BodyZone.LEGS},
    "rectal": {BodyZone.PELVIS_GROIN},
    "sock": {BodyZone.LEGS, BodyZone.FEET},
    "shoe": {BodyZone.FEET},
}


def test_zones_of_annotated_objects_in_sample_scans() -> None:
    """Ground-truth boxes of the sample scans land in the zone of their hiding place."""
    from detect.preprocess import InputSpec, preprocess
    from scanner import read_scan, samples

    spec = InputSpec()
    checked, wrong = 0, []
    for name in samples.list_samples():
        scan = read_scan(samples.sample_path(name))
        pre = preprocess(scan.image, scan.spacing, spec)
        h, w = pre.valid_shape
        layout = body_layout(pre.tensor[0, 0, :h, :w] / spec.scale, step=2)
        for ann in samples.sample_annotations(name):
            allowed = LOCATION_ZONES.get(str(ann.get("location")))
            if allowed is None:
                continue
            x, y, bw, bh = ann["bbox"]
            centre = ((y + bh / 2) / pre.scale[0], (x + bw / 2) / pre.scale[1])
            zone = assign_zone(layout, centre)
            checked += 1
            if zone not in allowed:
                wrong.append(f"{name}: {ann['category']} in {ann['location']} -> {zone.value}")
    assert checked >= 5
    assert not wrong, wrong


def test_arms_held_out_are_arms() -> None:
    """Arms held out at shoulder height join the trunk but are still arms/hands."""
    body = synthetic_body(rows=1000, cols=900, spacing=(2.0, 1.6), arms_out=True)
    layout = body_layout(body.image, step=2)
    mid = body.image.shape[1] / 2

    def at(t: float, col_offset_mm: float) -> BodyZone:
        centre = (body.top + t * body.height, mid + col_offset_mm / body.spacing[1])
        return assign_zone(layout, centre)

    assert at(0.2, 600) is BodyZone.ARMS_HANDS
    assert at(0.2, -400) is BodyZone.ARMS_HANDS
    assert at(0.2, 100) is BodyZone.CHEST
    assert at(0.3, -150) is BodyZone.CHEST
    assert at(0.5, 150) is BodyZone.PELVIS_GROIN
