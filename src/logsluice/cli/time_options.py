"""``--from``, ``--to`` and ``--since`` as people type them, resolved on the client.

Relative times (``-7d``, ``now``), dates without a time and times without an offset are turned
into RFC 3339 UTC instants here, with the client's clock and the command's ``--timezone``
(:mod:`logsluice.domain.time_expressions` does the reading), so the server always receives
absolute times and the command can say which range it asked for.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import Any

import click

from logsluice.domain.errors import InvalidTimeRangeError
from logsluice.domain.time_expressions import parse_duration, parse_time_expression

TIME_HELP = "now, -7d, today, 2026-03-01, 2026-03-01T12:00 (in --timezone), RFC 3339, epoch"


def time_zone_of(name: str) -> tzinfo:
    """Return the IANA zone ``name``. Raises click.BadParameter for an unknown one."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as error:
        raise click.BadParameter(
            f"{name!r} is not an IANA time zone such as Europe/Berlin", param_hint="--timezone"
        ) from error


def resolve_time(
    text: str | None, option: str, time_zone: tzinfo, now: datetime
) -> datetime | None:
    """Return the instant ``text`` names (None stays None). Raises click.BadParameter."""
    if text is None:
        return None
    try:
        return parse_time_expression(text, now=now, time_zone=time_zone, field_name=option)
    except InvalidTimeRangeError as error:
        raise bad_parameter(error, option) from error


def resolve_range(
    start: str | None, end: str | None, since: str | None, time_zone: tzinfo
) -> tuple[datetime | None, datetime | None]:
    """Return ``(from, to)`` of the options; ``--since D`` is ``--from -D``.

    Raises click.UsageError when both ``--from`` and ``--since`` are given, BadParameter for a
    value that is not a time.
    """
    now = datetime.now(UTC)
    if since is not None:
        if start is not None:
            raise click.UsageError("give --from or --since, not both")
        try:
            return now - parse_duration(since, field_name="--since"), resolve_time(
                end, "--to", time_zone, now
            )
        except InvalidTimeRangeError as error:
            raise bad_parameter(error, "--since") from error
    return resolve_time(start, "--from", time_zone, now), resolve_time(end, "--to", time_zone, now)


def bad_parameter(error: InvalidTimeRangeError, option: str) -> click.BadParameter:
    """Return the usage error of a time option (click names the option itself)."""
    return click.BadParameter(error.message.removeprefix(f"{option}: "), param_hint=option)


def rfc3339(moment: datetime) -> str:
    """Return ``moment`` as RFC 3339 UTC text with ``Z``."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def range_options(*, from_help: str, to_help: str) -> Callable[[Callable[..., Any]], Any]:
    """Add ``--from``, ``--to`` and ``--since`` (values reach the command as text)."""

    def decorate(command: Callable[..., Any]) -> Any:
        command = click.option(
            "--since",
            default=None,
            help="Start this long before now: 90s, 15m, 1h30m, 7d, 2w (instead of --from).",
        )(command)
        command = click.option("--to", "end", default=None, help=to_help)(command)
        return click.option("--from", "start", default=None, help=from_help)(command)

    return decorate
