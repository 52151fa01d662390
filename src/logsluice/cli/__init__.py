"""The ``logsluice`` command: ``serve`` runs the server; the other commands drive it over HTTP."""
