"""The Huawei Cloud CDN dialect: statistics export tasks under ``/v1/cdn/statistics/export-tasks``.

Requests are signed with ``SDK-HMAC-SHA256`` by an access key bound to one project; errors answer
in Huawei's shapes (:mod:`logsluice.api.huawei.errors`). See ``docs/dialects/huawei.md``.
"""

from __future__ import annotations

from fastapi import APIRouter

from logsluice.api.huawei.export_tasks import router


def huawei_router() -> APIRouter:
    """Return the router of every Huawei route, its own error mapping included."""
    return router


__all__ = ["huawei_router"]
