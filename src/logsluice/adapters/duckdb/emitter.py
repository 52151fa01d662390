"""Turn a ParsedQuery into DuckDB SQL for one logstore and time range (file store and DuckLake).

``QueryEmitter`` is the shape every engine's emitter has; ``DuckDBQueryEmitter`` is the DuckDB one,
shared by the DuckDB file store and the DuckLake store. A plain SEARCH reads the logstore table
directly; ``SEARCH | SQL`` becomes ``WITH records AS (SELECT * FROM <table> WHERE <time range> AND
<search>) <user select>``, so the user's SQL can only ever see the records the SEARCH matched in the
time range. All SQL is built as sqlglot trees and rendered without comments; user text only enters
as literals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlglot import exp

from logsluice.adapters.duckdb.dotted_fields import resolve_dotted_fields
from logsluice.adapters.duckdb.search_sql import SearchCompiler, timestamp_literal
from logsluice.domain.catalog import LogstoreSchema
from logsluice.domain.errors import InvalidInputError, InvalidQueryError
from logsluice.domain.export import Order
from logsluice.domain.timerange import TimeRange
from logsluice.query.complexity import too_deep_as_invalid_query
from logsluice.query.parsed_query import ParsedQuery
from logsluice.query.sql_syntax import RECORDS_TABLE, RECORDS_TABLE_NAMES

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
LAKE_FILE_NAME = "filename"
"""DuckLake's virtual column naming each row's data file (NULL for rows inlined in the catalog)."""


@dataclass(frozen=True)
class QueryTarget:
    """Where a query runs: the quoted table, its time column, its schema and the time range."""

    table_sql: str
    time_column: str
    schema: LogstoreSchema
    time_range: TimeRange
    skipped_files: tuple[str, ...] = ()
    """Data files of a lake whose catalog statistics prove they hold no record of the range.
    Given, a plain SEARCH reads the other files whole and checks the range after the scan
    instead of in it (see :func:`_files_then_range`)."""


class QueryEmitter(Protocol):
    """Renders parsed queries as one engine's SQL."""

    def select(
        self,
        parsed: ParsedQuery,
        target: QueryTarget,
        *,
        order: Order,
        limit: int | None,
        sort: bool = True,
    ) -> str:
        """Return SQL for the query's rows: records by time for a SEARCH, the SQL's rows otherwise.

        ``order`` applies to a plain SEARCH only, and only with ``sort`` (without it the records
        come in storage order); ``limit`` caps the rows of either. Raises
        InvalidQueryError for schema problems, InvalidInputError for a negative limit.
        """
        ...

    def count(self, parsed: ParsedQuery, target: QueryTarget) -> str:
        """Return SQL yielding one row, one column: the number of rows the query yields."""
        ...

    def histogram(self, parsed: ParsedQuery, target: QueryTarget, bucket: timedelta) -> str:
        """Return SQL yielding ``(bucket_start, count)`` rows for the SEARCH part, ordered by time.

        Buckets are aligned to multiples of ``bucket`` since the Unix epoch (UTC); empty buckets
        are absent. Raises InvalidInputError when ``bucket`` is not positive.
        """
        ...


