"""A log store reached over HTTP: worker processes read records through the serving node.

The embedded DuckDB file can be opened by one process only, so ``logsluice worker`` processes do
not open it: they stream each slice from the ``serve`` process that holds it, as Arrow IPC.
"""

from logsluice.adapters.http.log_store import HttpLogStore

__all__ = ["HttpLogStore"]
