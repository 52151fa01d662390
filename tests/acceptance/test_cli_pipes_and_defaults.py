"""The real CLI against a real server: profiles and their precedence, `-` as standard output,
relative times, exit codes, shell completion and ``logsluice tail``."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import queue
import signal
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.acceptance.conftest import LOGSLUICE, RunningServer

pytestmark = pytest.mark.slow
PROJECT = "pipes"


def _now_text(offset: timedelta = timedelta(0)) -> str:
    return (datetime.now(UTC) + offset).isoformat().replace("+00:00", "Z")


@pytest.fixture(scope="module")
def server(running_server: RunningServer) -> RunningServer:
    with running_server.admin() as admin:
        assert admin.post("/api/v1/projects", json={"name": PROJECT}).status_code == 201
        url = f"/api/v1/projects/{PROJECT}/logstores"
        assert admin.post(url, json={"name": "app"}).status_code == 201
        records = [
            {"timestamp": _now_text(-timedelta(minutes=minutes)), "level": level,
             "message": f"{level.lower()} {minutes}", "latency": minutes * 1.5}
            for minutes, level in ((5, "ERROR"), (30, "INFO"), (90, "ERROR"), (600, "WARN"))
        ]  # fmt: skip
        body = "".join(json.dumps(record) + "\n" for record in records)
        assert admin.post(f"{url}/app/records", content=body).json()["accepted"] == 4
    return running_server


def _config(home: Path, text: str) -> dict[str, str]:
    (home / "logsluice").mkdir(parents=True, exist_ok=True)
    (home / "logsluice" / "config.toml").write_text(text)
    return {"XDG_CONFIG_HOME": str(home)}


def _without_server_variable(server: RunningServer, **extra: str) -> dict[str, str]:
    environment = server.environment(**extra)
    del environment["LOGSLUICE_SERVER"]
    return environment


def _run(environment: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LOGSLUICE, *arguments], capture_output=True, text=True, env=environment, timeout=120
    )


def test_option_beats_variable_beats_profile(server: RunningServer, tmp_path: Path) -> None:
    home = _config(
        tmp_path,
        f'[default]\nserver = "{server.url}"\nproject = "{PROJECT}"\n\n'
        '[broken]\nserver = "http://127.0.0.1:9"\nproject = "nope"\n',
    )
    count = ["query", "-l", "app", "--since", "1d", "--json"]
    from_profile = _run(_without_server_variable(server, **home), *count)
    assert from_profile.returncode == 0, from_profile.stderr
    assert json.loads(from_profile.stdout)["count"] == 4

    unreachable = _run(_without_server_variable(server, **home), *count, "--profile", "broken")
    assert unreachable.returncode == 3, unreachable.stderr
    # the variable beats the profile's server; the profile's project "nope" is then refused
    refused = _run(server.environment(**home), *count, "--profile", "broken")
    assert refused.returncode == 1
    assert "nope" in refused.stderr
    # the option beats the variable
    chosen = _run(server.environment(**home, LOGSLUICE_PROJECT="nope"), *count, "-p", PROJECT)
    assert chosen.returncode == 0, chosen.stderr
    by_variable = _run(server.environment(**home, LOGSLUICE_PROFILE="broken",
                                          LOGSLUICE_PROJECT=PROJECT), *count)  # fmt: skip
    assert by_variable.returncode == 0, by_variable.stderr
    missing = _run(server.environment(XDG_CONFIG_HOME=str(tmp_path / "empty")), *count)
    assert missing.returncode == 2
    assert "LOGSLUICE_PROJECT" in missing.stderr


def test_query_output_to_stdout_and_files(server: RunningServer, tmp_path: Path) -> None:
    lines = server.cli("query", "-p", PROJECT, "-l", "app", "level:ERROR", "--since", "1d",
                       "--order", "asc", "--output", "-")  # fmt: skip
    assert lines.returncode == 0, lines.stderr
    records = [json.loads(line) for line in lines.stdout.splitlines()]
    assert [record["message"] for record in records] == ["error 90", "error 5"]
    assert "2 rows shown of 2" in lines.stderr

    target = tmp_path / "errors.csv"
    written = server.cli("query", "-p", PROJECT, "-l", "app", "--since", "1d", "-o", str(target))
    assert written.returncode == 0, written.stderr
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert sorted(row["level"] for row in rows) == ["ERROR", "ERROR", "INFO", "WARN"]
    assert {"timestamp", "level", "message", "latency"} <= set(rows[0])


def test_query_without_from_says_which_window_it_searched(server: RunningServer) -> None:
    result = server.cli("query", "-p", PROJECT, "-l", "app", "--json")
    assert result.returncode == 0, result.stderr
    assert "note: no --from or --since: searched the server's default window" in result.stderr
    assert json.loads(result.stdout)["count"] == 1  # only the record of 5 minutes ago


def test_dates_and_relative_times(server: RunningServer) -> None:
    today = datetime.now(UTC).date().isoformat()
    everything = server.cli("query", "-p", PROJECT, "-l", "app", "--from", "-1d", "--to", "now",
                            "--json")  # fmt: skip
    assert json.loads(everything.stdout)["count"] == 4
    since_midnight = server.cli("query", "-p", PROJECT, "-l", "app", "--from", today, "--json")
    assert json.loads(since_midnight.stdout)["from"] == f"{today}T00:00:00Z"
    bad = server.cli("query", "-p", PROJECT, "-l", "app", "--from", "last tuesday")
    assert bad.returncode == 2
    assert "-7d" in bad.stderr


def test_export_to_stdout_is_the_verified_file(server: RunningServer) -> None:
    arguments = ["-p", PROJECT, "-l", "app", "--since", "1d", "--format", "jsonl"]
    created = subprocess.run(
        [LOGSLUICE, "task", "create", *arguments, "--compression", "zstd", "--wait", "-o", "-"],
        capture_output=True,
        env=server.environment(),
        timeout=120,
    )
    assert created.returncode == 0, created.stderr
    task_id = created.stderr.decode().split("task ", 1)[1].split()[0]
    manifest = json.loads(server.cli("task", "manifest", task_id, "-p", PROJECT).stdout)
    raw = subprocess.run(
        [LOGSLUICE, "task", "download", task_id, "-", "-p", PROJECT],
        capture_output=True,
        env=server.environment(),
        timeout=120,
    )
    assert raw.returncode == 0, raw.stderr
    assert hashlib.sha256(raw.stdout).hexdigest() == manifest["sha256"]
    assert raw.stdout == created.stdout
    assert raw.stdout[:4] == b"\x28\xb5\x2f\xfd"  # a zstd frame
    unpacked = subprocess.run(["zstd", "-dc"], input=raw.stdout, capture_output=True, check=True)
    assert len(unpacked.stdout.splitlines()) == 4


def test_exit_codes(server: RunningServer) -> None:
    assert server.cli("query", "-p", "no-such-project", "-l", "app").returncode == 1
    assert server.cli("query", "-p", PROJECT, "-l", "app", "--server",
                      "http://127.0.0.1:9").returncode == 3  # fmt: skip
    assert server.cli("query", "-p", PROJECT, "-l", "app", "--limit", "-1").returncode == 2


def test_shell_completion_is_clicks(server: RunningServer) -> None:
    script = server.cli(_LOGSLUICE_COMPLETE="bash_source")
    assert script.returncode == 0
    assert "_logsluice_completion" in script.stdout
    words = server.cli(_LOGSLUICE_COMPLETE="bash_complete", COMP_WORDS="logsluice ta",
                       COMP_CWORD="1")  # fmt: skip
    assert {"plain,task", "plain,tail"} <= set(words.stdout.split())
    options = server.cli(_LOGSLUICE_COMPLETE="zsh_complete", COMP_WORDS="logsluice task wait --c",
                         COMP_CWORD="3")  # fmt: skip
    assert "--cancel-on-interrupt" in options.stdout


class _Lines:
    """The stdout lines of a running process, read on a thread."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self._queue: queue.Queue[str] = queue.Queue()
        assert process.stdout is not None
        stream = process.stdout
        threading.Thread(
            target=lambda: [self._queue.put(line) for line in stream], daemon=True
        ).start()

    def take(self, count: int) -> list[str]:
        return [self._queue.get(timeout=60) for _ in range(count)]

    def pending(self) -> list[str]:
        lines: list[str] = []
        while not self._queue.empty():
            lines.append(self._queue.get())
        return lines


