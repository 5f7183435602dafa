"""Input checks shared by the public wrappers: clear errors before any compiled code runs."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from kernels._config import jit
from kernels.errors import KernelDtypeError, KernelInputError


def as_array(value: Any, name: str) -> np.ndarray:
    """Return ``value`` as an ndarray, or raise a clear error for things that are not arrays."""
    if isinstance(value, np.ndarray):
        return value
    if value is None or isinstance(value, (str, bytes, dict)):
        raise KernelDtypeError(f"{name} must be a numpy array, got {type(value).__name__}")
    try:
        return np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise KernelDtypeError(
            f"{name} could not be converted to a numpy array ({exc}); pass a 2-D numeric array"
        ) from exc


def check_2d(arr: np.ndarray, name: str) -> None:
    """Raise unless ``arr`` is 2-D and non-empty."""
    if arr.ndim != 2:
        raise KernelInputError(
            f"{name} must be a 2-D (rows, cols) array, got {arr.ndim}-D with shape {arr.shape}; "
            "pass one grey-level image (select a frame or channel first)"
        )
    if arr.size == 0:
        raise KernelInputError(f"{name} is empty (shape {arr.shape}); pass at least one pixel")


def check_real_dtype(arr: np.ndarray, name: str) -> None:
    """Raise unless ``arr`` holds real numbers (ints or floats, not bool/complex/object)."""
    if arr.dtype.kind not in "uif":
        raise KernelDtypeError(
            f"{name} must hold integers or floats, got dtype {arr.dtype}; "
            "convert it with .astype(np.float32)"
        )


@jit
def _all_finite(values):  # type: ignore[no-untyped-def]
    """True when no value is NaN or infinite (``v * 0`` is 0 for finite ``v`` only)."""
    acc = np.float32(0.0)
    for k in range(values.shape[0]):
        acc += values[k] * np.float32(0.0)
    return acc == 0.0


def check_finite(arr: NDArray[np.floating[Any]], name: str) -> None:
    """Raise if a float array holds NaN or infinity."""
    if arr.dtype.kind != "f":
        return
    if arr.dtype == np.float32 and arr.flags.c_contiguous:
        finite = bool(_all_finite(arr.reshape(-1)))
    else:
        finite = math.isfinite(float(arr.min())) and math.isfinite(float(arr.max()))
    if not finite:
        n_bad = int(np.count_nonzero(~np.isfinite(arr)))
        raise KernelInputError(
            f"{name} holds {n_bad} NaN or infinite value(s) (or values beyond float32 range); "
            "replace them first, e.g. np.nan_to_num(image)"
        )


def float_image(image: Any, name: str = "image") -> NDArray[np.float32]:
    """Validate a 2-D real image and return it as C-contiguous, finite float32.

    A float32 C-contiguous input is returned without copying.
    """
    arr = as_array(image, name)
    check_real_dtype(arr, name)
    check_2d(arr, name)
    with np.errstate(over="ignore"):  # values beyond float32 become inf and are reported below
        out = np.ascontiguousarray(arr, dtype=np.float32)
    check_finite(out, name)
    return out


def uint8_image(image: Any, name: str = "image_u8") -> NDArray[np.uint8]:
    """Validate a 2-D uint8 image and return it C-contiguous."""
    arr = as_array(image, name)
    check_2d(arr, name)
    if arr.dtype != np.uint8:
        raise KernelDtypeError(
            f"{name} must be uint8, got dtype {arr.dtype}; convert with window_level() first"
        )
    return np.ascontiguousarray(arr)


def real_scalar(value: Any, name: str) -> float:
    """Return ``value`` as a finite float or raise."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise KernelDtypeError(f"{name} must be a real number, got {type(value).__name__}")
    out = float(value)
    if not math.isfinite(out):
        raise KernelInputError(f"{name} must be finite, got {out}")
    return out


def positive_scalar(value: Any, name: str) -> float:
    """Return ``value`` as a finite float > 0 or raise."""
    out = real_scalar(value, name)
    if out <= 0.0:
        raise KernelInputError(f"{name} must be > 0, got {out}")
    return out


def pair(value: Any, name: str) -> tuple[float, float]:
    """Return a scalar or a 2-sequence as a pair of finite positive floats (row, col)."""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        v = positive_scalar(value, name)
        return (v, v)
    if isinstance(value, (str, bytes)):
        raise KernelDtypeError(
            f"{name} must be a number or a (row, col) pair of numbers, got {value!r}"
        )
    try:
        items = list(value)
    except TypeError as exc:
        raise KernelDtypeError(
            f"{name} must be a number or a (row, col) pair, got {type(value).__name__}"
        ) from exc
    if len(items) != 2:
        raise KernelInputError(f"{name} must be a (row, col) pair, got {len(items)} values")
    return (positive_scalar(items[0], f"{name}[0]"), positive_scalar(items[1], f"{name}[1]"))