class DuckDBQueryEmitter:
    """QueryEmitter for DuckDB SQL (the embedded log store)."""

    dialect = "duckdb"

    def select(
        self,
        parsed: ParsedQuery,
        target: QueryTarget,
        *,
        order: Order,
        limit: int | None,
        sort: bool = True,
    ) -> str:
        if limit is not None and limit < 0:
            raise InvalidInputError(f"limit must not be negative, got {limit}", limit=limit)
        if parsed.has_sql:
            limited = _limited(parsed, target.schema, limit)
            return self._render(self._with_records(parsed, target, limited))
        query = self._matching_records(parsed, target)
        if sort:
            time_column = exp.column(target.time_column, quoted=True)
            query = query.order_by(exp.Ordered(this=time_column, desc=order == Order.DESC))
        return self._render(query.limit(limit) if limit is not None else query)

    def count(self, parsed: ParsedQuery, target: QueryTarget) -> str:
        counted = exp.Count(this=exp.Star()).as_("count")
        if not parsed.has_sql:
            return self._render(
                self._matching_records(parsed, target).select(counted, append=False)
            )
        user_query = _bound_user_query(parsed, target.schema)
        query = exp.select(counted).from_(user_query.subquery("counted_rows"))
        return self._render(self._with_records(parsed, target, query))

    def histogram(self, parsed: ParsedQuery, target: QueryTarget, bucket: timedelta) -> str:
        bucket_microseconds = bucket // timedelta(microseconds=1)
        if bucket_microseconds <= 0:
            raise InvalidInputError(f"histogram bucket must be positive, got {bucket}")
        origin = _aligned_microseconds(target.time_range.start, bucket_microseconds)
        time_column = exp.column(target.time_column, quoted=True)
        index = _bucket_index(time_column, origin, bucket_microseconds).as_("bucket_index")
        counted = (
            self._matching_records(parsed, target)
            .select(index, exp.Count(this=exp.Star()).as_("count"), append=False)
            .group_by(exp.Literal.number(1))
        )
        bucket_start = _bucket_start(exp.column("bucket_index"), origin, bucket_microseconds)
        query = (
            exp.select(bucket_start.as_("bucket_start"), exp.column("count"))
            .from_(counted.subquery("buckets"))
            .order_by(exp.Literal.number(1))
        )
        return self._render(query)

    def _matching_records(self, parsed: ParsedQuery, target: QueryTarget) -> exp.Select:
        """``SELECT * FROM table WHERE <time range> AND <search>``."""
        time_column = exp.column(target.time_column, quoted=True)
        in_range = exp.and_(
            exp.GTE(this=time_column, expression=timestamp_literal(target.time_range.start)),
            exp.LT(this=time_column.copy(), expression=timestamp_literal(target.time_range.end)),
        )
        with too_deep_as_invalid_query():
            search = SearchCompiler(target.schema, target.time_column).compile(parsed.search)
        if search == exp.true():
            condition = _files_then_range(in_range, target.skipped_files)
        else:
            condition = exp.and_(in_range, exp.Paren(this=search))
        table = exp.to_table(target.table_sql, dialect=self.dialect)
        return exp.select(exp.Star()).from_(table).where(condition)

    def _with_records(
        self, parsed: ParsedQuery, target: QueryTarget, query: exp.Query
    ) -> exp.Query:
        records = exp.CTE(
            this=self._matching_records(parsed, target),
            alias=exp.TableAlias(this=exp.to_identifier(RECORDS_TABLE)),
        )
        existing = query.args.get("with_")
        ctes = [records, *(existing.expressions if isinstance(existing, exp.With) else [])]
        query.set("with_", exp.With(expressions=ctes))
        return query

    def _render(self, query: exp.Expr) -> str:
        with too_deep_as_invalid_query():
            return query.transform(_spell_nul_characters).sql(dialect=self.dialect, comments=False)


def _files_then_range(in_range: exp.Expr, skipped_files: tuple[str, ...]) -> exp.Expr:
    """The condition of a plain SEARCH: ``in_range``, or, with ``skipped_files``, those files left
    out by name and the range checked after the scan.

    DuckDB pushes a time range into a lake's scan, which then fetches each row group of an
    object store's file in two requests: the time column, then the others. A slice whose files
    all lie inside its range needs no such check, so it names the files it skips (a file
    filter DuckLake applies per file, before any request) and keeps the range out of the scan
    with a volatile term (``random() < 0`` is never true; DuckDB pushes no volatile filter), which
    reads each row group in one request. Rows kept in the catalog (inlined) have no file name and
    are kept for the range check; a file written since the skipped ones were chosen is read.
    """
    if not skipped_files:
        return in_range
    file_name = exp.column(LAKE_FILE_NAME)
    named = exp.In(this=file_name, expressions=[exp.Literal.string(path) for path in skipped_files])
    kept = exp.or_(exp.Is(this=file_name.copy(), expression=exp.Null()), exp.Not(this=named))
    never = exp.LT(this=exp.Rand(), expression=exp.Literal.number(0))
    return exp.and_(exp.Paren(this=kept), exp.Paren(this=exp.or_(exp.Paren(this=in_range), never)))


