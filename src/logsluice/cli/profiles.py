"""Client profiles: defaults for ``--server``, ``--project``, ``--token`` and ``--data-dir``.

The file is ``$XDG_CONFIG_HOME/logsluice/config.toml`` (``~/.config/logsluice/config.toml`` when
the variable is unset); each table is a profile::

    [default]
    server = "http://127.0.0.1:8080"
    project = "shop"

    [prod]
    server = "https://logs.example.com"
    project = "web"
    token = "AK…:SK…"

``--profile NAME`` (or ``LOGSLUICE_PROFILE``) picks one; without either the ``default`` table is
used when it exists. A value given as an option wins over its ``LOGSLUICE_*`` variable, which
wins over the profile, which wins over the built-in default.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

import click

DEFAULT_PROFILE = "default"
PROFILE_KEYS = ("server", "project", "token", "data_dir")


@dataclass(frozen=True)
class Profile:
    """One table of the config file (every value optional)."""

    name: str
    server: str | None = None
    project: str | None = None
    token: str | None = None
    data_dir: str | None = None


def config_path() -> Path:
    """Return where the config file is (it need not exist)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "logsluice" / "config.toml"


def load_profile(name: str | None) -> Profile:
    """Return profile ``name`` (None: ``default``, or an empty one if the file lacks it).

    Raises click.UsageError for an unreadable file, an unknown key, or a named profile that does
    not exist.
    """
    path = config_path()
    tables = _read_tables(path)
    chosen = name or DEFAULT_PROFILE
    table = tables.get(chosen)
    if table is None:
        if name is None or name == DEFAULT_PROFILE:
            return Profile(name=chosen)
        known = ", ".join(sorted(tables)) or "none"
        raise click.UsageError(f"profile {name!r} is not in {path} (profiles: {known})")
    return _profile(chosen, table, path)


def _read_tables(path: Path) -> dict[str, object]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise click.UsageError(f"cannot read {path}: {error}") from error


def _profile(name: str, table: object, path: Path) -> Profile:
    if not isinstance(table, dict):
        raise click.UsageError(f"{path}: [{name}] must be a table of {', '.join(PROFILE_KEYS)}")
    unknown = sorted(set(table) - set(PROFILE_KEYS))
    if unknown:
        raise click.UsageError(
            f"{path}: [{name}] has unknown key(s) {', '.join(unknown)}; "
            f"known: {', '.join(PROFILE_KEYS)}"
        )
    values = {key: value for key, value in table.items() if isinstance(value, str) and value}
    wrong = sorted(set(table) - set(values))
    if wrong:
        raise click.UsageError(f"{path}: [{name}] {', '.join(wrong)} must be non-empty text")
    return Profile(name=name, **values)
