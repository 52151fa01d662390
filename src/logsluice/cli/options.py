"""Options and output shared by the client commands: server, token, data directory, profile,
project, ``--json``.

Every client command takes ``--server``, ``--token``, ``--data-dir`` and ``--profile``; commands
working in a project take ``--project``. Each value comes from the option, else its
``LOGSLUICE_*`` variable, else the profile (:mod:`logsluice.cli.profiles`), else the built-in
default. An :class:`ApiError` becomes the server's message on stderr and the exit code of
:mod:`logsluice.cli.exit_codes`.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import click
import orjson
from click.core import ParameterSource

from logsluice.cli import exit_codes
from logsluice.cli.client import DEFAULT_SERVER_URL, ApiClient, ApiError, ClientConfig
from logsluice.cli.profiles import Profile, config_path, load_profile
from logsluice.settings import DEFAULT_DATA_DIR

_PROFILE_META = "logsluice.profile"
_REPEATED_OPTIONS = ("profile", "server", "data_dir")


def current_profile(context: click.Context) -> Profile:
    """Return the profile this command runs with (``--profile``, ``LOGSLUICE_PROFILE``, default)."""
    profile = context.meta.get(_PROFILE_META)
    if profile is None:
        profile = load_profile(None)
        context.meta[_PROFILE_META] = profile
    assert isinstance(profile, Profile)
    return profile


def _remember_profile(context: click.Context, _: click.Parameter, name: str | None) -> None:
    context.meta[_PROFILE_META] = load_profile(name)


def _from_profile(key: str, default: object) -> Callable[..., Any]:
    def resolve(context: click.Context, _: click.Parameter, value: object) -> object:
        if value is not None:
            return value
        configured = getattr(current_profile(context), key)
        return configured if configured is not None else default

    return resolve


def client_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--profile``, ``--server``, ``--token`` and ``--data-dir``; the command receives
    ``client_config``."""

    @click.option(
        "--profile",
        envvar="LOGSLUICE_PROFILE",
        default=None,
        is_eager=True,
        expose_value=False,
        callback=_remember_profile,
        help="Profile of ~/.config/logsluice/config.toml to take defaults from "
        "[env LOGSLUICE_PROFILE; default: its [default] table].",
    )
    @click.option(
        "--server",
        envvar="LOGSLUICE_SERVER",
        default=None,
        callback=_from_profile("server", DEFAULT_SERVER_URL),
        help=f"URL of the logsluice server [env LOGSLUICE_SERVER; profile; {DEFAULT_SERVER_URL}].",
    )
    @click.option(
        "--token",
        envvar="LOGSLUICE_TOKEN",
        default=None,
        callback=_from_profile("token", None),
        help="Bearer token [env LOGSLUICE_TOKEN; profile]; default: the local server's admin "
        "token file.",
    )
    @click.option(
        "--data-dir",
        envvar="LOGSLUICE_DATA_DIR",
        default=None,
        callback=_from_profile("data_dir", str(DEFAULT_DATA_DIR)),
        help="Data directory of a local server, to read its admin token "
        f"[env LOGSLUICE_DATA_DIR; profile; ./{DEFAULT_DATA_DIR}].",
    )
    @functools.wraps(command)
    def wrapper(server: str, token: str | None, data_dir: str, **options: Any) -> Any:
        config = ClientConfig(
            server_url=server,
            token=token,
            data_dir=Path(data_dir),
            repeated_options=_repeated_options(click.get_current_context()),
        )
        return command(client_config=config, **options)

    return wrapper


def _repeated_options(context: click.Context) -> tuple[str, ...]:
    """The connection options given on the command line, to repeat in suggested commands."""
    repeated: list[str] = []
    for name in _REPEATED_OPTIONS:
        if context.get_parameter_source(name) is ParameterSource.COMMANDLINE:
            value = current_profile(context).name if name == "profile" else context.params[name]
            repeated.extend((f"--{name.replace('_', '-')}", str(value)))
    return tuple(repeated)


def project_option(*, required: bool = True) -> Callable[..., Any]:
    """``--project``/``-p`` with ``LOGSLUICE_PROJECT`` and the profile's ``project`` as fallbacks.

    When ``required``, a command run without any of them is a usage error naming all three.
    """

    def resolve(context: click.Context, _: click.Parameter, value: str | None) -> str | None:
        resolved = value or current_profile(context).project
        if resolved is None and required:
            raise click.UsageError(
                "no project: give --project/-p, set LOGSLUICE_PROJECT, or set project in a "
                f"profile of {config_path()}"
            )
        return resolved

    return click.option(
        "--project",
        "-p",
        envvar="LOGSLUICE_PROJECT",
        default=None,
        callback=resolve,
        help="The project [env LOGSLUICE_PROJECT; profile].",
    )


json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print the result as JSON instead of a table."
)


@contextmanager
def api_client(config: ClientConfig) -> Iterator[ApiClient]:
    """Yield a client; an ApiError inside becomes the server's message and its exit code."""
    try:
        with ApiClient(config) as client:
            yield client
    except ApiError as error:
        fail(error)


def fail(error: ApiError) -> NoReturn:
    """Print ``error``'s message on stderr and exit with its code (refused or unavailable)."""
    click.echo(f"error: {error.message}", err=True)
    sys.exit(exit_codes.of_status(error.status))


def json_text(value: object) -> str:
    """Return ``value`` as indented JSON text."""
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_UTC_Z).decode()


def print_json(value: object) -> None:
    """Print ``value`` as indented JSON on stdout."""
    click.echo(json_text(value))
