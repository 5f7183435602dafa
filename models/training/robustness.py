"""How phone AP50 holds up when the input moves away from the training simulator.

The detector will meet scanners, and simulators, that differ from the one it was trained on: another
beam energy or attenuation calibration scales the attenuation, another detector blurs more, a
lower dose adds noise, and a wrongly stated pixel spacing makes every object look larger or
smaller. Each :class:`Perturbation` applies one such change to the held-out test scans (the model
input at the working pitch, with their boxes), and :func:`robustness` measures phone AP50 on the
changed scans beside the unchanged ones, with a paired bootstrap interval of the difference.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from models.manifest import InputSpec
from models.training.evaluate import ScanPrediction
from models.training.metrics import ci95, class_ap50

__all__ = ["PERTURBATIONS", "Perturbation", "phone_ap50", "robustness"]

Image = NDArray[np.float32]
Boxes = NDArray[np.float64]


@dataclass(frozen=True)
class Perturbation:
    """One change of the model input.

    Attributes
    ----------
    name : str
        Short key (``metrics.json``).
    description : str
        What it imitates, for the model card.
    kind : str
        ``gain`` (multiply the attenuation), ``compress`` (power law on the attenuation),
        ``blur`` (Gaussian, sigma in mm, converted at the model's working pitch), ``noise``
        (Gaussian, sigma in attenuation units per working pixel) or ``scale`` (resize the image
        and its boxes by ``amount``).
    amount : float
    """

    name: str
    description: str
    kind: str
    amount: float

    def apply(
        self, image: Image, boxes: Boxes, spec: InputSpec, rng: np.random.Generator
    ) -> tuple[Image, Boxes]:
        """Change one scan.

        Parameters
        ----------
        image : ndarray of float32, shape (H, W)
            Model input before padding: ``clip(attenuation * spec.scale, 0, spec.clip_max)``.
        boxes : ndarray of float64, shape (N, 4)
            ``[x, y, w, h]`` in working pixels.
        spec : InputSpec
            The model's input scaling.
        rng : numpy.random.Generator
            Source of the added noise.

        Returns
        -------
        image : ndarray of float32, shape (H', W')
        boxes : ndarray of float64, shape (N, 4)
        """
        x = image.astype(np.float32)
        if self.kind == "gain":
            x = x * np.float32(self.amount)
        elif self.kind == "compress":
            x = spec.clip_max * (np.clip(x, 0.0, None) / spec.clip_max) ** self.amount
        elif self.kind == "blur":
            x = ndimage.gaussian_filter(x, self.amount / spec.pitch_mm)
        elif self.kind == "noise":
            sigma = self.amount * spec.scale
            x = x + rng.normal(0.0, sigma, x.shape).astype(np.float32)
        elif self.kind == "scale":
            x = ndimage.zoom(x, self.amount, order=1)
            boxes = boxes * self.amount
        else:
            raise ValueError(f"unknown perturbation kind {self.kind!r}")
        return np.clip(x, 0.0, spec.clip_max).astype(np.float32), boxes


#: The changes measured for every model. The first seven amounts lay just outside the training
#: augmentation of the models up to 1.5.0; since its blur and scale ranges were widened
#: (:class:`models.training.data.AugmentConfig`), blur 3 mm and objects 20 % smaller lie inside
#: them and blur 5 mm and objects 30 % smaller just outside.
PERTURBATIONS: tuple[Perturbation, ...] = (
    Perturbation("gain_0.7", "attenuation x0.7 (harder beam, other calibration)", "gain", 0.7),
    Perturbation("gain_1.4", "attenuation x1.4 (softer beam, other calibration)", "gain", 1.4),
    Perturbation(
        "compress_0.7", "attenuation compressed by a power law, exponent 0.7", "compress", 0.7
    ),
    Perturbation("blur_3mm", "extra detector blur, sigma 3 mm", "blur", 3.0),
    Perturbation(
        "noise_0.08", "extra noise, sigma 0.08 in attenuation (lower dose)", "noise", 0.08
    ),
    Perturbation(
        "smaller_0.8", "objects 20 % smaller (pixel spacing stated 20 % too small)", "scale", 0.8
    ),
    Perturbation(
        "larger_1.25", "objects 25 % larger (pixel spacing stated 25 % too large)", "scale", 1.25
    ),
    Perturbation("blur_5mm", "extra detector blur, sigma 5 mm", "blur", 5.0),
    Perturbation(
        "smaller_0.7", "objects 30 % smaller (pixel spacing stated 30 % too small)", "scale", 0.7
    ),
)


def _apply(
    pert: Perturbation, image: Image, boxes: Boxes, *, spec: InputSpec, rng: np.random.Generator
) -> tuple[Image, Boxes]:
    return pert.apply(image, boxes, spec, rng)


def phone_ap50(preds: Sequence[ScanPrediction], idx: NDArray[np.int64] | None = None) -> float:
    """Phone AP50 over the scans ``idx`` (all when ``None``), from the raw peak scores."""
    return class_ap50(preds, 0, idx)


def robustness(
    model_path: str | Path,
    records: Sequence[Path],
    reference: Sequence[ScanPrediction],
    predict: Callable[..., list[ScanPrediction]],
    perturbations: Sequence[Perturbation] = PERTURBATIONS,
    n_boot: int = 500,
    seed: int = 0,
    spec: InputSpec | None = None,
) -> dict[str, Any]:
    """Phone AP50 of ``model_path`` on perturbed copies of ``records``.

    Parameters
    ----------
    model_path : str or Path
        Exported ``.onnx`` file.
    records : sequence of Path
        Held-out cache records (the test split).
    reference : sequence of ScanPrediction
        Predictions on the unchanged ``records`` (same order).
    predict : callable
        :func:`models.training.evaluate.predict_records` with its run settings bound; called as
        ``predict(model_path, records, transform=...)``.
    perturbations : sequence of Perturbation
    n_boot : int
        Paired bootstrap resamples of the scans for the intervals (0: no intervals).
    seed : int
        Seed of the added noise and of the bootstrap.
    spec : InputSpec, optional
        The model's input scaling (default: the shipped one).

    Returns
    -------
    dict
        ``reference_ap50_phone``, ``n_scans``, and per perturbation ``description``,
        ``ap50_phone`` and ``delta`` (perturbed minus unchanged), each ``{"value", "ci95"}``.
    """
    spec = spec or InputSpec()
    n = len(reference)
    boot_rng = np.random.default_rng(seed)
    boot_idx = [boot_rng.integers(0, n, n) for _ in range(n_boot if n else 0)]
    ref_boot = [phone_ap50(reference, idx) for idx in boot_idx]
    ref_value = phone_ap50(reference)
    out: dict[str, Any] = {
        "reference_ap50_phone": round(ref_value, 4),
        "n_scans": n,
        "bootstrap_resamples": len(boot_idx),
        "perturbations": {},
    }
    for k, pert in enumerate(perturbations):
        transform = functools.partial(
            _apply, pert, spec=spec, rng=np.random.default_rng(seed + 1 + k)
        )
        preds = predict(model_path, records, transform=transform)
        value = phone_ap50(preds)
        ap_boot = [phone_ap50(preds, idx) for idx in boot_idx]
        out["perturbations"][pert.name] = {
            "description": pert.description,
            "ap50_phone": {"value": round(value, 4), "ci95": ci95(ap_boot)},
            "delta": {
                "value": round(value - ref_value, 4),
                "ci95": ci95([a - r for a, r in zip(ap_boot, ref_boot, strict=True)]),
            },
        }
    return out
