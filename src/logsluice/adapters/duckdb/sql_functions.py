"""The functions DuckDB SQL after ``|`` may call, and the names it must never call.

The log store's engine owns its function allow-list: a name means different things in different
engines, so each engine's adapter lists what it has reviewed. Anything not listed is refused, so a
new sqlglot function or a DuckDB function we have not reviewed (a table function, a file reader, a
settings or catalog function) is refused by default; ``FORBIDDEN_FUNCTION_PATTERNS`` are refused
even if a later edit lists them. The node types are compared exactly (not with ``isinstance``).
Functions sqlglot does not model are ``exp.Anonymous`` and are checked by lower-case name.
"""

from __future__ import annotations

import re

from sqlglot import exp

from logsluice.query.sql_syntax import SqlFunctionRules

ALLOWED_FUNCTIONS: frozenset[type[exp.Expr]] = frozenset(
    {
        # aggregates
        exp.Count,
        exp.CountIf,
        exp.Sum,
        exp.Avg,
        exp.Min,
        exp.Max,
        exp.ApproxDistinct,
        exp.Quantile,
        exp.PercentileCont,
        exp.PercentileDisc,
        exp.Median,
        exp.ApproxQuantile,
        exp.Mode,
        exp.Stddev,
        exp.StddevPop,
        exp.StddevSamp,
        exp.Variance,
        exp.VariancePop,
        exp.Corr,
        exp.CovarPop,
        exp.CovarSamp,
        exp.Kurtosis,
        exp.Skewness,
        exp.LogicalAnd,
        exp.LogicalOr,
        exp.AnyValue,
        exp.ArgMin,
        exp.ArgMax,
        exp.First,
        exp.Last,
        exp.GroupConcat,
        exp.ArrayAgg,
        # window functions
        exp.RowNumber,
        exp.Rank,
        exp.DenseRank,
        exp.PercentRank,
        exp.CumeDist,
        exp.Ntile,
        exp.Lag,
        exp.Lead,
        exp.FirstValue,
        exp.LastValue,
        exp.NthValue,
        # time
        exp.TimestampTrunc,
        exp.DateTrunc,
        exp.DateBin,
        exp.TimeToStr,
        exp.StrToTime,
        exp.TsOrDsToTimestamp,
        exp.StrToDate,
        exp.FromISO8601Timestamp,
        exp.TimeToUnix,
        exp.UnixToTime,
        exp.Extract,
        exp.Year,
        exp.Quarter,
        exp.Month,
        exp.Week,
        exp.WeekOfYear,
        exp.Day,
        exp.DayOfWeek,
        exp.DayOfWeekIso,
        exp.DayOfMonth,
        exp.DayOfYear,
        exp.Hour,
        exp.Minute,
        exp.Second,
        exp.DateDiff,
        exp.DateAdd,
        exp.DateSub,
        exp.CurrentTimestamp,
        exp.CurrentDate,
        exp.ToDays,
        exp.MakeInterval,
        exp.Date,
        # text
        exp.Lower,
        exp.Upper,
        exp.Length,
        exp.Substring,
        exp.RegexpLike,
        exp.RegexpFullMatch,
        exp.RegexpExtract,
        exp.RegexpReplace,
        exp.RegexpSplit,
        exp.Contains,
        exp.StartsWith,
        exp.EndsWith,
        exp.SplitPart,
        exp.Split,
        exp.Concat,
        exp.ConcatWs,
        exp.Trim,
        exp.Replace,
        exp.StrPosition,
        exp.Left,
        exp.Right,
        exp.Reverse,
        exp.Pad,
        exp.Repeat,
        exp.Ascii,
        exp.Chr,
        exp.Initcap,
        exp.Levenshtein,
        exp.MD5,
        exp.SHA2,
        exp.ToBase64,
        exp.FromBase64,
        exp.Hex,
        exp.Unhex,
        exp.JSONExtract,
        exp.JSONExtractScalar,
        exp.JSONKeys,
        # conditionals, casts, numbers
        exp.Case,
        exp.If,
        exp.Coalesce,
        exp.Nullif,
        exp.Cast,
        exp.TryCast,
        exp.Greatest,
        exp.Least,
        exp.Round,
        exp.Floor,
        exp.Ceil,
        exp.Abs,
        exp.Sign,
        exp.Sqrt,
        exp.Pow,
        exp.Exp,
        exp.Ln,
        exp.Log,
        exp.Trunc,
        exp.IsNan,
        exp.IsInf,
        exp.Typeof,
        # lists and structs
        exp.Array,
        exp.Struct,
        exp.StructExtract,
        exp.ArrayContains,
        exp.ArraySize,
        exp.ArraySlice,
        exp.Map,
        exp.ArrayDistinct,
        exp.ArrayToString,
        exp.ArrayFilter,
        exp.Transform,
        exp.Explode,
        exp.Unnest,
    }
)

# DuckDB functions sqlglot parses as ``exp.Anonymous``; compared in lower case.
ALLOWED_FUNCTION_NAMES = frozenset(
    {
        "mean",
        "histogram",
        "entropy",
        "product",
        "epoch_us",
        "epoch_ns",
        "date_part",
        "datepart",
        "age",
        "now",
        "date_sub",
        "to_seconds",
        "to_milliseconds",
        "to_microseconds",
        "to_minutes",
        "to_hours",
        "strlen",
        "regexp_split_to_array",
        "prefix",
        "suffix",
        "hash",
        "url_decode",
        "url_encode",
        "printf",
        "like_escape",
        "ilike_escape",
        "json_value",
        "json_valid",
        "json_array_length",
        "list_aggregate",
        "list_slice",
        "cardinality",
        "bit_count",
    }
)

# Presto/MySQL functions DuckDB lacks: refusing one of these in the DuckDB reading lets the other
# readings try (``date_format`` becomes ``strftime``). Any other refused function is final, so a
# DuckDB function is never silently reinterpreted with another engine's meaning.
FOREIGN_FUNCTION_NAMES = frozenset(
    {
        "date_format",
        "from_unixtime",
        "to_unixtime",
        "date_parse",
        "str_to_date",
        "from_iso8601_timestamp",
        "approx_percentile",
        "arbitrary",
        "day_of_week",
    }
)

# Never callable, whatever the lists above say: DuckLake's and Iceberg's catalog functions, file and
# URL readers, scans, globbing, SQL-in-a-string, secrets, settings and the environment.
FORBIDDEN_FUNCTION_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(pattern)
    for pattern in (
        r"ducklake_.*",
        r"iceberg_.*",
        r"delta_.*",
        r"read_.*",
        r".*_scan",
        r"glob",
        r"query",
        r"query_table",
        r".*secret.*",
        r"current_setting",
        r"getenv",
        r"duckdb_.*",
        r"pragma_.*",
        r"sniff_csv",
    )
)

DUCKDB_SQL_RULES = SqlFunctionRules(
    readings=("duckdb", "presto", "mysql"),
    functions=ALLOWED_FUNCTIONS,
    function_names=ALLOWED_FUNCTION_NAMES,
    foreign_function_names=FOREIGN_FUNCTION_NAMES,
    forbidden_function_patterns=FORBIDDEN_FUNCTION_PATTERNS,
)
"""How DuckDB SQL after ``|`` is read and which functions it may call (DuckDB and DuckLake)."""
