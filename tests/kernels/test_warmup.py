"""Tests of kernels.warmup and the thread setting."""

from __future__ import annotations

import numba
import pytest

from kernels import KernelDtypeError, KernelInputError, set_threads, warmup


def test_warmup_returns_elapsed_seconds():
    """warmup() runs every kernel and reports a positive duration."""
    elapsed = warmup()
    assert isinstance(elapsed, float) and elapsed > 0.0


@pytest.fixture
def restore_threads():
    """Restore Numba's thread count after the test."""
    before = numba.get_num_threads()
    yield
    numba.set_num_threads(before)


def test_set_threads(restore_threads):
    """set_threads changes Numba's thread count; None restores the maximum."""
    assert set_threads(1) == 1
    assert numba.get_num_threads() == 1
    assert set_threads(None) == numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("n", "error", "match"),
    [(0, KernelInputError, "between 1 and"), (1.5, KernelDtypeError, "int")],
)
def test_set_threads_bad_values(n, error, match, restore_threads):
    """Out-of-range or non-integer thread counts are refused."""
    with pytest.raises(error, match=match):
        set_threads(n)
