"""logsluice: a self-hosted log store that turns any query over any time range into a file."""

__version__ = "0.1.0"
