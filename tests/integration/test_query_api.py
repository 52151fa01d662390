"""Queries over the native API: counts, histogram, rows, order and limits checked against values
computed independently in Python from the same generated records."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from fastapi.testclient import TestClient

from tests.integration.api_checks import assert_error, authorized_client
from tests.integration.conftest import ServerFactory

START = datetime(2026, 3, 1, tzinfo=UTC)
LEVELS = ("INFO", "WARN", "ERROR")
WORDS = ("request completed", "upstream timeout", "connection refused", "deadlock found")


def _generate(count: int) -> list[dict[str, object]]:
    rng = random.Random(7)
    records = []
    for index in range(count):
        moment = START + timedelta(seconds=rng.randrange(0, 6 * 3600))
        records.append(
            {
                "timestamp": moment.isoformat().replace("+00:00", "Z"),
                "level": rng.choice(LEVELS),
                "status": rng.choice((200, 200, 200, 404, 500, 503)),
                "host": f"web-{rng.randrange(1, 5)}",
                "message": f"{rng.choice(WORDS)} id={index}",
            }
        )
    return records


RECORDS = _generate(1200)


@pytest.fixture
def loaded(client: TestClient, logstore_url: str) -> str:
    body = b"".join(orjson.dumps(record) + b"\n" for record in RECORDS)
    assert client.post(f"{logstore_url}/records", content=body).json()["accepted"] == len(RECORDS)
    return f"{logstore_url}/query"


def _run(client: TestClient, url: str, query: str, **extra: object) -> dict[str, object]:
    body = {"query": query, "from": "2026-03-01T00:00:00Z", "to": "2026-03-01T06:00:00Z", **extra}
    response = client.post(url, json=body)
    assert response.status_code == 200, response.text
    result: dict[str, object] = response.json()
    return result


def _expected(predicate: object) -> int:
    return sum(1 for record in RECORDS if predicate(record))  # type: ignore[operator]


@pytest.mark.parametrize(
    ("query", "predicate"),
    [
        ("*", lambda record: True),
        ("status>=500", lambda record: record["status"] >= 500),
        ("level:ERROR AND host:web-1", lambda r: r["level"] == "ERROR" and r["host"] == "web-1"),
        ("timeout OR refused", lambda r: "timeout" in r["message"] or "refused" in r["message"]),
        (
            '"connection refused" AND NOT status:200',
            lambda r: "connection refused" in r["message"] and r["status"] != 200,
        ),
        ("status:[400 TO 500]", lambda r: 400 <= r["status"] <= 500),
    ],
)
def test_counts_match_independent_values(
    client: TestClient, loaded: str, query: str, predicate: object
) -> None:
    result = _run(client, loaded, query)
    assert result["count"] == _expected(predicate)
    assert sum(bucket["count"] for bucket in result["histogram"]) == result["count"]  # type: ignore[union-attr]


def test_histogram_has_about_sixty_readable_buckets(client: TestClient, loaded: str) -> None:
    result = _run(client, loaded, "*")
    assert result["bucket_seconds"] == 600
    per_bucket = Counter(
        (datetime.fromisoformat(str(record["timestamp"])) - START) // timedelta(minutes=10)
        for record in RECORDS
    )
    got = {
        (datetime.fromisoformat(bucket["start"]) - START) // timedelta(minutes=10): bucket["count"]
        for bucket in result["histogram"]  # type: ignore[union-attr]
    }
    assert got == dict(per_bucket)


def test_rows_limit_and_order(client: TestClient, loaded: str) -> None:
    newest = _run(client, loaded, "level:WARN", limit=5)
    names = [column["name"] for column in newest["columns"]]  # type: ignore[union-attr]
    assert names[:2] == ["timestamp", "logstream"]
    rows = newest["rows"]
    assert len(rows) == 5  # type: ignore[arg-type]
    warn_times = sorted(str(r["timestamp"]) for r in RECORDS if r["level"] == "WARN")
    time_index = names.index("timestamp")
    assert [row[time_index] for row in rows] == warn_times[::-1][:5]  # type: ignore[union-attr]
    oldest = _run(client, loaded, "level:WARN", limit=3, order="asc")
    assert [row[time_index] for row in oldest["rows"]] == warn_times[:3]  # type: ignore[union-attr]
    assert newest["count"] == len(warn_times)


def test_default_limit_is_one_hundred(client: TestClient, loaded: str) -> None:
    assert len(_run(client, loaded, "*")["rows"]) == 100  # type: ignore[arg-type]


def test_sql_after_search(client: TestClient, loaded: str) -> None:
    result = _run(
        client, loaded, "status>=500 | select host, count(*) as n group by host order by host"
    )
    expected = Counter(str(r["host"]) for r in RECORDS if int(r["status"]) >= 500)  # type: ignore[call-overload]
    assert result["columns"] == [
        {"name": "host", "type": "varchar"},
        {"name": "n", "type": "bigint"},
    ]
    assert result["rows"] == [[host, expected[host]] for host in sorted(expected)]


def test_epoch_seconds_time_range(client: TestClient, loaded: str) -> None:
    start = int(START.timestamp())
    result = _run(client, loaded, "*", **{"from": start, "to": start + 3600})
    assert result["count"] == _expected(
        lambda r: datetime.fromisoformat(str(r["timestamp"])) < START + timedelta(hours=1)
    )


@pytest.mark.parametrize(
    ("query", "position"),
    [("status>=", 8), ("(level:ERROR", 12), ("a AND AND b", 6), ("* | drop table x", 4)],
)
def test_bad_query_is_400_with_position(
    client: TestClient, loaded: str, query: str, position: int
) -> None:
    body = {"query": query, "from": "2026-03-01T00:00:00Z", "to": "2026-03-01T06:00:00Z"}
    error = assert_error(client.post(loaded, json=body), 400, "invalid_query")
    assert error["details"]["position"] == position
    assert error["details"]["reason"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"from": "2026-03-02T00:00:00Z", "to": "2026-03-01T00:00:00Z"}, "invalid_time_range"),
        ({"from": "last tuesday"}, "invalid_time_range"),
        ({"limit": 10_001}, "invalid_input"),
        ({"limit": -1}, "invalid_input"),
        ({"order": "sideways"}, "invalid_input"),
        ({"query": 5}, "invalid_input"),
        ({"querry": "*"}, "invalid_input"),
    ],
)
def test_bad_query_requests_are_400(
    client: TestClient, loaded: str, body: dict[str, object], code: str
) -> None:
    assert_error(client.post(loaded, json=body), 400, code)


def test_query_on_unknown_logstore_is_404(client: TestClient, logstore_url: str) -> None:
    response = client.post("/api/v1/projects/web/logstores/nope/query", json={"query": "*"})
    assert_error(response, 404, "logstore_not_found")


def test_default_range_is_the_last_fifteen_minutes(client: TestClient, logstore_url: str) -> None:
    now = datetime.now(UTC)
    body = b"".join(
        orjson.dumps({"timestamp": (now - age).isoformat(), "message": "m"}) + b"\n"
        for age in (timedelta(minutes=1), timedelta(minutes=10), timedelta(hours=2))
    )
    client.post(f"{logstore_url}/records", content=body)
    result = client.post(f"{logstore_url}/query", json={}).json()
    assert result["count"] == 2


def test_timeout_is_504(make_server: ServerFactory) -> None:
    server = make_server(query_timeout=timedelta(microseconds=1))
    with authorized_client(server) as client:
        client.post("/api/v1/projects", json={"name": "web"})
        client.post("/api/v1/projects/web/logstores", json={"name": "app"})
        response = client.post("/api/v1/projects/web/logstores/app/query", json={"query": "*"})
    assert_error(response, 504, "query_timeout")


@pytest.mark.parametrize(
    ("query", "name", "suggestion"),
    [
        ("stauts>=500", "stauts", "status"),
        ("level:ERROR AND hots:web-1", "hots", "host"),
        ("* | select hots, count(*) as n group by hots", "hots", "host"),
        ("* | select records.stauts from records", "stauts", "status"),
        ('status>=500 | select "levle", count(*) as n group by 1', "levle", "level"),
    ],
)
def test_a_misspelled_field_points_at_itself_and_suggests_the_nearest(
    client: TestClient, loaded: str, query: str, name: str, suggestion: str
) -> None:
    response = client.post(loaded, json={"query": query, "from": "2026-03-01T00:00:00Z"})
    error = assert_error(response, 400, "invalid_query")
    assert error["details"]["reason"] == "unknown_field"
    assert error["details"]["suggestion"] == suggestion
    position = error["details"]["position"]
    assert query[position:].lstrip('"').startswith(name)
    assert f"did you mean {suggestion!r}?" in error["message"]
    assert "Binder" not in error["message"]


def test_other_engine_errors_do_not_echo_the_internal_sql(client: TestClient, loaded: str) -> None:
    response = client.post(loaded, json={"query": "* | select lower(status) as s"})
    error = assert_error(response, 400, "invalid_query")
    assert "lower(BIGINT)" in error["message"]
    assert "LINE 1" not in error["message"]
    assert "SELECT" not in error["message"]


DEEP_QUERIES = [
    "NOT " * 87 + "status:200",
    "NOT (" * 5_000 + "status:200" + ")" * 5_000,
    "* | SELECT count(*) AS n WHERE " + "NOT " * 500 + "true",
    "* | SELECT " + "abs(" * 87 + "1" + ")" * 87 + " AS n",
    "* | SELECT " + "(" * 10_000 + "1" + ")" * 10_000 + " AS n",
]


@pytest.mark.parametrize("query", DEEP_QUERIES)
def test_a_deeply_nested_query_is_too_complex_and_the_server_answers_after(
    client: TestClient, loaded: str, query: str
) -> None:
    tasks_url = loaded.replace("/logstores/app/query", "/download-tasks")
    task = {"name": "deep", "logstore": "app", "query": query, "from": 1772323200, "to": 1772344800}
    for response in (
        client.post(loaded, json={"query": query, "from": "2026-03-01T00:00:00Z"}),
        client.post(tasks_url, json=task),
        client.post(tasks_url, json=task, params={"dry_run": "true"}),
    ):
        error = assert_error(response, 400, "invalid_query")
        assert error["details"]["reason"] == "too_complex"
        assert "too complex" in error["message"]
    assert _run(client, loaded, "status:500 OR status:503")["count"] == _expected(
        lambda record: record["status"] >= 500
    )


def test_a_chain_of_two_thousand_terms_runs(client: TestClient, loaded: str) -> None:
    statuses = " OR ".join(f"status:{status}" for status in range(500, 2_500))
    assert _run(client, loaded, statuses)["count"] == _expected(lambda r: r["status"] >= 500)
