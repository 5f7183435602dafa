"""Tests of the DICOM + COCO dataset writer and the ``simulate``/``tip`` commands."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from scanguard.cli import main
from scanner import read_scan
from scanner.simulate import ConfigError, SimConfig
from scanner.simulate.dataset import simulate_dataset

FAST = SimConfig(pitch_mm=(3.0, 3.0))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ds")
    simulate_dataset(3, 21, out, positive_fraction=0.7, config=FAST)
    return out


def test_coco_file_is_complete(dataset: Path) -> None:
    """annotations.json has the fixed categories, image fields and well-formed annotations."""
    coco = json.loads((dataset / "annotations.json").read_text())
    assert {c["name"]: c["id"] for c in coco["categories"]} == {
        "phone": 1, "power_bank": 2, "battery": 3, "sim_card": 4, "blade": 5, "drug_package": 6,
    }  # fmt: skip
    assert len(coco["images"]) == 3
    for image in coco["images"]:
        for key in ("file_name", "width", "height", "has_phone", "kvp", "pitch_mm", "dose_uGy",
                    "encoding", "manufacturer"):  # fmt: skip
            assert key in image
        assert (dataset / image["file_name"]).is_file()
        phones = [a for a in coco["annotations"]
                  if a["image_id"] == image["id"] and a["category_id"] == 1]  # fmt: skip
        assert image["has_phone"] is (len(phones) > 0)
    images = {im["id"]: im for im in coco["images"]}
    for ann in coco["annotations"]:
        x, y, w, h = ann["bbox"]
        im = images[ann["image_id"]]
        assert 0 <= x and x + w <= im["width"] and 0 <= y and y + h <= im["height"]
        assert ann["iscrowd"] == 0 and ann["area"] == pytest.approx(w * h, abs=0.1)
        assert ann["concealment"] in ("clothing", "internal") and ann["location"] and ann["kind"]


def test_files_read_back_as_scans(dataset: Path) -> None:
    """Every written file reads back through read_scan with its size and a sane attenuation."""
    coco = json.loads((dataset / "annotations.json").read_text())
    for image in coco["images"]:
        scan = read_scan(dataset / image["file_name"], validation="ignore")
        assert scan.shape == (image["height"], image["width"])
        assert abs(float(np.median(scan.image[:, :3]))) < 0.05  # air beside the body
        assert float(np.percentile(scan.image, 99)) > 2.0  # the trunk


def test_same_seed_gives_identical_files(dataset: Path, tmp_path: Path) -> None:
    """Re-running with the same seed (here with two worker processes) gives identical bytes."""
    simulate_dataset(3, 21, tmp_path, jobs=2, positive_fraction=0.7, config=FAST)
    for path in sorted(dataset.iterdir()):
        assert path.read_bytes() == (tmp_path / path.name).read_bytes(), path.name


@pytest.mark.parametrize(("kwargs", "match"), [({"n": 0}, "at least one"), ({"jobs": 0}, "jobs")])
def test_bad_arguments(tmp_path: Path, kwargs: dict[str, int], match: str) -> None:
    """Impossible requests raise ConfigError saying what to change."""
    args = {"n": 1, "seed": 0, "out_dir": tmp_path, **kwargs}
    with pytest.raises(ConfigError, match=match):
        simulate_dataset(**args)  # type: ignore[arg-type]


def test_cli_simulate_then_tip(tmp_path: Path) -> None:
    """`scanguard simulate` writes a set; `scanguard tip` inserts a phone and labels it."""
    sim = tmp_path / "sim"
    assert main(["simulate", "--n", "1", "--seed", "4", "--out", str(sim), "--pitch", "3",
                 "--positive-fraction", "0", "--no-progress"]) == 0  # fmt: skip
    coco = json.loads((sim / "annotations.json").read_text())
    assert coco["images"][0]["has_phone"] is False
    tip = tmp_path / "tip"
    src = sim / coco["images"][0]["file_name"]
    assert main(["tip", str(src), "--object", "phone:smartphone", "--seed", "1", "--tilt", "0",
                 "--out", str(tip)]) == 0  # fmt: skip
    out = json.loads((tip / "annotations.json").read_text())
    (ann,) = out["annotations"]
    assert ann["category_id"] == 1 and ann["kind"] == "smartphone"
    before = read_scan(src, validation="ignore").image
    after = read_scan(tip / out["images"][0]["file_name"], validation="ignore").image
    x, y, w, h = (round(v) for v in ann["bbox"])
    inner = (slice(y + h // 3, y + 2 * h // 3), slice(x + w // 3, x + 2 * w // 3))
    assert float(np.median(after[inner] - before[inner])) > 0.1
    outside = np.ones(before.shape, dtype=bool)
    outside[max(y - 3, 0) : y + h + 3, max(x - 3, 0) : x + w + 3] = False
    assert float(np.max(np.abs(after[outside] - before[outside]))) < 0.02


def test_cli_reports_bad_input(tmp_path: Path) -> None:
    """Bad values give exit status 2 and a message, not a traceback."""
    assert main(["simulate", "--n", "1", "--out", str(tmp_path), "--pitch", "1", "2", "3"]) == 2
    assert main(["simulate", "--n", "1", "--out", str(tmp_path), "--phone-kinds", "brick"]) == 2
