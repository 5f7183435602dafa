"""Tests of the model card text (models/training/card.py)."""

from __future__ import annotations

from models.manifest import Manifest, SizePrior
from models.training.card import _augmentations, _size_prior

_WIDE = {
    "gain_range": [0.8, 1.25],
    "gamma_range": [0.75, 1.25],
    "scale_range": [0.8, 1.35],
    "blur_sigma": [0.3, 2.2],
    "p_blur": 0.4,
}


def test_augmentations_name_the_newest_phase_and_the_older_ranges() -> None:
    """A model whose early phases predate recorded ranges states both sets; averaging
    phases (no training of their own) do not count."""
    old = {"steps": 10}
    new = {"steps": 5, "augment": _WIDE}
    soup = {"averaged_from": ["a", "b"], "steps": 0}
    text = _augmentations([old, soup, new])
    assert "(newest phase): attenuation gain 0.8-1.25, power law 0.75-1.25" in text
    assert "crop scale 0.8-1.35, blur sigma 0.3-2.2 px (in 40% of crops)" in text
    assert "phases listed without ranges: " in text and "crop scale 0.85-1.2" in text
    assert "without ranges" not in _augmentations([new, soup, new])
    assert "crop scale 0.85-1.2" in _augmentations([old]) and _augmentations([]) == ""


def test_size_prior_sentence_states_the_fitted_terms() -> None:
    """The card gives a shipped size prior's terms, or says there is none."""
    manifest = Manifest.model_validate(
        {"name": "m", "version": "1", "file": "m.onnx", "sha256": "0" * 64, "classes": ["phone"]}
    )
    assert "no size prior" in _size_prior(manifest)
    prior = manifest.calibration.model_copy(
        update={"size_prior": {"phone": SizePrior(slope=0.454)}}
    )
    text = _size_prior(manifest.model_copy(update={"calibration": prior}))
    assert "phone: logit + 0.454 min(0, ln(long side / 45 mm))" in text
