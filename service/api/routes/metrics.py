"""Prometheus metrics (any valid token)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service.api.deps import AnyPrincipal, ServicesDep

router = APIRouter(tags=["metrics"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
    summary="Prometheus metrics",
)
def metrics(services: ServicesDep, principal: AnyPrincipal) -> Response:
    """Requests, latency histograms, decisions by kind, receiver associations."""
    return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)
