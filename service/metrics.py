"""Prometheus metrics with one registry per app, and the ASGI middleware that feeds them."""

from __future__ import annotations

import json
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class ServiceMetrics:
    """Every metric the service exports (own registry, so several apps can coexist)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "scanguard_http_requests",
            "HTTP requests by method, route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "scanguard_http_request_duration_seconds",
            "HTTP request latency by method and route template (streams excluded).",
            ["method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=self.registry,
        )
        self.scans = Counter(
            "scanguard_scans",
            "Scans accepted and stored, by source.",
            ["source"],
            registry=self.registry,
        )
        self.rejected = Counter(
            "scanguard_scans_rejected",
            "Submissions refused because the data could not be used, by error code.",
            ["source", "code"],
            registry=self.registry,
        )
        self.decisions = Counter(
            "scanguard_decisions",
            "Scan decisions by kind.",
            ["decision"],
            registry=self.registry,
        )
        self.reviews = Counter(
            "scanguard_reviews",
            "Officer reviews by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self.detector_failures = Counter(
            "scanguard_detector_failures",
            "Stored scans the detector failed on.",
            registry=self.registry,
        )
        self.pipeline_seconds = Histogram(
            "scanguard_pipeline_duration_seconds",
            "Time from received bytes to stored result.",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0),
            registry=self.registry,
        )
        self.associations = Counter(
            "scanguard_dicom_associations",
            "DICOM associations by outcome (accepted, rejected, aborted, released).",
            ["outcome"],
            registry=self.registry,
        )
        self.dicom_instances = Counter(
            "scanguard_dicom_instances",
            "C-STORE requests by returned status (hex).",
            ["status"],
            registry=self.registry,
        )
        self.model_loaded = Gauge(
            "scanguard_model_loaded",
            "1 when the detector is loaded.",
            registry=self.registry,
        )


class MetricsMiddleware:
    """Counts requests and measures latency by route template (pure ASGI, stream-safe)."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        state: dict[str, Any] = {"status": 500, "stream": False}

        async def _send(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                for key, value in message.get("headers", []):
                    if key.lower() == b"content-type" and value.startswith(b"text/event-stream"):
                        state["stream"] = True
            await send(message)

        try:
            await self.app(scope, receive, _send)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "GET")
            self.metrics.requests.labels(method, template, str(state["status"])).inc()
            if not state["stream"]:
                self.metrics.latency.labels(method, template).observe(time.perf_counter() - start)


class BodyLimitMiddleware:
    """Refuses (413) any request whose declared Content-Length exceeds ``max_bytes``.

    The scan upload route also counts the bytes it streams, which covers chunked bodies.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for key, value in scope.get("headers", []):
                if key == b"content-length":
                    declared = value.decode("latin-1").strip()
                    if declared.isdigit() and int(declared) > self.max_bytes:
                        await _send_json(
                            send,
                            413,
                            {
                                "error": {
                                    "code": "payload_too_large",
                                    "message": (
                                        f"the request body is {declared} bytes, more than the "
                                        f"{self.max_bytes}-byte limit; raise "
                                        "SCANGUARD_MAX_UPLOAD_MB if such scans are expected"
                                    ),
                                }
                            },
                        )
                        return
        await self.app(scope, receive, send)


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode("ascii")),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
