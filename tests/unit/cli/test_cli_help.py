"""The CLI's help says what the server does: optional QUERY, the real link TTL bounds."""

from __future__ import annotations

from click.testing import CliRunner

from logsluice.cli.main import cli
from logsluice.domain.links import DEFAULT_LINK_TTL, MAXIMUM_LINK_TTL, MINIMUM_LINK_TTL
from logsluice.settings import Settings


def _help(*command: str) -> str:
    result = CliRunner().invoke(cli, [*command, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def test_query_is_optional_in_the_usage_lines() -> None:
    for command in (("query",), ("task", "create"), ("tail",)):
        assert "[OPTIONS] [QUERY]" in _help(*command), command


def test_link_ttl_help_quotes_the_bounds_the_server_applies() -> None:
    text = _help("task", "link")
    assert (
        f"{MINIMUM_LINK_TTL.total_seconds():.0f} to {MAXIMUM_LINK_TTL.total_seconds():,.0f}" in text
    )
    assert f"default {DEFAULT_LINK_TTL.total_seconds():.0f}" in text
    # the same constants are the server's defaults
    assert Settings.model_fields["link_ttl_max"].default == MAXIMUM_LINK_TTL
    assert Settings.model_fields["link_ttl_default"].default == DEFAULT_LINK_TTL


def test_a_ttl_below_the_minimum_is_refused_before_asking_the_server() -> None:
    result = CliRunner().invoke(cli, ["task", "link", "abc", "-p", "shop", "--ttl", "5"])
    assert result.exit_code == 2
    assert "60" in result.output
