"""The SEARCH grammar: trees, precedence, quoting, wildcards, ranges, ``match``, error positions."""

from __future__ import annotations

import pytest

from logsluice.adapters.duckdb.query_language import parse_duckdb_query as parse_query
from logsluice.domain.errors import InvalidQueryError
from logsluice.domain.query_ast import (
    And,
    ComparisonOperator,
    FieldComparison,
    FieldExists,
    FieldMatch,
    FieldRange,
    FieldReference,
    MatchAll,
    Not,
    Or,
    Pattern,
    TextSearch,
    Value,
    Wildcard,
)

ANY = Wildcard.ANY_RUN
ONE = Wildcard.ANY_CHARACTER


def word(text: str, position: int) -> TextSearch:
    return TextSearch(Pattern((text,)), position)


def search(text: str) -> object:
    return parse_query(text).search


def syntax_error(text: str) -> InvalidQueryError:
    with pytest.raises(InvalidQueryError) as caught:
        parse_query(text)
    return caught.value


@pytest.mark.parametrize("text", ["", "   ", "*", " * "])
def test_empty_and_star_match_everything(text: str) -> None:
    parsed = parse_query(text)
    assert isinstance(parsed.search, MatchAll)
    assert parsed.has_sql is False
    assert parsed.text == text


def test_bare_words_are_joined_by_implicit_and() -> None:
    assert search("disk full") == And((word("disk", 0), word("full", 5)))


def test_not_binds_tighter_than_and_and_and_tighter_than_or() -> None:
    assert search("a OR b AND NOT c") == Or((word("a", 0), And((word("b", 5), Not(word("c", 15))))))
    assert search("NOT a b OR c") == Or((And((Not(word("a", 4)), word("b", 6))), word("c", 11)))


def test_parentheses_override_precedence() -> None:
    assert search("(a OR b) c") == And((Or((word("a", 1), word("b", 6))), word("c", 9)))
    assert search("NOT (a OR b)") == Not(Or((word("a", 5), word("b", 10))))


def test_lowercase_operators_work_but_words_containing_them_stay_words() -> None:
    assert search("a and b or not c") == search("a AND b OR NOT c")
    assert search("android notice order") == And(
        (word("android", 0), word("notice", 8), word("order", 15))
    )


def test_phrase_keeps_spaces_and_unescapes_backslashes() -> None:
    assert search(r'"disk \"full\" C:\\temp"') == word('disk "full" C:\\temp', 0)


def test_phrase_does_not_treat_star_as_wildcard() -> None:
    assert search('"50*"') == word("50*", 0)


def test_bare_word_wildcards_and_escaped_star() -> None:
    assert search("err*") == TextSearch(Pattern(("err", ANY)), 0)
    assert search("c?t") == TextSearch(Pattern(("c", ONE, "t")), 0)
    assert search(r"a\*b") == word("a*b", 0)


def test_field_value_is_exact_or_wildcard() -> None:
    status = FieldReference("status", 0)
    assert search("status:500") == FieldMatch(status, Pattern(("500",)), 7)
    assert search("host:web-*") == FieldMatch(FieldReference("host", 0), Pattern(("web-", ANY)), 5)
    assert search("host:w?b*") == FieldMatch(
        FieldReference("host", 0), Pattern(("w", ONE, "b", ANY)), 5
    )
    assert search('host:"web *"') == FieldMatch(FieldReference("host", 0), Pattern(("web *",)), 5)


def test_field_names_may_hold_dots_dashes_and_digits() -> None:
    parsed = search("user.name:alice x-request-id2:abc")
    assert parsed == And(
        (
            FieldMatch(FieldReference("user.name", 0), Pattern(("alice",)), 10),
            FieldMatch(FieldReference("x-request-id2", 16), Pattern(("abc",)), 30),
        )
    )


def test_field_value_may_hold_colons() -> None:
    assert search("timestamp:2024-03-01T00:00:00Z") == FieldMatch(
        FieldReference("timestamp", 0), Pattern(("2024-03-01T00:00:00Z",)), 10
    )


def test_field_star_means_the_field_exists() -> None:
    assert search("host:*") == FieldExists(FieldReference("host", 0))
    assert search("host:[* TO *]") == FieldExists(FieldReference("host", 0))


