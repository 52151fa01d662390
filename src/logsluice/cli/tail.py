"""``logsluice tail``: print a query's records as they arrive, like ``logcli query --tail``.

Every ``--interval`` the command asks for the records in ``[previous end - grace, now)``, oldest
first, where ``now`` is the server's clock. A record is printed once: the command counts the
records it printed by their content (time and every field) for as long as they can come back in
a window, so the overlap of windows never prints one twice, and a record stored up to ``--grace``
after its own time still falls into a later window and is printed then (out of time order). A
record stored later than that is missed; identical records are counted, so a record stored twice
prints twice. A page of rows larger than ``--page-rows`` is followed by the next page.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import click
import orjson

from logsluice.cli import exit_codes
from logsluice.cli.client import ApiClient, ClientConfig, path_of
from logsluice.cli.interrupts import Interrupts
from logsluice.cli.options import api_client, client_options, project_option
from logsluice.cli.time_options import TIME_HELP, bad_parameter, resolve_range, time_zone_of
from logsluice.domain.errors import InvalidTimeRangeError
from logsluice.domain.time_expressions import parse_duration
from logsluice.query.parsed_query import find_pipe

_MICROSECOND = timedelta(microseconds=1)


def _parsed_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _key(record: dict[str, Any]) -> bytes:
    return orjson.dumps(record, option=orjson.OPT_SORT_KEYS)


@dataclass
class PrintedRecords:
    """The records printed whose time may still come back in a window, counted by content."""

    counts: Counter[bytes] = field(default_factory=Counter)
    times: dict[bytes, datetime] = field(default_factory=dict)

    def new_ones(self, records: list[tuple[datetime, dict[str, Any]]]) -> list[dict[str, Any]]:
        """Return the records of one window not printed yet, and count them as printed."""
        seen: Counter[bytes] = Counter()
        fresh: list[dict[str, Any]] = []
        for moment, record in records:
            key = _key(record)
            seen[key] += 1
            if seen[key] > self.counts[key]:
                self.counts[key] += 1
                self.times[key] = moment
                fresh.append(record)
        return fresh

    def forget_before(self, cutoff: datetime) -> None:
        """Drop the records older than ``cutoff``: no later window reaches them."""
        for key in [key for key, moment in self.times.items() if moment < cutoff]:
            del self.times[key]
            del self.counts[key]


@dataclass(frozen=True)
class _Window:
    records: list[tuple[datetime, dict[str, Any]]]
    end: datetime


class _Poller:
    """Reads every record of one window, a page at a time."""

    def __init__(self, client: ApiClient, path: str, query: str, page_rows: int) -> None:
        self._client = client
        self._path = path
        self._query = query
        self._page_rows = page_rows

    def window(self, start: datetime, end: datetime | None) -> _Window:
        records: list[tuple[datetime, dict[str, Any]]] = []
        while True:
            page, count, page_end = self._page(start, end)
            end = page_end
            if count <= len(page):
                return _Window(records + page, end)
            last = page[-1][0]
            kept = [item for item in page if item[0] < last]
            if not kept:  # more records share one instant than a page holds: keep one page of them
                click.echo(f"warning: more than {len(page)} records at {last}", err=True)
                kept, last = page, last + _MICROSECOND
            records.extend(kept)
            start = last

    def _page(
        self, start: datetime, end: datetime | None
    ) -> tuple[list[tuple[datetime, dict[str, Any]]], int, datetime]:
        body: dict[str, Any] = {"query": self._query, "order": "asc", "limit": self._page_rows}
        body["from"] = start.isoformat()
        if end is not None:
            body["to"] = end.isoformat()
        result = self._client.request("POST", self._path, json=body)
        names = [column["name"] for column in result["columns"]]
        rows = [dict(zip(names, row, strict=True)) for row in result["rows"]]
        page = [(_parsed_time(row[names[0]]), row) for row in rows]
        return page, int(result["count"]), _parsed_time(result["to"])


def _follow(
    poller: _Poller, start: datetime, grace: timedelta, interval: float, follow: bool
) -> Iterator[dict[str, Any]]:
    printed = PrintedRecords()
    with Interrupts(hard_limit=2) as interrupts:
        while True:
            window = poller.window(start, None)
            yield from printed.new_ones(window.records)
            start = max(start, window.end - grace)
            printed.forget_before(start)
            if not follow or interrupts.sleep(interval):
                return


def _line(record: dict[str, Any], time_field: str, output_format: str) -> str:
    if output_format == "jsonl":
        return orjson.dumps(record).decode()
    fields = {name: value for name, value in record.items() if value not in (None, "")}
    moment = fields.pop(time_field, "")
    stream = fields.pop("logstream", None)
    message = fields.pop("message", None)
    parts = [str(moment)] + ([f"[{stream}]"] if stream else [])
    if message is not None:
        parts.append(str(message))
    parts.extend(f"{name}={orjson.dumps(value).decode()}" for name, value in fields.items())
    return " ".join(parts)


def _duration_option(text: str, option: str) -> timedelta:
    try:
        return parse_duration(text, field_name=option)
    except InvalidTimeRangeError as error:
        raise bad_parameter(error, option) from error


@click.command()
@click.argument("query_text", metavar="[QUERY]", default="*")
@project_option()
@click.option("--logstore", "-l", required=True, help="The logstore to follow.")
@click.option("--since", default="10m", show_default=True, help="Start this long before now.")
@click.option("--from", "start", default=None, help=f"Start instead of --since: {TIME_HELP}.")
@click.option("--timezone", default="UTC", show_default=True, help="IANA zone of --from.")
@click.option("--grace", default="30s", show_default=True,
              help="How late after its own time a record may arrive to be printed.")  # fmt: skip
@click.option("--interval", type=click.FloatRange(min=0.1), default=2.0, show_default=True,
              help="Seconds between polls.")  # fmt: skip
@click.option("--page-rows", type=click.IntRange(1, 10_000), default=1000, show_default=True,
              help="Rows per request (more are fetched page by page).")  # fmt: skip
@click.option("--format", "output_format", type=click.Choice(["text", "jsonl"]), default="text",
              show_default=True, help="text: time [logstream] message fields.")  # fmt: skip
@click.option("--follow/--no-follow", default=True, show_default=True,
              help="Keep polling; --no-follow prints the records so far and exits.")  # fmt: skip
@client_options
def tail(client_config: ClientConfig, query_text: str, project: str, logstore: str,
         **options: Any) -> None:  # fmt: skip
    """Print the records QUERY (a SEARCH; default `*`) matches, then follow new ones.

    Each record is printed once, also one stored up to --grace after its own time. Ctrl-C stops
    (exit 130).
    """
    if find_pipe(query_text) is not None:
        raise click.UsageError("tail follows records: give a SEARCH without '| SQL'")
    grace = _duration_option(options["grace"], "--grace")
    since = None if options["start"] else options["since"]
    start, _ = resolve_range(options["start"], None, since, time_zone_of(options["timezone"]))
    assert start is not None
    path = path_of("projects", project, "logstores", logstore, "query")
    with api_client(client_config) as client:
        time_field = client.request("GET", path_of("projects", project, "logstores", logstore))[
            "time_field"
        ]
        poller = _Poller(client, path, query_text, options["page_rows"])
        try:
            for record in _follow(poller, start, grace, options["interval"], options["follow"]):
                click.echo(_line(record, time_field, options["output_format"]))
        except KeyboardInterrupt:
            sys.exit(exit_codes.INTERRUPTED)
    if options["follow"]:
        sys.exit(exit_codes.INTERRUPTED)
