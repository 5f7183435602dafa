"""Health, readiness, metrics and the event bus."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.auth import Role
from service.events import EventBus
from service.store import ScanFilter
from tests.service.conftest import auth, dicom_bytes


def test_healthz(client: TestClient) -> None:
    """Liveness needs nothing."""
    assert client.get("/healthz").json() == {
        "status": "ok",
        "model": None,
        "store": None,
        "receiver": None,
    }


def test_readyz_reports_model_and_store(client: TestClient) -> None:
    """Readiness names the loaded model and the store state."""
    body = client.get("/readyz").json()
    assert body["status"] == "ready"
    assert body["model"]["name"] == "test-detector"
    assert body["store"] is True


def test_readyz_fails_when_store_is_down(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unreachable store makes readiness answer 503."""
    store = client.app.state.services.store  # type: ignore[attr-defined]
    monkeypatch.setattr(store, "ping", lambda: False)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "not_ready"


def test_metrics_count_requests_decisions(
    client: TestClient, tokens: dict[Role, str], alarm_scan: bytes, clear_scan: bytes
) -> None:
    """Requests by route template, latency histograms and decisions by kind are exported."""
    for data in (alarm_scan, clear_scan, clear_scan):
        client.post(
            "/api/v1/scans",
            content=data,
            headers={**auth(tokens[Role.STATION]), "Content-Type": "application/dicom"},
        )
    client.get("/api/v1/scans/ffffffffffffffffffffffffffffffff", headers=auth(tokens[Role.ADMIN]))
    first = client.get("/api/v1/scans", headers=auth(tokens[Role.OPERATOR])).json()["data"][0]
    client.post(
        f"/api/v1/scans/{first['id']}/review",
        json={"outcome": "nothing_found"},
        headers=auth(tokens[Role.OPERATOR]),
    )
    text = client.get("/metrics", headers=auth(tokens[Role.VALIDATOR])).text
    assert 'scanguard_decisions_total{decision="ALARM"} 1.0' in text
    assert 'scanguard_decisions_total{decision="CLEAR"} 2.0' in text
    assert (
        'scanguard_http_requests_total{method="POST",route="/api/v1/scans",status="201"} 3.0'
        in text
    )
    assert 'route="/api/v1/scans/{scan_id}",status="404"' in text
    assert "scanguard_http_request_duration_seconds_bucket" in text
    assert 'scanguard_scans_total{source="http"} 3.0' in text
    assert 'scanguard_reviews_total{outcome="nothing_found"} 1.0' in text


def test_apps_have_separate_registries(make_client: object) -> None:
    """Two apps in one process do not share metrics."""
    first = make_client()  # type: ignore[operator]
    second = make_client(data_dir=first.app.state.settings.data_dir.parent / "other")  # type: ignore[operator]
    assert first.app.state.metrics.registry is not second.app.state.metrics.registry


class TestEventBus:
    def test_publish_from_thread_reaches_subscribers(self) -> None:
        """Events published from worker threads arrive in order at every subscriber."""

        async def scenario() -> tuple[list[str], list[str]]:
            bus = EventBus()
            bus.bind(asyncio.get_running_loop())
            first, second = bus.subscribe(), bus.subscribe()
            got_first = asyncio.ensure_future(first.__anext__())
            got_second = asyncio.ensure_future(second.__anext__())
            await asyncio.sleep(0)  # both subscribed

            def publish_three() -> None:
                for i in range(3):
                    bus.publish("scan", {"n": i})

            thread = threading.Thread(target=publish_three)
            thread.start()
            thread.join()
            a = [(await got_first).payload["n"], (await first.__anext__()).payload["n"]]
            b = [(await got_second).payload["n"]]
            await first.aclose()
            await second.aclose()
            return [str(x) for x in a], [str(x) for x in b]

        a, b = asyncio.run(scenario())
        assert a == ["0", "1"] and b == ["0"]

    def test_slow_subscriber_loses_oldest(self) -> None:
        """A full subscriber queue drops its oldest events, never blocking the publisher."""

        async def scenario() -> list[int]:
            bus = EventBus(max_queue=2)
            bus.bind(asyncio.get_running_loop())
            stream = bus.subscribe()
            pending = asyncio.ensure_future(stream.__anext__())
            await asyncio.sleep(0)
            for i in range(5):
                bus.publish("review", {"n": i})
            first = await pending
            rest = [(await stream.__anext__()).payload["n"]]
            await stream.aclose()
            assert bus.subscriber_count == 0
            return [first.payload["n"], *rest]

        assert asyncio.run(scenario()) == [3, 4]

    def test_unbound_bus_ignores_events(self) -> None:
        """Publishing before the app starts is a no-op, and unknown kinds are refused."""
        bus = EventBus()
        bus.publish("scan", {})
        loop = asyncio.new_event_loop()
        bus.bind(loop)
        try:
            with pytest.raises(ValueError, match="'nonsense' is not a valid EventKind"):
                bus.publish("nonsense", {})
        finally:
            loop.close()


def test_samples_imported_once_into_an_empty_store(
    make_client: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--load-samples fills an empty store (source 'import') and never imports twice."""
    samples = tmp_path / "samples"
    samples.mkdir()
    (samples / "a.dcm").write_bytes(dicom_bytes(phone=True, seed=11))
    (samples / "b.dcm").write_bytes(dicom_bytes(phone=False, seed=12))
    monkeypatch.setenv("SCANGUARD_SAMPLES_DIR", str(samples))
    first = make_client(load_samples=True)  # type: ignore[operator]
    store = first.app.state.services.store
    listing, count = store.list_scans(ScanFilter())
    assert count == 2
    assert {scan.source.value for scan in listing} == {"import"}
    assert {scan.result.decision.value for scan in listing} == {"ALARM", "CLEAR"}
    first.__exit__(None, None, None)
    second = make_client(load_samples=True)  # type: ignore[operator]
    assert second.app.state.services.store.count_scans() == 2


def test_docs_served_without_external_resources(client: TestClient) -> None:
    """/docs renders from packaged Swagger UI assets, with no CDN address in the page."""
    page = client.get("/docs")
    assert page.status_code == 200
    assert "/docs-assets/swagger-ui-bundle.js" in page.text
    assert "cdn." not in page.text and "https://" not in page.text
    script = client.get("/docs-assets/swagger-ui-bundle.js")
    assert script.status_code == 200
    assert len(script.content) > 100_000
