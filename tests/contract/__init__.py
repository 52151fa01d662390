"""Contract tests: each port against each of its implementations."""
