"""Tests of ``simulate_scan``: labels, determinism, configuration."""

from __future__ import annotations

import numpy as np
import pytest

from scanner.simulate import (
    Category,
    ConfigError,
    Location,
    SimConfig,
    simulate_scan,
)

PITCH = (3.0, 3.0)


def test_same_seed_gives_identical_scan() -> None:
    """The same seed and config reproduce the arrays and labels exactly."""
    a = simulate_scan(7, SimConfig(pitch_mm=PITCH))
    b = simulate_scan(7, SimConfig(pitch_mm=PITCH))
    np.testing.assert_array_equal(a.transmission, b.transmission)
    np.testing.assert_array_equal(a.attenuation, b.attenuation)
    assert [o.to_dict() for o in a.objects] == [o.to_dict() for o in b.objects]


def test_different_seeds_differ() -> None:
    """Different seeds give different scans."""
    a = simulate_scan(1, SimConfig(pitch_mm=PITCH))
    b = simulate_scan(2, SimConfig(pitch_mm=PITCH))
    assert a.shape != b.shape or not np.array_equal(a.transmission, b.transmission)


def test_scan_geometry_and_air_margins() -> None:
    """Image size follows the pitch; air columns at both sides read ~1 transmission."""
    cfg = SimConfig(pitch_mm=(2.0, 1.5), ideal=True, distractors=0, pose="arms_down")
    scan = simulate_scan(3, cfg)
    rows, _cols = scan.shape
    assert scan.spacing == (2.0, 1.5)
    height_mm = rows * 2.0
    assert scan.body.height < height_mm < scan.body.height + 450
    assert np.allclose(scan.transmission[:, :5], 1.0, atol=1e-4)
    assert np.allclose(scan.transmission[:, -5:], 1.0, atol=1e-4)
    assert scan.attenuation.max() > 3.0  # the abdomen transmits ~1 %


@pytest.mark.parametrize("positive", [True, False])
def test_has_phone_is_honoured(positive: bool) -> None:
    """Positive scans carry at least one phone label, negative scans none."""
    for seed in range(3):
        scan = simulate_scan(seed, SimConfig(pitch_mm=PITCH, has_phone=positive))
        phones = [o for o in scan.objects if o.category == "phone"]
        assert scan.has_phone is positive
        assert (len(phones) > 0) is positive


def test_labels_are_well_formed() -> None:
    """Every label has a box inside the image and a known category, kind and location."""
    for seed in range(4):
        scan = simulate_scan(seed, SimConfig(pitch_mm=PITCH, has_phone=True, n_other=3))
        rows, cols = scan.shape
        assert len(scan.objects) == scan.objects.__len__() >= 1
        for obj in scan.objects:
            x, y, w, h = obj.bbox
            assert w >= 1 and h >= 1
            assert 0 <= x and x + w <= cols and 0 <= y and y + h <= rows
            assert Category(obj.category)
            assert Location(obj.location).concealment.value == obj.concealment


def test_phone_kind_and_location_are_honoured() -> None:
    """Asking for a mini phone in the rectum gives exactly that label."""
    cfg = SimConfig(
        pitch_mm=PITCH,
        has_phone=True,
        n_phones=1,
        n_other=0,
        phone_kinds=("mini_phone",),
        locations=(Location.RECTAL,),
    )
    scan = simulate_scan(11, cfg)
    (obj,) = scan.objects
    assert (obj.kind, obj.location, obj.concealment) == ("mini_phone", "rectal", "internal")


def test_object_darkens_its_box() -> None:
    """The line integral under a phone's footprint exceeds the uncovered rest of its window."""
    cfg = SimConfig(
        pitch_mm=PITCH,
        has_phone=True,
        n_phones=1,
        n_other=0,
        ideal=True,
        distractors=0,
        locations=(Location.WAISTBAND,),
        tilt_max_deg=0,
    )
    scan = simulate_scan(5, cfg)
    (obj,) = scan.objects
    assert obj.window is not None and obj.coverage is not None
    inside = scan.attenuation[obj.window][obj.coverage > 0.99]
    border = scan.attenuation[obj.window][obj.coverage == 0]
    assert np.median(inside) > np.median(border) + 0.1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"pitch_mm": (0.1, 1.0)}, "pitch_mm"),
        ({"kvp": 20}, "kvp"),
        ({"dose_ugy": -1}, "dose_ugy"),
        ({"positive_fraction": 2}, "positive_fraction"),
        ({"phone_kinds": ("brick",)}, "phone_kinds"),
        ({"other_categories": ("phone",)}, "other_categories"),
        ({"locations": ("attic",)}, "attic"),
        ({"has_phone": True, "n_phones": 0}, "n_phones=0"),
        ({"detector": "NaI"}, "NaI"),
    ],
)
def test_bad_config_is_rejected(kwargs: dict[str, object], match: str) -> None:
    """Out-of-range or unknown settings raise ConfigError naming the field."""
    with pytest.raises(ConfigError, match=match):
        SimConfig(**kwargs)  # type: ignore[arg-type]
