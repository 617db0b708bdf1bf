"""The collector's FastAPI application.

``create_app(settings)`` builds the app; its lifespan opens the event log on startup (recovering
from a crash if needed) and flushes it into the lake on shutdown.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

import intentflow
from intentflow.collect.exceptions import CollectError
from intentflow.collect.fastpath import WriteFastPath
from intentflow.collect.routes import router
from intentflow.collect.runtime import CollectorRuntime
from intentflow.config import Settings
from intentflow.events import AnyEvent, EventBatch
from intentflow.serve import items, recs, status, users
from intentflow.serve.fastpath import ReadFastPath
from intentflow.serve.timing import ServerTiming

log = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None, runtime: CollectorRuntime | None = None
) -> FastAPI:
    """The collector app. Pass ``runtime`` to share one that is already started (tests, demo)."""
    own = runtime is None
    runtime = runtime or CollectorRuntime(settings or Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if own:
            runtime.start()
        try:
            yield
        finally:
            if own:
                runtime.stop()

    app = FastAPI(
        title="intentflow",
        version=intentflow.__version__,
        summary="Behavioral events in, personalization out.",
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.include_router(router)
    app.include_router(users.router)
    app.include_router(recs.router)
    app.include_router(items.router)
    app.include_router(status.router)
    app.add_middleware(WriteFastPath, runtime=runtime)
    app.add_middleware(ReadFastPath, runtime=runtime)
    app.add_middleware(ServerTiming)

    @app.exception_handler(CollectError)
    async def collect_error(request: Request, exc: CollectError) -> JSONResponse:
        headers = {"WWW-Authenticate": 'Basic realm="intentflow"'} if exc.status == 401 else None
        return JSONResponse({"error": exc.reason}, status_code=exc.status, headers=headers)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": "invalid request", "detail": exc.errors()}, status_code=422)

    _publish_event_schemas(app)
    return app


def _publish_event_schemas(app: FastAPI) -> None:
    """Put the event model's JSON Schema into the OpenAPI document."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        spec = original()
        _, components = msgspec.json.schema_components(
            [AnyEvent, EventBatch], ref_template="#/components/schemas/{name}"
        )
        spec.setdefault("components", {}).setdefault("schemas", {}).update(components)
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
