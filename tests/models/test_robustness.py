"""Tests of the robustness measurement: the input changes and the paired comparison."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import ndimage

from models.manifest import InputSpec
from models.training.data import AugmentConfig
from models.training.evaluate import ScanPrediction, match_peaks
from models.training.robustness import PERTURBATIONS, Perturbation, phone_ap50, robustness

SPEC = InputSpec()


def _image() -> tuple[np.ndarray, np.ndarray]:
    image = np.full((64, 48), 1.0, np.float32)
    image[20:30, 10:16] = 3.0  # an object, boxed below
    return image, np.array([[10.0, 20.0, 6.0, 10.0]])


def _by_name(name: str) -> Perturbation:
    return next(p for p in PERTURBATIONS if p.name == name)


def test_gain_and_compress_stay_in_the_input_range() -> None:
    image, boxes = _image()
    rng = np.random.default_rng(0)
    up, same = _by_name("gain_1.4").apply(image, boxes, SPEC, rng)
    assert up[0, 0] == pytest.approx(1.4) and up.max() == SPEC.clip_max  # 3 x 1.4 clipped to 4
    assert np.array_equal(same, boxes)
    comp, _ = _by_name("compress_0.7").apply(image, boxes, SPEC, rng)
    expected = SPEC.clip_max * (1.0 / SPEC.clip_max) ** 0.7
    assert comp[0, 0] == pytest.approx(expected, rel=1e-5) and comp[0, 0] > 1.0
    assert up.dtype == np.float32 and comp.dtype == np.float32


def test_noise_has_the_stated_sigma_in_attenuation_units() -> None:
    image = np.full((400, 400), 2.0, np.float32)
    noisy, _ = _by_name("noise_0.08").apply(image, np.zeros((0, 4)), SPEC, np.random.default_rng(1))
    # the model input is attenuation x scale, so the added sigma is 0.08 x scale
    assert float(np.std(noisy - image)) == pytest.approx(0.08 * SPEC.scale, rel=0.03)


def test_scale_moves_the_boxes_with_the_objects() -> None:
    image, boxes = _image()
    for name, factor in (("smaller_0.8", 0.8), ("larger_1.25", 1.25)):
        out, moved = _by_name(name).apply(image, boxes, SPEC, np.random.default_rng(0))
        assert out.shape == (round(64 * factor), round(48 * factor))
        x, y, w, h = moved[0]
        assert (w, h) == pytest.approx((6 * factor, 10 * factor))
        inside = out[int(y) + 1 : int(y + h) - 1, int(x) + 1 : int(x + w) - 1]
        assert inside.min() > 2.5  # the bright object is still inside its box


def test_blur_spreads_an_edge_and_unknown_kinds_are_refused() -> None:
    image, boxes = _image()
    blurred, _ = _by_name("blur_3mm").apply(image, boxes, SPEC, np.random.default_rng(0))
    assert 1.0 < blurred[25, 9] < 3.0 and blurred.max() < 3.0
    # sigma is in mm: at 1.5 mm pitch the same 3 mm spans 2 working pixels, not 1.5
    fine, _ = _by_name("blur_3mm").apply(
        image, boxes, InputSpec(pitch_mm=1.5), np.random.default_rng(0)
    )
    row = image[25].astype(np.float64)
    np.testing.assert_allclose(fine[25], ndimage.gaussian_filter(image, 2.0)[25], atol=1e-5)
    assert (
        np.abs(np.diff(fine[25])).max()
        < np.abs(np.diff(blurred[25])).max()
        < np.abs(np.diff(row)).max()
    )
    with pytest.raises(ValueError, match="unknown perturbation kind"):
        Perturbation("x", "x", "rotate", 1.0).apply(image, boxes, SPEC, np.random.default_rng(0))


def _scan(score: float) -> ScanPrediction:
    """One phone, and one peak on it with ``score`` plus a false peak at 0.5."""
    pred = ScanPrediction(
        np.array([[10.0, 10.0, 20.0, 40.0], [200.0, 200.0, 20.0, 40.0]]),
        np.array([0, 0], np.int64),
        np.array([score, 0.5]),
        np.array([[10.0, 10.0, 20.0, 40.0]]),
        np.array([0], np.int64),
        [],
        {},
    )
    match_peaks(pred)
    return pred


def test_robustness_compares_each_change_with_the_unchanged_scans() -> None:
    reference = [_scan(0.9) for _ in range(10)]
    calls: list[Any] = []

    def predict(model: Any, records: Any, transform: Any) -> list[ScanPrediction]:
        image, boxes = _image()
        out_image, _ = transform(image, boxes)
        calls.append(out_image.shape)
        # pretend the smaller objects rank below the false peaks; every other change is harmless
        score = 0.3 if out_image.shape[0] < 64 else 0.9
        return [_scan(score) for _ in records]

    records = [Path(f"r{i}.npz") for i in range(10)]
    out = robustness("model.onnx", records, reference, predict, n_boot=50)
    assert len(calls) == len(PERTURBATIONS)
    assert out["reference_ap50_phone"] == pytest.approx(phone_ap50(reference)) == 1.0
    assert out["n_scans"] == 10 and out["bootstrap_resamples"] == 50
    smaller = out["perturbations"]["smaller_0.8"]
    assert smaller["ap50_phone"]["value"] < 1.0 and smaller["delta"]["value"] < 0
    assert smaller["delta"]["ci95"][1] < 0  # the same drop in every resample
    gain = out["perturbations"]["gain_0.7"]
    assert gain["delta"] == {"value": 0.0, "ci95": [0.0, 0.0]}
    assert gain["description"].startswith("attenuation x0.7")


def test_some_changes_lie_beyond_the_training_augmentation() -> None:
    """At least one blur and one shrinking change go further than training ever does, so the
    table keeps measuring the model outside what it was augmented for."""
    aug = AugmentConfig()
    spec = InputSpec(pitch_mm=1.6)
    blurs = [p.amount / spec.pitch_mm for p in PERTURBATIONS if p.kind == "blur"]
    shrinks = [1.0 / p.amount for p in PERTURBATIONS if p.kind == "scale" and p.amount < 1]
    assert max(blurs) > aug.blur_sigma[1]
    assert max(shrinks) > aug.scale_range[1]
