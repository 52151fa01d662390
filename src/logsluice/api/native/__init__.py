"""The native dialect: logsluice's own JSON API under ``/api/v1``."""

from __future__ import annotations

from fastapi import APIRouter

from logsluice.api.native import (
    access_keys,
    logstores,
    projects,
    queries,
    records,
    sessions,
    sinks,
    task_events,
    tasks,
)


def native_router() -> APIRouter:
    """Return one router holding every native endpoint."""
    router = APIRouter()
    module_routers = (
        task_events.router,
        projects.router,
        logstores.router,
        records.router,
        queries.router,
        tasks.router,
        access_keys.router,
        sessions.router,
        sinks.router,
    )
    for module_router in module_routers:
        router.include_router(module_router)
    return router
