"""In-process publish/subscribe of new scans and reviews (feeds the console's event stream)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import threading
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

logger = logging.getLogger(__name__)


class EventKind(StrEnum):
    """Kinds of events the service publishes."""

    SCAN = "scan"
    REVIEW = "review"


@dataclass(frozen=True)
class Event:
    """One published event.

    Attributes
    ----------
    id : int
        Increasing number (usable as the SSE ``id:``).
    kind : str
        ``"scan"`` (payload: ScanPublic JSON) or ``"review"`` (payload: ScanPublic JSON).
    payload : dict
        JSON-ready mapping.
    """

    id: int
    kind: str
    payload: dict[str, Any] = field(default_factory=dict)


class EventBus:
    """Asyncio fan-out of events to every subscriber; ``publish`` is safe from any thread.

    Parameters
    ----------
    max_queue : int
        Events buffered per subscriber; a subscriber that falls further behind loses the
        oldest events (never blocks the publisher).
    """

    def __init__(self, max_queue: int = 256) -> None:
        self._max_queue = max_queue
        self._queues: set[asyncio.Queue[Event]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ids = itertools.count(1)
        self._id_lock = threading.Lock()

    def bind(self, loop: asyncio.AbstractEventLoop | None) -> None:
        """Attach the event loop subscribers run on (done by the app's lifespan)."""
        self._loop = loop

    @property
    def subscriber_count(self) -> int:
        """Number of active subscribers."""
        return len(self._queues)

    def publish(self, kind: EventKind | str, payload: dict[str, Any]) -> None:
        """Send an event to every subscriber; a no-op while no loop is bound.

        Parameters
        ----------
        kind : EventKind or str
            Event kind, e.g. ``"scan"``.
        payload : dict
            JSON-ready payload.
        """
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with self._id_lock:
            event = Event(id=next(self._ids), kind=EventKind(kind).value, payload=payload)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._fan_out(event)
        else:
            with contextlib.suppress(RuntimeError):  # loop closed between the check and the call
                loop.call_soon_threadsafe(self._fan_out, event)

    def _fan_out(self, event: Event) -> None:
        for queue in list(self._queues):
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
                logger.warning("event subscriber too slow: dropped its oldest event")
            queue.put_nowait(event)

    async def subscribe(self) -> AsyncGenerator[Event, None]:
        """Yield every event published from now on until the consumer stops iterating."""
        queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=self._max_queue)
        self._queues.add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._queues.discard(queue)
