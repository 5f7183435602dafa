"""Compilation and threading settings shared by every kernel, in one place.

``cache=True`` writes compiled machine code next to the sources (``__pycache__``, or
``NUMBA_CACHE_DIR`` / a per-user directory when that is read-only) so a restarted service loads
it instead of compiling again. Numba checks a cached kernel against its own source file only, so
every compiled helper lives in the module of the kernels that call it. ``fastmath`` is limited
to flags that keep IEEE NaN/inf semantics (the wrappers reject non-finite input anyway, but
clamps must stay exact); kernels that must reproduce a reference's rounding use
:func:`pjit_ieee`.

Threading: without TBB installed Numba picks its OpenMP layer, and GNU OpenMP kills any child
process forked after a parallel kernel ran ("fork() called from a process already using GNU
OpenMP"), e.g. a ``multiprocessing`` pool with the "fork" start method. The kernels therefore
select the fork-safe "workqueue" layer (unless ``NUMBA_THREADING_LAYER`` is set, e.g. to
"tbb"); on a busy machine it also gave steadier timings than OpenMP. That layer must not run two
parallel kernels at once, so the public functions take one process-wide re-entrant lock
(:func:`serialized`): kernels called from several threads run one after the other, each on all
of its threads.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import numba

from kernels.errors import KernelDtypeError, KernelInputError

logger = logging.getLogger(__name__)

if not os.environ.get("NUMBA_THREADING_LAYER"):
    numba.config.THREADING_LAYER = "workqueue"  # type: ignore[attr-defined]

_P = ParamSpec("_P")
_R = TypeVar("_R")

#: Held while a public kernel function runs (see the module notes).
KERNEL_LOCK = threading.RLock()

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


def serialized(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run the public function ``func`` under :data:`KERNEL_LOCK`."""

    @functools.wraps(func)
    def locked(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with KERNEL_LOCK:
            return func(*args, **kwargs)

    return locked


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