def _append(server: RunningServer, *records: dict[str, object]) -> None:
    with server.admin() as admin:
        body = "".join(json.dumps(record) + "\n" for record in records)
        url = f"/api/v1/projects/{PROJECT}/logstores/tail/records"
        assert admin.post(url, content=body).json()["accepted"] == len(records)


@pytest.fixture
def tail_logstore(server: RunningServer) -> Iterator[None]:
    with server.admin() as admin:
        url = f"/api/v1/projects/{PROJECT}/logstores"
        assert admin.post(url, json={"name": "tail"}).status_code == 201
    yield
    with server.admin() as admin:
        admin.delete(f"/api/v1/projects/{PROJECT}/logstores/tail")


def test_tail_follows_new_and_late_records_once_each(
    server: RunningServer, tail_logstore: None
) -> None:
    _append(server, {"timestamp": _now_text(-timedelta(minutes=2)), "message": "backlog"})
    arguments = ["-p", PROJECT, "-l", "tail", "--since", "10m", "--grace", "5m"]
    process = server.start_cli("tail", *arguments, "--interval", "0.2", "--format", "jsonl")
    lines = _Lines(process)
    try:
        assert json.loads(lines.take(1)[0])["message"] == "backlog"
        now = _now_text()
        twice = {"timestamp": now, "message": "twice"}
        _append(server, {"timestamp": now, "message": "new"}, twice, twice)
        assert sorted(json.loads(line)["message"] for line in lines.take(3)) == [
            "new", "twice", "twice"
        ]  # fmt: skip
        # stored a minute after its own time: within the grace, so still printed once
        _append(server, {"timestamp": _now_text(-timedelta(minutes=1)), "message": "late"})
        assert json.loads(lines.take(1)[0])["message"] == "late"
        _append(server, {"timestamp": _now_text(), "message": "last"})
        assert json.loads(lines.take(1)[0])["message"] == "last"
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    assert process.returncode == 130
    assert lines.pending() == []  # nothing printed twice


def test_tail_without_follow_prints_the_backlog_and_refuses_sql(
    server: RunningServer, tail_logstore: None
) -> None:
    _append(server, {"timestamp": _now_text(-timedelta(seconds=30)), "message": "only",
                     "status": 503})  # fmt: skip
    printed = server.cli("tail", "-p", PROJECT, "-l", "tail", "--no-follow")
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.count("\n") == 1
    assert "only" in printed.stdout
    assert "status=503" in printed.stdout
    refused = server.cli("tail", "-p", PROJECT, "-l", "tail", "* | select count(*) as n")
    assert refused.returncode == 2
    assert "| SQL" in refused.stderr
