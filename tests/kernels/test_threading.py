"""The kernels are safe to call from several threads and before a fork."""

from __future__ import annotations

import multiprocessing
import threading

import numpy as np
import pytest

from kernels import body_mask, clahe, resample, unsharp
from tests.kernels.conftest import body_phantom


def _run_all(image):
    """A mix of parallel kernels; returns their results."""
    return (
        unsharp(image, 1.5, 1.0),
        resample(image, (1.0, 1.0), 2.0).image,
        body_mask(image),
        clahe(image),
    )


def test_concurrent_calls_from_threads_give_the_same_results(rng):
    """Four threads calling the kernels at once get exactly the single-thread results."""
    image = body_phantom((120, 80), rng)
    expected = _run_all(image)
    results: list[tuple[np.ndarray, ...]] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                results.append(_run_all(image))
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    assert len(results) == 20
    for got in results:
        for a, b in zip(got, expected, strict=True):
            np.testing.assert_array_equal(a, b)


def _child(queue) -> None:
    image = np.ones((40, 30), dtype=np.float32)
    queue.put(float(resample(image, 1.0, 2.0).image.sum()))


@pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="platform without fork()"
)
def test_forked_child_can_use_the_kernels(rng):
    """A child forked after the parent ran parallel kernels runs them too (no OpenMP abort)."""
    _run_all(body_phantom((50, 40), rng))
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(queue,))
    proc.start()
    proc.join(timeout=60)
    assert proc.exitcode == 0
    assert queue.get(timeout=5) == pytest.approx(20 * 15)
