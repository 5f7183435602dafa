"""Tests of the training pipeline's bookkeeping."""

from __future__ import annotations

from models.training.lineage import training_scans


def testtraining_scans_count_each_series_once() -> None:
    """Phases over the same growing series count once (the largest); other series add up."""
    phases = [
        {"first_seed": 0, "train_seeds": "0..8159", "scans": 8160},
        {"first_seed": 0, "train_seeds": "0..10430", "scans": 10431},
        {"averaged_from": ["a/last.pt", "b/last.pt"], "steps": 0},
        {"first_seed": 10000000, "train_seeds": "10000000..10004000", "scans": 3935},
        {
            "first_seed": 10000000,
            "train_seeds": "6902 scans among 10000000..10007999",
            "scans": 6902,
        },
    ]
    n, spans = training_scans(phases)
    assert n == 10431 + 6902
    assert spans == "0..10430, 6902 scans among 10000000..10007999"
    assert training_scans([]) == (0, "")
