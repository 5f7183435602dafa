"""The console's server-sent event stream (``service.api.routes.events``)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from service.api.routes.events import event_stream, format_event
from service.events import EventBus


async def _take(stream: AsyncIterator[str], n: int, timeout: float = 5.0) -> list[str]:
    out = []
    for _ in range(n):
        out.append(await asyncio.wait_for(anext(stream), timeout))
    return out


def test_format_event_splits_lines() -> None:
    """A multi-line payload becomes several data lines and the message ends with a blank line."""
    text = format_event("scan", "a\nb", 7)
    assert text == "id: 7\nevent: scan\ndata: a\ndata: b\n\n"


def test_published_events_are_streamed_in_order() -> None:
    """Scan and review events published on the bus arrive as SSE messages with JSON data."""

    async def scenario() -> list[str]:
        bus = EventBus()
        bus.bind(asyncio.get_running_loop())
        stream = event_stream(bus.subscribe(), heartbeat_s=10.0)
        first = await _take(stream, 1)
        assert bus.subscriber_count == 1
        bus.publish("scan", {"id": "s1", "result": {"decision": "ALARM"}})
        bus.publish("review", {"id": "s1", "review": {"outcome": "item_found"}})
        messages = first + await _take(stream, 2)
        await stream.aclose()  # type: ignore[attr-defined]
        assert bus.subscriber_count == 0
        return messages

    hello, scan, review = asyncio.run(scenario())
    assert hello.startswith("retry: ")
    assert scan.startswith("id: 1\nevent: scan\ndata: ")
    assert json.loads(scan.split("data: ", 1)[1])["result"]["decision"] == "ALARM"
    assert "event: review" in review and '"item_found"' in review


def test_heartbeat_while_quiet_and_stop_on_disconnect() -> None:
    """A quiet stream sends heartbeat comments and ends once the client has gone."""

    async def scenario() -> tuple[list[str], int]:
        bus = EventBus()
        bus.bind(asyncio.get_running_loop())
        gone = False

        async def is_disconnected() -> bool:
            return gone

        stream = event_stream(bus.subscribe(), heartbeat_s=0.02, is_disconnected=is_disconnected)
        messages = await _take(stream, 3)
        gone = True
        rest = [m async for m in stream]
        return messages + rest, bus.subscriber_count

    messages, subscribers = asyncio.run(scenario())
    assert messages[1:3] == [": heartbeat\n\n", ": heartbeat\n\n"]
    assert len(messages) <= 4
    assert subscribers == 0


def test_unserialisable_event_is_skipped() -> None:
    """An event whose payload cannot be encoded is logged and skipped, not fatal to the stream."""

    async def scenario() -> list[str]:
        class Broken:
            def model_dump_json(self) -> str:
                raise ValueError("cannot encode")

        async def source() -> AsyncIterator[tuple[object, ...]]:
            yield ("scan",)  # malformed: no payload
            yield ("scan", Broken())
            yield ("review", {"id": "ok"})

        stream = event_stream(source(), heartbeat_s=10.0)
        return [m async for m in stream]

    messages = asyncio.run(scenario())
    assert len(messages) == 2
    assert messages[0].startswith("retry: ")
    assert messages[1] == 'event: review\ndata: {"id":"ok"}\n\n'
