"""Liveness and readiness (no token needed)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from service.schemas import Health
from service.state import Services

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="Liveness")
def healthz() -> Health:
    """The process answers."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Health,
    responses={503: {"model": Health}},
    summary="Readiness: model loaded and store reachable",
)
async def readyz(request: Request) -> JSONResponse:
    """200 when the model is loaded and the store answers, else 503."""
    services: Services | None = getattr(request.app.state, "services", None)
    if services is None:
        body = Health(status="starting", store=False)
        return JSONResponse(body.model_dump(mode="json"), status_code=503)
    store_ok = await run_in_threadpool(services.store.ping)
    model_ok = services.detector is not None
    model = services.detector.identity.model_dump() if services.detector is not None else None
    body = Health(
        status="ready" if store_ok and model_ok else "not_ready",
        model=model,
        store=store_ok,
        receiver=services.receiver.running if services.receiver is not None else None,
    )
    return JSONResponse(
        body.model_dump(mode="json"), status_code=200 if body.status == "ready" else 503
    )
