"""Structured logging for the server and worker processes: one JSON object per event on stderr.

Events carry a stable name (``task.slice_done``) plus bound fields such as ``task_id`` and
``worker_id``; ``LOGSLUICE_LOG_LEVEL`` filters them. Only entry points call
:func:`configure_logging`; library code just asks structlog for a logger.
"""

from __future__ import annotations

import logging
import sys

import structlog


def configure_logging(level: str) -> None:
    """Send events at ``level`` (debug, info, warning, error) and above to stderr as JSON."""
    threshold = logging.getLevelNamesMapping()[level.upper()]
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
