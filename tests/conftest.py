"""Shared pytest configuration: fixture plugins of the test tiers."""

pytest_plugins = [
    "tests.s3_server",
    "tests.contract.conftest_sql",
    "tests.contract.conftest_lake",
]
