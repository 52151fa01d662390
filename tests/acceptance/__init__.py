"""Acceptance tests: real `logsluice` processes driven by the real CLI."""
