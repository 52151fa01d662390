"""Deeply nested queries are refused as ``too_complex`` before anything recurses; flat chains run.

A query of 87 ``NOT``s used to end in a RecursionError (a 500). Every shape of nesting — NOT,
parentheses, function calls, CASE, subqueries, brackets, unary minus — is measured: at the limit it
parses, compiles and runs even with a deep stack beneath it (as in a server's request thread); one
level more is refused with the position of the level too deep; thousands of levels are refused
at once. Flat AND/OR chains of 10,000 terms do not nest and run.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from query_records import Runner

from logsluice.adapters.duckdb.query_language import parse_duckdb_query as parse_query
from logsluice.domain.errors import InvalidQueryError
from logsluice.query.complexity import MAX_NESTING_DEPTH, too_deep_as_invalid_query

Shape = Callable[[int], str]

SEARCH_SHAPES: dict[str, Shape] = {
    "NOT": lambda n: "NOT " * n + "status:200",
    "NOT (": lambda n: "NOT (" * n + "status:200" + ")" * n,
    "( AND": lambda n: "(host:web-1 AND " * n + "status:200" + ")" * n,
    "( OR NOT": lambda n: "(host:web-1 OR NOT " * (n // 2) + "status:200" + ")" * (n // 2),
}
SQL_SHAPES: dict[str, Shape] = {
    "NOT": lambda n: "* | SELECT count(*) AS n WHERE " + "NOT " * (n - 1) + "true",
    "parentheses": lambda n: "* | SELECT " + "(" * n + "1" + ")" * n + " AS n",
    "function calls": lambda n: "* | SELECT " + "abs(" * n + "1" + ")" * n + " AS n",
    "subqueries": lambda n: "* | SELECT " + "(SELECT " * n + "1" + " LIMIT 1)" * n + " AS n",
    "CASE": lambda n: "* | SELECT " + "CASE WHEN true THEN " * n + "1" + " END" * n + " AS n",
    "unary minus": lambda n: "* | SELECT " + "- " * n + "1 AS n",
    "brackets": lambda n: "* | SELECT " + "[" * n + "1" + "]" * n + " AS n",
    "IN subqueries": lambda n: (
        "* | SELECT count(*) AS n FROM log WHERE status IN "
        + "(SELECT status FROM log WHERE status IN " * (n - 1)
        + "(200)"
        + ")" * (n - 1)
    ),
}
ALL_SHAPES = [
    *(pytest.param(shape, id=f"search {name}") for name, shape in SEARCH_SHAPES.items()),
    *(pytest.param(shape, id=f"sql {name}") for name, shape in SQL_SHAPES.items()),
]
# frames a server already has on the stack when it parses (request thread, framework, services)
SERVER_STACK_FRAMES = 120


def _with_stack_beneath(frames: int, work: Callable[[], object]) -> object:
    if frames == 0:
        return work()
    return _with_stack_beneath(frames - 1, work)


def _too_complex(text: str) -> InvalidQueryError:
    with pytest.raises(InvalidQueryError) as caught:
        parse_query(text)
    assert caught.value.reason == "too_complex", caught.value.message
    assert f"deeper than {MAX_NESTING_DEPTH} levels" in caught.value.message
    return caught.value


@pytest.mark.parametrize("shape", ALL_SHAPES)
def test_a_query_at_the_depth_limit_runs_with_a_server_stack_beneath(
    run: Runner, shape: Shape
) -> None:
    query = shape(MAX_NESTING_DEPTH)
    ids = _with_stack_beneath(SERVER_STACK_FRAMES, lambda: run.rows(query))
    assert isinstance(ids, list)


@pytest.mark.parametrize("shape", ALL_SHAPES)
@pytest.mark.parametrize("levels", [MAX_NESTING_DEPTH + 2, 87, 1_000, 10_000])
def test_a_query_past_the_depth_limit_is_too_complex(shape: Shape, levels: int) -> None:
    error = _too_complex(shape(levels))
    assert 0 < error.position < len(shape(levels))
    assert error.details["limit"] == MAX_NESTING_DEPTH


def test_the_error_points_at_the_first_level_too_deep() -> None:
    text = "NOT " * (MAX_NESTING_DEPTH + 5) + "status:200"
    assert _too_complex(text).position == 4 * MAX_NESTING_DEPTH
    sql = "* | SELECT " + "abs(" * (MAX_NESTING_DEPTH + 5) + "1" + ")" * (MAX_NESTING_DEPTH + 5)
    assert _too_complex(sql).position == len("* | SELECT ") + 4 * MAX_NESTING_DEPTH + 3


def test_closed_parentheses_do_not_add_up() -> None:
    sibling_groups = " AND ".join(f"({'(' * 10}status:200{')' * 10})" for _ in range(50))
    parse_query(sibling_groups)
    sql_siblings = "* | SELECT " + ", ".join(f"abs(abs(abs({i}))) AS c{i}" for i in range(200))
    parse_query(sql_siblings)


@pytest.mark.parametrize("terms", [1_000, 10_000])
def test_flat_chains_of_thousands_of_terms_run(run: Runner, terms: int) -> None:
    search_or = " OR ".join(f"status:{status}" for status in range(terms))
    search_and = " ".join(f"NOT status:{status + 1000}" for status in range(terms))
    sql_or = "* | SELECT id FROM log WHERE " + " OR ".join(f"id = {i}" for i in range(terms))
    everything = run.ids("*")
    assert run.ids(search_or) == run.ids("status:[0 TO *]")
    assert run.ids(search_and) == everything
    assert sorted(row["id"] for row in run.rows(sql_or)) == sorted(everything)


def test_a_recursion_error_left_anywhere_becomes_too_complex() -> None:
    def recurse(depth: int) -> int:
        return recurse(depth + 1) + 1

    with pytest.raises(InvalidQueryError) as caught, too_deep_as_invalid_query():
        recurse(0)
    assert caught.value.reason == "too_complex"
