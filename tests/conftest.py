"""Shared pytest configuration: fixture plugins of the test tiers."""

pytest_plugins = ["tests.contract.conftest_sql", "tests.s3_server"]
