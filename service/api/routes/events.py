"""``GET /api/v1/events``: server-sent events of new scans and reviews for the console.

The stream sends ``event: scan`` and ``event: review`` messages whose ``data`` is the scan's
``ScanPublic`` JSON, and a comment line every ``HEARTBEAT_S`` seconds so that proxies keep the
connection open and a dead client is noticed. Browsers' ``EventSource`` cannot send headers, so
the token may come as the ``token`` query parameter as well as ``Authorization: Bearer``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from service.api.deps import ServicesDep, ViewerQ

logger = logging.getLogger(__name__)

#: Seconds between heartbeat comments when no event is sent.
HEARTBEAT_S = 15.0
#: Reconnection delay the browser is told to use, in milliseconds.
RETRY_MS = 3000

router = APIRouter(prefix="/events", tags=["events"])


def _unpack(item: Any) -> tuple[int | None, str, Any]:
    """``(id, kind, payload)`` of a bus event (an ``Event`` or a ``(kind, payload)`` pair)."""
    if isinstance(item, tuple):
        kind, payload = item
        event_id = None
    else:
        kind, payload, event_id = item.kind, item.payload, getattr(item, "id", None)
    return event_id, str(getattr(kind, "value", kind)), payload


def _payload_json(payload: Any) -> str:
    """Compact one-line JSON of an event payload (a pydantic model or a JSON-ready mapping)."""
    if hasattr(payload, "model_dump_json"):
        return str(payload.model_dump_json())
    return json.dumps(payload, default=str, separators=(",", ":"))


def format_event(kind: str, data: str, event_id: int | None = None) -> str:
    """One SSE message.

    Parameters
    ----------
    kind : str
        The ``event:`` name, e.g. ``"scan"``.
    data : str
        The ``data:`` text; line breaks become several ``data:`` lines.
    event_id : int, optional
        The ``id:`` field.

    Returns
    -------
    str
        The message, ending with a blank line.
    """
    lines = [] if event_id is None else [f"id: {event_id}"]
    lines.append(f"event: {kind}")
    lines.extend(f"data: {line}" for line in data.splitlines() or [""])
    return "\n".join(lines) + "\n\n"


async def event_stream(
    events: AsyncIterator[Any],
    *,
    heartbeat_s: float = HEARTBEAT_S,
    is_disconnected: Callable[[], Awaitable[bool]] | None = None,
) -> AsyncIterator[str]:
    """SSE text of every event from ``events``, with heartbeats while it is quiet.

    Parameters
    ----------
    events : async iterator
        The bus subscription (``EventBus.subscribe()``), yielding ``Event`` objects or
        ``(kind, payload)`` pairs.
    heartbeat_s : float
        Seconds of silence after which a ``: heartbeat`` comment is sent.
    is_disconnected : callable, optional
        Awaitable check of whether the client has gone; polled at each heartbeat.

    Yields
    ------
    str
        SSE messages and comments.
    """
    pending: asyncio.Future[Any] | None = None
    try:
        # Subscribe before the first byte goes out, so no event published after it is missed.
        pending = asyncio.ensure_future(anext(events))
        await asyncio.sleep(0)
        yield f"retry: {RETRY_MS}\n: connected\n\n"
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(events))
            done, _ = await asyncio.wait({pending}, timeout=heartbeat_s)
            if not done:
                if is_disconnected is not None and await is_disconnected():
                    return
                yield ": heartbeat\n\n"
                continue
            try:
                item = pending.result()
            except StopAsyncIteration:
                return
            finally:
                pending = None
            try:
                event_id, kind, payload = _unpack(item)
                message = format_event(kind, _payload_json(payload), event_id)
            except (TypeError, ValueError, AttributeError):
                logger.exception("event %r cannot be sent to the console; skipped", item)
                continue
            yield message
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await pending
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(RuntimeError):
                await aclose()


@router.get(
    "",
    summary="Live stream of new scans and reviews (server-sent events)",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}},
        401: {"description": "no valid token"},
        403: {"description": "the token's role may not view scans"},
    },
)
async def stream_events(
    request: Request, services: ServicesDep, principal: ViewerQ
) -> StreamingResponse:
    """Stream ``scan`` and ``review`` events until the client disconnects.

    Needs a token whose role may view scans (operator, validator, admin), in the
    ``Authorization`` header or the ``token`` query parameter. The heartbeat interval is
    ``HEARTBEAT_S`` unless ``app.state.events_heartbeat_s`` sets another.
    """
    bus = services.events
    logger.debug("event stream opened by %s", principal.actor)
    heartbeat_s = float(getattr(request.app.state, "events_heartbeat_s", HEARTBEAT_S))
    return StreamingResponse(
        event_stream(
            bus.subscribe(), heartbeat_s=heartbeat_s, is_disconnected=request.is_disconnected
        ),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
