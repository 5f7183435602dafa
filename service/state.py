"""The running service's objects, built in the app's lifespan and reached through deps."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from service.config import Settings
from service.events import EventBus
from service.metrics import ServiceMetrics
from service.pipeline import Pipeline
from service.render import ScanCache
from service.store import Store

if TYPE_CHECKING:
    from detect.result import SupportsDetect
    from service.receiver import DicomReceiver

logger = logging.getLogger(__name__)


@dataclass
class Services:
    """Everything a request handler may need."""

    settings: Settings
    store: Store
    pipeline: Pipeline
    cache: ScanCache
    events: EventBus
    metrics: ServiceMetrics
    detector: SupportsDetect | None
    receiver: DicomReceiver | None = None

    def ready(self) -> bool:
        """Model loaded and store reachable."""
        return self.detector is not None and self.store.ping()

    def stop(self) -> None:
        """Stop the receiver and release the store."""
        if self.receiver is not None:
            try:
                self.receiver.stop()
            except Exception:
                logger.exception("DICOM receiver did not stop cleanly")
        self.store.close()
