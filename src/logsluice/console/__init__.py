"""The web console: search, export and watch download tasks in a browser.

Static HTML, CSS and JavaScript modules shipped in this package (``static/``), with no build step
and nothing fetched from elsewhere at run time (ADR 0010). The page calls the same native
``/api/v1`` endpoints as the CLI, signed in with a session cookie (ADR 0009). This module only
serves the files: at ``/console/``, with ``/`` redirecting there.
"""

from logsluice.console.assets import mount_console

__all__ = ["mount_console"]