@pytest.mark.parametrize(
    ("text", "operator"),
    [
        ("status>500", ComparisonOperator.GREATER),
        ("status>=500", ComparisonOperator.GREATER_OR_EQUAL),
        ("status<500", ComparisonOperator.LESS),
        ("status<=500", ComparisonOperator.LESS_OR_EQUAL),
        ("status:>500", ComparisonOperator.GREATER),
    ],
)
def test_comparisons(text: str, operator: ComparisonOperator) -> None:
    parsed = search(text)
    assert isinstance(parsed, FieldComparison)
    assert parsed.operator == operator
    assert parsed.value == Value("500", len(text) - 3)


def test_comparison_allows_spaces_around_the_operator() -> None:
    assert search("status >= 500") == FieldComparison(
        FieldReference("status", 0), ComparisonOperator.GREATER_OR_EQUAL, Value("500", 10)
    )


def test_equals_and_not_equals() -> None:
    status = FieldReference("status", 0)
    assert search("status=500") == FieldMatch(status, Pattern(("500",)), 7)
    assert search("status!=500") == Not(FieldMatch(status, Pattern(("500",)), 8))


def test_inclusive_exclusive_and_open_ranges() -> None:
    latency = FieldReference("latency", 0)
    assert search("latency:[10 TO 20]") == FieldRange(
        latency, Value("10", 9), Value("20", 15), lower_inclusive=True, upper_inclusive=True
    )
    assert search("latency:{10 to 20}") == FieldRange(
        latency, Value("10", 9), Value("20", 15), lower_inclusive=False, upper_inclusive=False
    )
    assert search("latency:[10 TO *}") == FieldRange(
        latency, Value("10", 9), None, lower_inclusive=True, upper_inclusive=False
    )
    assert search('host:["a b" TO "c"]') == FieldRange(
        FieldReference("host", 0), Value("a b", 6), Value("c", 15), True, True
    )


def test_range_bounds_may_be_times() -> None:
    parsed = search("timestamp:[2024-03-01T00:00:00Z TO 2024-03-02T00:00:00Z]")
    assert isinstance(parsed, FieldRange)
    assert parsed.lower == Value("2024-03-01T00:00:00Z", 11)


def test_match_prefix_is_accepted_and_positions_stay_in_the_full_text() -> None:
    assert search("match error") == word("error", 6)
    assert search("MATCH *") == MatchAll(6)
    assert isinstance(search("match"), MatchAll)
    assert search("matches") == word("matches", 0)
    parsed = parse_query("match status:500 | select count(*) as n")
    assert parsed.has_sql
    assert parsed.search == FieldMatch(FieldReference("status", 6), Pattern(("500",)), 13)
    assert parsed.sql_offset == 18


def test_pipe_inside_quotes_or_escaped_does_not_start_sql() -> None:
    assert search('"a | b"') == word("a | b", 0)
    assert search(r"a\|b") == word("a|b", 0)
    assert parse_query('"a | b" | select 1').sql_offset == 9


@pytest.mark.parametrize(
    ("text", "position", "expected"),
    [
        ("a AND", 5, "a word"),
        ("(a OR b", 7, "')'"),
        ("a)", 1, "the end of the search"),
        ("status:", 7, "a value"),
        ("status>", 7, "a value"),
        ("latency:[1 TO", 13, "a range bound"),
        ("latency:[1 5]", 11, "TO"),
        ('error "unterminated', 6, "unterminated quote"),
        ("match a OR OR b", 11, "a word"),
        ("ok | select 1 AND (", 18, "syntax error"),
    ],
)
def test_syntax_errors_name_the_position_and_what_was_expected(
    text: str, position: int, expected: str
) -> None:
    error = syntax_error(text)
    assert error.reason == "syntax"
    assert error.position == position
    assert expected in error.message
    assert str(position) in error.message


def test_field_name_with_wildcard_is_refused_at_its_position() -> None:
    error = syntax_error("ok host*:x")
    assert (error.position, error.reason) == (3, "syntax")
    assert "field name" in error.message


def test_parsed_queries_compare_by_text_and_search() -> None:
    assert parse_query("a | select 1") == parse_query("a | select 1")
    assert parse_query("a") != parse_query("b")
