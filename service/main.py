"""The station service's FastAPI app: ``create_app(settings, detector)``.

The lifespan opens the store, warms the kernels, loads the detector (unless one is
injected), starts the DICOM receiver and optionally imports the sample scans; it stops them
in reverse order.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from swagger_ui_bundle import swagger_ui_path

from service.api.routes import health, scans, tokens
from service.api.routes import metrics as metrics_routes
from service.config import Settings, get_settings
from service.errors import DetectorFailedError, ErrorCode, ServiceError
from service.events import EventBus
from service.metrics import BodyLimitMiddleware, MetricsMiddleware, ServiceMetrics
from service.pipeline import Pipeline, Submission
from service.render import ScanCache
from service.schemas import ScanSource
from service.state import Services
from service.store import Store

if TYPE_CHECKING:
    from detect.result import SupportsDetect

logger = logging.getLogger(__name__)

API_VERSION = "1"
STATIC_DIR = Path(__file__).parent / "static"


def error_body(code: ErrorCode | str, message: str, **extra: str) -> dict[str, object]:
    """The JSON body of every error answer."""
    detail: dict[str, object] = {"code": ErrorCode(code).value, "message": message}
    detail.update(extra)
    return {"error": detail}


def load_configured_detector(settings: Settings) -> SupportsDetect:
    """The detector named by the settings, or the shipped model (warmed up).

    Raises
    ------
    ServiceError
        When the model or its manifest is missing, invalid or does not match.
    """
    from detect import load_detector
    from detect.errors import DetectorError

    try:
        return load_detector(
            settings.model_path,
            settings.manifest_path,
            threads=settings.detector_threads,
            warmup=True,
        )
    except DetectorError as exc:
        raise ServiceError(
            f"cannot load the detector: {exc} (service settings: SCANGUARD_MODEL_PATH, "
            "SCANGUARD_MANIFEST_PATH)"
        ) from exc


@functools.cache
def _warm_kernels() -> None:
    """Compile (or load from cache) the numba kernels once per process."""
    try:
        kernels = importlib.import_module("kernels")
        warmup = getattr(kernels, "warmup", None)
        if warmup is not None:
            warmup()
    except Exception:  # warm-up only saves time on the first request
        logger.exception("kernel warm-up failed; the first scans will compile them")


def import_samples(pipeline: Pipeline) -> int:
    """Submit every DICOM sample scan (source ``import``); returns how many were stored."""
    try:
        from scanner.samples import list_samples, sample_path

        names = [n for n in list_samples() if n.lower().endswith((".dcm", ".dicom"))]
    except Exception as exc:  # missing samples must not stop the service
        logger.warning("no sample scans imported: %s", exc)
        return 0
    stored = 0
    for name in names:
        try:
            data = Path(sample_path(name)).read_bytes()
            pipeline.submit(
                data,
                Submission(source=ScanSource.IMPORT, actor="system:samples", station_id="samples"),
            )
            stored += 1
        except Exception:
            logger.exception("sample %s could not be imported", name)
    logger.info("imported %d sample scans", stored)
    return stored


def start_services(
    settings: Settings,
    *,
    detector: SupportsDetect | None,
    metrics: ServiceMetrics,
    events: EventBus,
) -> Services:
    """Open the store, load the detector, start the receiver (blocking; run in a thread)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(
        settings.resolved_database_url,
        settings.data_dir / "blobs",
        pool_size=settings.db_pool_size,
    )
    store.open()
    _warm_kernels()
    if detector is None:
        detector = load_configured_detector(settings)
    metrics.model_loaded.set(1)
    cache = ScanCache(settings.render_cache_size)
    pipeline = Pipeline(
        store,
        cache,
        events,
        metrics,
        max_bytes=settings.max_upload_bytes,
        detector=detector,
        compute_slots=settings.compute_slots,
    )
    services = Services(
        settings=settings,
        store=store,
        pipeline=pipeline,
        cache=cache,
        events=events,
        metrics=metrics,
        detector=detector,
    )
    if settings.dicom_port:
        from service.receiver import DicomReceiver

        receiver = DicomReceiver(
            pipeline,
            metrics,
            ae_title=settings.dicom_ae_title,
            host=settings.dicom_host or settings.host,
            port=settings.dicom_port,
            allowed_aets=settings.dicom_allowed_aets,
        )
        try:
            receiver.start()
        except OSError as exc:
            store.close()
            raise ServiceError(
                f"the DICOM receiver cannot listen on {receiver.host}:{settings.dicom_port} "
                f"({exc}); pick another SCANGUARD_DICOM_PORT or 0 to disable it"
            ) from exc
        services.receiver = receiver
    if settings.load_samples and store.count_scans() == 0:
        import_samples(pipeline)
    return services


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError) -> JSONResponse:
        extra = {"scan_id": exc.scan_id} if isinstance(exc, DetectorFailedError) else {}
        return JSONResponse(error_body(exc.code, exc.message, **extra), status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors():
            loc = ".".join(str(item) for item in err.get("loc", ()) if item != "body") or "body"
            parts.append(f"{loc}: {err.get('msg', 'invalid')}")
        message = "invalid request: " + "; ".join(parts)
        return JSONResponse(error_body(ErrorCode.INVALID_PARAMETER, message), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            code, message = ErrorCode.NOT_FOUND, f"no such endpoint: {request.url.path}"
        elif exc.status_code == 405:
            code = ErrorCode.METHOD_NOT_ALLOWED
            message = f"{request.method} is not allowed on {request.url.path}"
        else:
            code, message = ErrorCode.HTTP_ERROR, str(exc.detail)
        return JSONResponse(
            error_body(code, message), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse(
            error_body(ErrorCode.INTERNAL, "internal error; the details are in the service log"),
            status_code=500,
        )


def _install_offline_docs(app: FastAPI) -> None:
    """Serve the interactive API docs at ``/docs`` from packaged assets (no CDN).

    Stations often run on closed networks, so Swagger UI's script and style sheet come from the
    ``swagger-ui-bundle`` package rather than from the internet.
    """
    app.mount("/docs-assets", StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon-32x32.png",
        )


def create_app(settings: Settings | None = None, detector: SupportsDetect | None = None) -> FastAPI:
    """Build the station service.

    Parameters
    ----------
    settings : Settings, optional
        Defaults to :func:`service.config.get_settings` (``SCANGUARD_*`` environment).
    detector : SupportsDetect, optional
        Detector to use (tests inject a double); default: the shipped model, loaded at start.

    Returns
    -------
    FastAPI
        ``app.state.events`` is the :class:`service.events.EventBus`; ``app.state.services``
        appears once the lifespan has started.
    """
    settings = settings or get_settings()
    metrics = ServiceMetrics()
    events = EventBus()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        events.bind(asyncio.get_running_loop())
        services = await run_in_threadpool(
            start_services, settings, detector=detector, metrics=metrics, events=events
        )
        app.state.services = services
        logger.info("ScanGuard service ready (store %s)", services.store.db.engine.url)
        try:
            yield
        finally:
            app.state.services = None
            await run_in_threadpool(services.stop)
            events.bind(None)

    app = FastAPI(
        title="ScanGuard station service",
        version=API_VERSION,
        description=(
            "Detects mobile phones and other contraband in full-body transmission X-ray "
            "scans. Every endpoint except /healthz and /readyz needs an API token "
            "(`Authorization: Bearer <token>`)."
        ),
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    _install_offline_docs(app)
    app.state.settings = settings
    app.state.events = events
    app.state.metrics = metrics
    app.state.services = None
    app.dependency_overrides[get_settings] = lambda: settings
    # Body limit inside the metrics middleware, so refused requests are counted too.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_upload_bytes + 1024 * 1024)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    _install_error_handlers(app)
    for router in (health.router, metrics_routes.router, scans.router, tokens.router):
        app.include_router(router)
    try:
        events_module = importlib.import_module("service.api.routes.events")
    except ModuleNotFoundError as exc:
        if exc.name != "service.api.routes.events":
            raise
    else:
        events_router = events_module.router
        prefix = "" if events_router.prefix.startswith("/api/") else "/api/v1"
        app.include_router(events_router, prefix=prefix)
    if STATIC_DIR.is_dir():
        app.mount("/", StaticFiles(directory=STATIC_DIR, html=True), name="console")
    return app
