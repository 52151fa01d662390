"""Adapters: the only code that imports drivers (DuckDB, SQLAlchemy, S3 clients).

Each adapter package implements one port of :mod:`logsluice.ports` for one technology and is
picked by a URL scheme; optional drivers are imported inside the adapter, so a missing one fails
with the extra to install rather than at import time.
"""
