"""How long a download link works: the default and the bounds a caller's ``ttl`` must keep.

The server's settings may lower the default or move the upper bound
(``LOGSLUICE_LINK_TTL_DEFAULT``, ``LOGSLUICE_LINK_TTL_MAX``); the client's help quotes these.
"""

from __future__ import annotations

from datetime import timedelta

DEFAULT_LINK_TTL = timedelta(hours=1)
MINIMUM_LINK_TTL = timedelta(seconds=60)
MAXIMUM_LINK_TTL = timedelta(days=7)
