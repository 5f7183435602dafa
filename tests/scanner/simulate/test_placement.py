"""Tests of hiding places and placement statistics."""

from __future__ import annotations

import numpy as np
import pytest

from scanner.simulate import Category, Concealment, Location, PlacementError, Sex
from scanner.simulate.phantom import hiding_places, sample_body
from scanner.simulate.placement import choose_location, choose_pose


@pytest.mark.parametrize("location", list(Location))
def test_every_location_exists_on_a_female_body(location: Location) -> None:
    """A female phantom offers every hiding place, inside the body's extent."""
    body = sample_body(np.random.default_rng(0), sex=Sex.FEMALE)
    places = hiding_places(body)
    (region, *_) = places[location]
    assert region.internal is (location.concealment is Concealment.INTERNAL)
    assert 0 < region.y[0] < region.y[1] <= body.height


def test_male_body_has_no_bra_or_vaginal_place() -> None:
    """Sex-specific places exist only where they make sense."""
    body = sample_body(np.random.default_rng(0), sex=Sex.MALE)
    places = hiding_places(body)
    assert Location.BRA not in places and Location.VAGINAL not in places


def test_location_choice_respects_restrictions() -> None:
    """Allowed locations and concealment are honoured; impossible requests are refused."""
    rng = np.random.default_rng(1)
    places = hiding_places(sample_body(rng, sex=Sex.FEMALE))
    for _ in range(20):
        region = choose_location(rng, Category.PHONE, "mini_phone", places,
                                 concealment=Concealment.INTERNAL)  # fmt: skip
        assert region.internal
    with pytest.raises(PlacementError, match="no hiding place"):
        choose_location(rng, Category.POWER_BANK, "power_bank", places,
                        allowed=(Location.RECTAL,))  # fmt: skip


def test_poses_cover_face_on_to_edge_on() -> None:
    """Tilts span face-on to edge-on, with most objects near face-on."""
    rng = np.random.default_rng(2)
    places = hiding_places(sample_body(rng))
    region = places[Location.WAISTBAND][0]
    tilts = np.array([choose_pose(rng, region).tilt for _ in range(400)])
    assert tilts.min() < 0.05 and tilts.max() > 1.4
    assert np.mean(tilts < 0.5) > 0.5
