"""Docs move with code: every setting and every CLI command and option is documented."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from logsluice.cli.main import cli
from logsluice.settings import ENV_PREFIX, Settings

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _leaf_commands(
    group: click.Group, prefix: tuple[str, ...] = ()
) -> Iterator[tuple[str, click.Command]]:
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        assert command is not None
        if isinstance(command, click.Group):
            yield from _leaf_commands(command, (*prefix, name))
        else:
            yield " ".join(("logsluice", *prefix, name)), command


COMMANDS = dict(_leaf_commands(cli))


@pytest.mark.parametrize("field_name", sorted(Settings.model_fields))
def test_every_setting_is_documented(field_name: str) -> None:
    variable = f"`{ENV_PREFIX}{field_name.upper()}`"
    assert variable in (DOCS / "configuration.md").read_text(), f"{variable} is not documented"


@pytest.mark.parametrize("field_name", sorted(Settings.model_fields))
def test_every_setting_has_a_description(field_name: str) -> None:
    assert Settings.model_fields[field_name].description


@pytest.mark.parametrize("command_path", sorted(COMMANDS))
def test_every_command_and_option_is_documented(command_path: str) -> None:
    page = (DOCS / "cli.md").read_text()
    assert command_path in page, f"`{command_path}` is not in docs/cli.md"
    for parameter in COMMANDS[command_path].params:
        if isinstance(parameter, click.Option) and parameter.name != "help":
            long_names = [option for option in parameter.opts if option.startswith("--")]
            assert any(name in page for name in long_names), f"{command_path} {long_names}"


def test_the_cli_has_the_commands_of_the_brief() -> None:
    assert set(COMMANDS) >= {
        "logsluice serve",
        "logsluice project create",
        "logsluice project list",
        "logsluice project show",
        "logsluice project delete",
        "logsluice logstore create",
        "logsluice logstore list",
        "logsluice logstore show",
        "logsluice logstore delete",
        "logsluice ingest",
        "logsluice query",
        "logsluice demo-data",
    }
