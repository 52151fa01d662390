"""Builds the FastAPI application from an ApiContext: routers, error envelopes, background jobs.

The app holds no global state: everything it uses arrives in :func:`create_app`'s arguments and
lives on ``app.state``. Background jobs (retention) run while the app's lifespan lasts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Protocol

from fastapi import FastAPI

import logsluice
from logsluice.api import downloads, internal
from logsluice.api.bls import bls_router
from logsluice.api.context import ApiContext
from logsluice.api.contract import install_contract
from logsluice.api.docs_pages import install_docs_pages
from logsluice.api.huawei import huawei_router
from logsluice.api.metrics_endpoint import MetricsEndpoint, install_metrics
from logsluice.api.native import native_router
from logsluice.api.native.errors import install_error_handlers
from logsluice.api.sls import sls_router


class BackgroundJob(Protocol):
    """Something that runs beside the server, started and stopped with the app."""

    def start(self) -> None:
        """Start running in the background."""
        ...

    def stop(self) -> None:
        """Stop and wait for the current run to end."""
        ...


def create_app(
    context: ApiContext,
    background_jobs: Sequence[BackgroundJob] = (),
    metrics_endpoint: MetricsEndpoint | None = None,
) -> FastAPI:
    """Return the logsluice API app serving ``context``; OpenAPI at ``/openapi.json``, Swagger UI
    at ``/docs`` and ReDoc at ``/redoc``."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for job in background_jobs:
            job.start()
        try:
            yield
        finally:
            context.shutdown.set()
            for job in background_jobs:
                job.stop()

    app = FastAPI(
        title="logsluice",
        version=logsluice.__version__,
        description="Self-hosted log store: ingest, search and export logs.",
        lifespan=lifespan,
        docs_url=None,  # served from packaged assets instead of a CDN: docs_pages
        redoc_url=None,
        # operationIds are the endpoints' names (`create_task`), stable for clients and tools
        generate_unique_id_function=lambda route: route.name,
    )
    app.state.context = context
    install_error_handlers(app)
    app.include_router(native_router())
    # The vendor dialects keep their vendors' wire formats; their own docs describe them, not the
    # OpenAPI document (ADR 0021).
    app.include_router(bls_router(), include_in_schema=False)
    app.include_router(sls_router(), include_in_schema=False)
    app.include_router(huawei_router(), include_in_schema=False)
    app.include_router(downloads.router)
    app.include_router(internal.router)
    app.add_api_route("/healthz", health, methods=["GET"], tags=["health"])
    install_docs_pages(app)
    install_contract(app)
    if metrics_endpoint is not None:
        install_metrics(app, metrics_endpoint)  # outermost: it also counts the 405s
    return app


def health() -> dict[str, str]:
    """Answer ``{"status": "ok"}`` without authentication, for load balancers and scripts."""
    return {"status": "ok"}
