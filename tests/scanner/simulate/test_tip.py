"""Tests of threat image projection: physical contrast and seamless noise."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from scanner.scan import Scan, ScanMetadata, SpacingSource
from scanner.simulate import ProjectionError
from scanner.simulate._raster import Canvas
from scanner.simulate.contraband import make_contraband
from scanner.simulate.imaging import Acquisition, form_image
from scanner.simulate.materials import DetectorMaterial, Material
from scanner.simulate.objects import ObjectModel, Placed, splat
from scanner.simulate.tip import _residual, estimate_noise, project_model, project_threat

ACQ = Acquisition(
    140.0, 2.5, 0.5, DetectorMaterial.CSI, 2.0, 0.5, (1.0, 1.0), scatter_fraction=0.0,
    blur_mm=(0.3, 0.3), crosstalk_px=0.5, electronic_noise=2.0, gain_sigma=0.0,
    line_sigma=0.0, dark_sigma=0.0,
)  # fmt: skip
SHAPE = (260, 240)
CENTRE = (120.0, 130.0)


def _plate() -> ObjectModel:
    env = np.full((240, 160), 1.0, dtype=np.float32)  # 60 x 40 mm at 0.25 mm
    return ObjectModel(None, "plate", 0.25, {Material.STEEL: env * 0.8}, env)


def _render(model: ObjectModel | None, seed: int) -> tuple[np.ndarray, np.ndarray, Placed | None]:
    cv = Canvas(SHAPE, (1.0, 1.0))
    cv.maps[Material.TISSUE][:, 30:-30] = np.linspace(60, 260, SHAPE[0])[:, None]
    placed = splat(cv, model, CENTRE, 0.0) if model is not None else None
    measured, clean = form_image(cv, ACQ, np.random.default_rng(seed))
    return -np.log(np.clip(measured, 1e-6, None)), -np.log(clean), placed


def _scan(image: np.ndarray) -> Scan:
    return Scan(image.astype(np.float32), (1.0, 1.0), SpacingSource.CALLER, image.shape,
                ScanMetadata(kvp=140.0))  # fmt: skip


def test_noise_model_follows_quantum_statistics() -> None:
    """The fitted residual variance grows like exp(p) and finds the cross-talk correlation."""
    p0, _, _ = _render(None, 1)
    nm = estimate_noise(p0)
    r = _residual(p0)
    rows = slice(200, 240)
    measured = float(np.var(r[rows, 60:180]))
    predicted = float(np.mean(nm.residual_var(p0[rows, 60:180])))
    assert measured == pytest.approx(predicted, rel=0.2)
    assert nm.sigma[0] > 0 and nm.sigma[1] > 0


@pytest.mark.parametrize("kind", ["plate", "smartphone"])
def test_inserted_contrast_matches_physics(kind: str) -> None:
    """The line integral TIP adds equals a physical simulation of the object (±5 %)."""
    model = _plate() if kind == "plate" else make_contraband(np.random.default_rng(2), "phone",
                                                              "smartphone")  # fmt: skip
    _, clean0, _ = _render(None, 3)
    _, clean1, placed = _render(model, 3)
    p0, _, _ = _render(None, 4)
    proj = project_model(_scan(p0), model, (CENTRE[0] - 0.5, CENTRE[1] - 0.5), 0.0,
                         rng=np.random.default_rng(0), beam=ACQ.beam())  # fmt: skip
    assert placed is not None and proj.object.bbox == placed.bbox
    inside = placed.coverage > 0.99
    physical = float(np.median((clean1 - clean0)[placed.window][inside]))
    assert float(np.median(proj.delta[inside])) == pytest.approx(physical, rel=0.05)


def test_no_noise_seam() -> None:
    """Noise under the inserted plate matches a physically simulated plate; outside is untouched."""
    model = _plate()
    p_phys, _, placed = _render(model, 5)
    p0, _, _ = _render(None, 6)
    proj = project_model(_scan(p0), model, (CENTRE[0] - 0.5, CENTRE[1] - 0.5), 0.0,
                         rng=np.random.default_rng(1), beam=ACQ.beam())  # fmt: skip
    assert placed is not None
    mask = np.zeros(SHAPE, dtype=bool)
    mask[placed.window] = placed.coverage > 0.99
    interior = ndimage.binary_erosion(mask, iterations=3)
    ring = ndimage.binary_dilation(mask, iterations=8) & ~ndimage.binary_dilation(
        mask, iterations=3
    )
    r_tip, r_phys = _residual(proj.image), _residual(p_phys)
    inside_ratio = r_tip[interior].std() / r_phys[interior].std()
    assert inside_ratio == pytest.approx(1.0, abs=0.12)
    # the contrast of noise level across the edge is the physical one (no seam)
    tip_step = r_tip[interior].std() / r_tip[ring].std()
    phys_step = r_phys[interior].std() / r_phys[ring].std()
    assert tip_step == pytest.approx(phys_step, rel=0.15)
    far = ~ndimage.binary_dilation(mask, iterations=4)
    np.testing.assert_array_equal(proj.image[far], p0.astype(np.float32)[far])


def test_project_threat_random_placement_is_on_the_body() -> None:
    """A random insertion lands where the scan has attenuation and is reproducible."""
    p0, _, _ = _render(None, 7)
    a = project_threat(_scan(p0), "phone", "mini_phone", seed=3)
    b = project_threat(_scan(p0), "phone", "mini_phone", seed=3)
    np.testing.assert_array_equal(a.image, b.image)
    x, y, w, h = a.object.bbox
    assert p0[int(y + h / 2), int(x + w / 2)] > 0.5
    assert a.object.category == "phone" and a.object.kind == "mini_phone"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"category": "tablet"}, "unknown object"),
        ({"x": 10.0}, "both x and y"),
        ({"x": 1e6, "y": 5.0}, "outside"),
        ({"x": 100.0, "y": 100.0, "tilt_deg": 120.0}, "tilt"),
    ],
)
def test_bad_requests_are_rejected(kwargs: dict[str, object], match: str) -> None:
    """Unknown objects, half positions, off-image centres and bad tilts raise ProjectionError."""
    p0, _, _ = _render(None, 8)
    with pytest.raises(ProjectionError, match=match):
        project_threat(_scan(p0), seed=0, **kwargs)  # type: ignore[arg-type]


def test_tip_into_a_png_scan(tmp_path: Path) -> None:
    """A PNG scan (with spacing and polarity given) gets an object and a LOG DICOM output."""
    from PIL import Image

    from scanguard.cli import main

    p0, _, _ = _render(None, 9)
    png = tmp_path / "scan.png"
    Image.fromarray(np.clip(p0 / 12 * 65535, 0, 65535).astype(np.uint16)).save(png)
    out = tmp_path / "out"
    with pytest.warns(UserWarning, match="log_scale"):
        args = ["--pixel-spacing", "1", "1", "--polarity", "attenuation", "--object", "battery"]
        rc = main(["tip", str(png), *args, "--x", "120", "--y", "200", "--out", str(out)])
    assert rc == 0
    coco = json.loads((out / "annotations.json").read_text())
    assert coco["annotations"][0]["category_id"] == 3
    assert "LOG" in coco["images"][0]["encoding"]
