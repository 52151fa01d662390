"""The native dialect: logsluice's own JSON API under ``/api/v1``."""

from __future__ import annotations

from fastapi import APIRouter

from logsluice.api.native import logstores, projects, queries, records


def native_router() -> APIRouter:
    """Return one router holding every native endpoint."""
    router = APIRouter()
    for module_router in (projects.router, logstores.router, records.router, queries.router):
        router.include_router(module_router)
    return router
