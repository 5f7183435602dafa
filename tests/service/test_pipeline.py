"""The scan pipeline: bounded compute concurrency shared by HTTP and DICOM submissions."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from service.pipeline import Submission
from service.schemas import ScanSource
from tests.service.conftest import AppFactory, FakeDetector, dicom_bytes


class CountingDetector(FakeDetector):
    """Records how many detections run at the same time."""

    def __init__(self) -> None:
        super().__init__()
        self.active = 0
        self.peak = 0
        self._lock = threading.Lock()

    def detect(self, scan: Any, *, decode_ms: float = 0.0) -> Any:
        """Hold the call long enough for overlaps to show."""
        with self._lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        time.sleep(0.2)
        with self._lock:
            self.active -= 1
        return super().detect(scan, decode_ms=decode_ms)


@pytest.mark.parametrize("slots", [1, 3])
def test_compute_slots_bound_parallel_detections(make_client: AppFactory, slots: int) -> None:
    """At most ``compute_slots`` scans are detected at once, however many arrive together."""
    detector = CountingDetector()
    client = make_client(detector=detector, compute_slots=slots)
    pipeline = client.app.state.services.pipeline  # type: ignore[attr-defined]
    data = dicom_bytes(phone=True, seed=2)
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def submit() -> None:
        barrier.wait()
        try:
            pipeline.submit(data, Submission(source=ScanSource.HTTP, actor="test"))
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=submit) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert detector.calls == 6
    assert detector.peak == slots