def _spell_nul_characters(node: exp.Expr) -> exp.Expr:
    """A string literal holding NUL becomes ``'…' || chr(0) || '…'``.

    DuckDB 1.5's parser ends a quoted string at a NUL character and refuses the statement.
    """
    if not (isinstance(node, exp.Literal) and node.is_string and "\x00" in node.this):
        return node
    pieces: list[exp.Expr] = []
    for index, piece in enumerate(str(node.this).split("\x00")):
        if index:
            pieces.append(exp.Chr(expressions=[exp.Literal.number(0)]))
        pieces.append(exp.Literal.string(piece))
    spelled = pieces[0]
    for following in pieces[1:]:
        spelled = exp.DPipe(this=spelled, expression=following, safe=True)
    return exp.Paren(this=spelled)


def _limited(parsed: ParsedQuery, schema: LogstoreSchema, limit: int | None) -> exp.Query:
    query = _bound_user_query(parsed, schema)
    if limit is None:
        return query
    if isinstance(query, exp.Select) and query.args.get("limit") is None:
        return query.limit(limit)
    return exp.select(exp.Star()).from_(query.subquery("limited_rows")).limit(limit)


def _bound_user_query(parsed: ParsedQuery, schema: LogstoreSchema) -> exp.Query:
    """The user's SQL reading the records: FROM-less SELECTs get ``FROM records``, ``log``
    becomes ``records AS log``, and dotted field paths (``http.status``) the fields' names."""
    tree = parsed.sql_tree
    if tree is None:  # pragma: no cover - callers check has_sql
        raise InvalidQueryError("the query has no SQL part", position=0, reason="syntax")
    if isinstance(tree, exp.Subquery):
        tree = exp.select(exp.Star()).from_(tree)
    for select in list(tree.find_all(exp.Select)):
        if select.args.get("from_") is None:
            select.from_(exp.to_table(RECORDS_TABLE), copy=False)
    for table in list(tree.find_all(exp.Table)):
        _bind_table(table)
    return resolve_dotted_fields(tree, schema, parsed.sql_offset)


def _bind_table(table: exp.Table) -> None:
    """``FROM log`` reads the records under the name ``log``."""
    if table.name.lower() == RECORDS_TABLE or table.name.lower() not in RECORDS_TABLE_NAMES:
        return
    alias = table.args.get("alias") or exp.TableAlias(this=exp.to_identifier(table.name))
    table.set("this", exp.to_identifier(RECORDS_TABLE))
    table.set("alias", alias)


def _aligned_microseconds(moment: datetime, bucket_microseconds: int) -> int:
    """Microseconds since the epoch of the bucket boundary at or before ``moment`` (exact)."""
    microseconds = (moment - _EPOCH) // timedelta(microseconds=1)
    return microseconds // bucket_microseconds * bucket_microseconds


def _bucket_index(time_column: exp.Expr, origin: int, bucket_microseconds: int) -> exp.Expr:
    """``(epoch_us(t) - origin) // bucket``: integer division, exact, and a floor because every
    record in the range is at or after ``origin`` (also before 1970)."""
    epoch_microseconds = exp.Anonymous(this="epoch_us", expressions=[time_column])
    since_origin = exp.Paren(
        this=exp.Sub(this=epoch_microseconds, expression=exp.Literal.number(origin))
    )
    return exp.IntDiv(this=since_origin, expression=exp.Literal.number(bucket_microseconds))


def _bucket_start(index: exp.Expr, origin: int, bucket_microseconds: int) -> exp.Expr:
    """``epoch + to_microseconds(origin + index * bucket)``, exact in UTC; evaluated per bucket,
    not per record."""
    offset = exp.Add(
        this=exp.Literal.number(origin),
        expression=exp.Mul(this=index, expression=exp.Literal.number(bucket_microseconds)),
    )
    to_microseconds = exp.Anonymous(this="to_microseconds", expressions=[offset])
    return exp.Add(this=timestamp_literal(_EPOCH), expression=to_microseconds)
