"""Compilation settings shared by every kernel, in one place.

``cache=True`` writes compiled machine code next to the sources (``__pycache__``) so a restarted
service loads it instead of compiling again. ``fastmath`` is limited to flags that keep IEEE
NaN/inf semantics (the wrappers reject non-finite input anyway, but clamps must stay exact).
"""

from __future__ import annotations

import logging
from typing import Any

import numba

from kernels.errors import KernelDtypeError, KernelInputError

logger = logging.getLogger(__name__)

#: LLVM fast-math flags: reassociation/contraction for vectorisation, but no ``nnan``/``ninf``.
FASTMATH: set[str] = {"nsz", "arcp", "contract", "afn", "reassoc"}

#: Options of serial kernels.
JIT_OPTIONS: dict[str, Any] = {
    "cache": True,
    "nogil": True,
    "fastmath": FASTMATH,
    "error_model": "numpy",
}

#: Options of kernels with a ``prange`` loop.
PARALLEL_OPTIONS: dict[str, Any] = {**JIT_OPTIONS, "parallel": True}


def jit(func: Any) -> Any:
    """Compile ``func`` as a serial, cached no-Python kernel."""
    return numba.njit(**JIT_OPTIONS)(func)


def pjit(func: Any) -> Any:
    """Compile ``func`` as a parallel (``prange``), cached no-Python kernel."""
    return numba.njit(**PARALLEL_OPTIONS)(func)


def pjit_ieee(func: Any) -> Any:
    """Compile ``func`` as a parallel kernel without fast-math: float operations run in source
    order, for kernels that must reproduce a reference's rounding exactly."""
    return numba.njit(**{**PARALLEL_OPTIONS, "fastmath": False})(func)


def set_threads(n: int | None = None) -> int:
    """Set how many threads the parallel kernels use.

    Parameters
    ----------
    n : int or None
        Number of threads, 1 to ``numba.config.NUMBA_NUM_THREADS`` (the machine's cores unless
        ``NUMBA_NUM_THREADS`` says otherwise). ``None`` restores the maximum.

    Returns
    -------
    int
        The number of threads now in use.
    """
    limit = int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]
    if n is None:
        n = limit
    if isinstance(n, bool) or not isinstance(n, int):
        raise KernelDtypeError(f"n must be an int or None, got {type(n).__name__}")
    if not 1 <= n <= limit:
        raise KernelInputError(
            f"n must be between 1 and {limit} (NUMBA_NUM_THREADS), got {n}; "
            "set NUMBA_NUM_THREADS before start-up to allow more"
        )
    numba.set_num_threads(n)
    logger.debug("kernels use %d thread(s)", n)
    return n
