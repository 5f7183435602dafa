"""Fixtures of the training tests: a tiny network and a small stand-in cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.manifest import InputSpec
from models.training.cache import Source, generate, split_seeds
from models.training.checkpoint import TrainConfig
from models.training.evaluate import ScanPrediction, match_peaks
from models.training.network import NetworkConfig


@pytest.fixture
def tiny_net_config() -> NetworkConfig:
    """A network small enough for sub-second training steps."""
    return NetworkConfig(widths=(8, 8, 16, 16, 24), depths=(0, 1, 1, 0), neck=16, head=8)


@pytest.fixture(scope="session")
def standin_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Twelve stand-in scans in a cache folder."""
    out = tmp_path_factory.mktemp("cache") / "train"
    generate(out, split_seeds(0, "train", 12), Source.STANDIN, InputSpec(), prefix="train")
    return out


def small_run_config(
    out: Path,
    cache: Path,
    net: NetworkConfig,
    steps: int = 3,
    seed: int = 0,
    init_from: Path | None = None,
    loader_threads: int = 0,
) -> TrainConfig:
    """One epoch of ``steps`` batch-2 steps of a small network on a stand-in cache."""
    return TrainConfig(
        out=str(out),
        cache=str(cache),
        seed=seed,
        epochs=1,
        steps_per_epoch=steps,
        batch_size=2,
        crop=(128, 96),
        warmup_steps=1,
        network=net,
        threads=1,
        init_from=str(init_from) if init_from else None,
        loader_threads=loader_threads,
    )


def scan_prediction(raw: list[float], gt: bool, hit: bool = True) -> ScanPrediction:
    """One scan's prediction: phone peaks ``raw`` on one box, over a phone when ``gt``, matched;
    ``hit=False`` moves the peaks off the phone."""
    boxes = np.array([[10.0, 10.0, 20.0, 40.0]] * len(raw)).reshape(-1, 4)
    if not hit:
        boxes = boxes + 100.0
    gt_boxes = np.array([[10.0, 10.0, 20.0, 40.0]]) if gt else np.zeros((0, 4))
    pred = ScanPrediction(
        boxes=boxes,
        labels=np.zeros(len(raw), np.int64),
        raw=np.array(raw, float),
        gt_boxes=gt_boxes,
        gt_labels=np.zeros(len(gt_boxes), np.int64),
        objects=[{"kind": "smartphone", "concealment": "clothing"}] * len(gt_boxes),
        meta={"encoding": "lin"},
    )
    match_peaks(pred)
    return pred
