"""Structured logging for the server and worker processes: one JSON object per event on stderr.

Events carry a stable name (``task.slice_done``) plus bound fields such as ``task_id`` and
``worker_id``, and an API request's events its ``request_id``; ``LOGSLUICE_LOG_LEVEL`` filters them,
after the process's metrics have counted them (``logsluice.metrics``). Only entry points call
:func:`configure_logging`; library code just asks structlog for a logger.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from logsluice.metrics import Metrics


def configure_logging(level: str, metrics: Metrics | None = None) -> None:
    """Send events at ``level`` (debug, info, warning, error) and above to stderr as JSON.

    With ``metrics``, every event is shown to it first, whatever ``level`` filters out, so the
    counters do not depend on the log level.
    """
    threshold = logging.getLevelNamesMapping()[level.upper()]
    processors: list[Any] = [structlog.contextvars.merge_contextvars]
    wrapper_class = structlog.make_filtering_bound_logger(threshold)
    if metrics is not None:
        processors += [metrics.observe_event, _DropBelow(threshold)]
        wrapper_class = structlog.make_filtering_bound_logger(logging.DEBUG)
    structlog.configure(
        processors=[
            *processors,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=wrapper_class,
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )


class _DropBelow:
    """Drop events below the log level once the metrics have seen them."""

    def __init__(self, threshold: int) -> None:
        self._threshold = threshold

    def __call__(
        self, logger: object, method_name: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        level = logging.getLevelNamesMapping().get(method_name.upper(), logging.INFO)
        if method_name == "exception":
            level = logging.ERROR
        if level < self._threshold:
            raise structlog.DropEvent
        return event_dict
