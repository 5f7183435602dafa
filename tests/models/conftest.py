"""Fixtures of the training tests: a tiny network and a small stand-in cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.manifest import InputSpec
from models.training.cache import Source, generate, split_seeds
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
