"""Every public image function refuses bad input with a clear ValueError/TypeError."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import kernels
from kernels import KernelDtypeError, KernelInputError

CALLS: dict[str, Callable[[Any], Any]] = {
    "counts_to_attenuation": lambda a: kernels.counts_to_attenuation(a, 100.0),
    "estimate_air_level": kernels.estimate_air_level,
    "log_to_attenuation": lambda a: kernels.log_to_attenuation(a, 1.0, 0.0),
    "to_unit_range": lambda a: kernels.to_unit_range(a, 0.0, 1.0),
    "resample": lambda a: kernels.resample(a, 1.0, 2.0),
    "resize": lambda a: kernels.resize(a, (2, 2)),
    "destripe": kernels.destripe,
    "stripe_profile": kernels.stripe_profile,
    "denoise": lambda a: kernels.denoise(a, 0.1),
    "estimate_noise": kernels.estimate_noise,
    "clahe": kernels.clahe,
    "unsharp": kernels.unsharp,
    "gaussian_blur": lambda a: kernels.gaussian_blur(a, 1.0),
    "window_level": lambda a: kernels.window_level(a, 1.0, 0.5),
    "body_mask": kernels.body_mask,
}

BAD: list[tuple[str, Any, type[Exception], str]] = [
    ("3-D", np.zeros((2, 3, 4), dtype=np.float32), KernelInputError, "must be a 2-D"),
    ("1-D", np.zeros(5, dtype=np.float32), KernelInputError, "must be a 2-D"),
    ("empty", np.zeros((0, 5), dtype=np.float32), KernelInputError, "is empty"),
    ("nan", np.array([[0.0, np.nan], [1.0, 2.0]]), KernelInputError, "NaN or infinite"),
    ("inf", np.array([[0.0, -np.inf], [1.0, 2.0]]), KernelInputError, "NaN or infinite"),
    ("overflow", np.array([[0.0, 1e300], [1.0, 2.0]]), KernelInputError, "float32 range"),
    ("complex", np.zeros((2, 2), dtype=complex), KernelDtypeError, "integers or floats"),
    ("bool", np.zeros((2, 2), dtype=bool), KernelDtypeError, "integers or floats"),
    ("object", np.array([[None, 1]], dtype=object), KernelDtypeError, "integers or floats"),
    ("none", None, KernelDtypeError, "must be a numpy array"),
]


@pytest.mark.parametrize("name", sorted(CALLS))
@pytest.mark.parametrize(("case", "value", "error", "match"), BAD, ids=[b[0] for b in BAD])
def test_bad_image_input(name, case, value, error, match):
    """Wrong ndim, empty, non-finite or non-numeric input: a clear error, never a Numba trace."""
    with pytest.raises(error, match=match):
        CALLS[name](value)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_nested_lists_are_accepted(name):
    """Plain nested lists of numbers work like arrays."""
    CALLS[name]([[0.0, 0.5, 1.0], [0.2, 0.4, 0.9]])


def test_input_is_not_modified(rng):
    """No public function writes into its input."""
    image = rng.random((20, 16)).astype(np.float32)
    before = image.copy()
    for call in CALLS.values():
        call(image)
    np.testing.assert_array_equal(image, before)
