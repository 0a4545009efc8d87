"""The Redshift SQL: generated DDL that matches the checked-in files and analytics.schema, and
statements that parse as Redshift (there is no cluster here: sqlglot's Redshift dialect).

sqlglot does not fail on SQL it cannot model: it logs a warning and returns an ``exp.Command``
holding the raw text. That is a log record, not a Python warning, so ``filterwarnings = error``
does not catch it; ``parse_redshift`` rejects both the record and the Command.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import duckdb
import pyarrow as pa
import pytest
import sqlglot
from sqlglot import exp

from analytics.local import SavedQuery, saved_queries
from analytics.redshift.ddl import (
    SCHEMA_FILE,
    SPECTRUM_FILE,
    schema_sql,
    spectrum_sql,
    split_statements,
)
from analytics.redshift.loader import copy_statements, partition_sql, schema_statements
from analytics.schema import EVENTS, PID_LENGTH, SCHEMAS, ColumnType, schema_of

BUCKET = "sotto-test-analytics"
ROLE = "arn:aws:iam::123456789012:role/sotto-copy"
Parse = Callable[[str], exp.Expr]
MANIFEST = f"s3://{BUCKET}/manifests/message_sent/2025-01-31.manifest"


@pytest.fixture
def parse_redshift(caplog: pytest.LogCaptureFixture) -> Parse:
    def parse(sql: str) -> exp.Expr:
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="sqlglot"):
            parsed = sqlglot.parse(sql, read="redshift")
        fallbacks = [r.getMessage() for r in caplog.records if r.name.startswith("sqlglot")]
        assert not fallbacks, fallbacks
        assert len(parsed) == 1, sql
        expression = parsed[0]
        assert expression is not None
        assert not isinstance(expression, exp.Command), f"parsed only as a Command: {sql}"
        return expression

    return parse


def created_tables() -> dict[str, exp.Create]:
    tables = {}
    for statement in schema_statements():
        parsed = sqlglot.parse_one(statement, read="redshift")
        if isinstance(parsed, exp.Create) and parsed.kind == "TABLE":
            table = parsed.this.this
            assert table.db == "analytics"
            tables[table.name] = parsed
    return tables


def column_defs(create: exp.Create) -> list[exp.ColumnDef]:
    return [c for c in create.this.expressions if isinstance(c, exp.ColumnDef)]


# The checked-in files never drift from analytics.schema.


def test_schema_sql_is_the_generated_text() -> None:
    assert SCHEMA_FILE.read_text() == schema_sql(), "run: python -m analytics.redshift.ddl"


def test_spectrum_sql_is_the_generated_text() -> None:
    assert SPECTRUM_FILE.read_text() == spectrum_sql(), "run: python -m analytics.redshift.ddl"


# schema.sql


def test_every_schema_statement_parses(parse_redshift: Parse) -> None:
    statements = schema_statements()
    kinds = [type(parse_redshift(statement)) for statement in statements]
    assert kinds[0] is exp.Create  # the schema
    assert kinds[1:] == [exp.Create, exp.Comment] * len(EVENTS)


def test_one_table_per_event_type_with_the_schema_columns_in_order() -> None:
    tables = created_tables()
    assert list(tables) == [schema.name for schema in EVENTS]
    for name, create in tables.items():
        # COPY from Parquet maps by position: the order is part of the contract.
        assert [c.name for c in column_defs(create)] == list(SCHEMAS[name].column_names)


def test_column_types_and_nullability_follow_the_schema() -> None:
    for name, create in created_tables().items():
        for column, definition in zip(SCHEMAS[name].columns, column_defs(create), strict=True):
            kind = definition.args["kind"]
            not_null = any(
                isinstance(c.args.get("kind"), exp.NotNullColumnConstraint)
                for c in definition.constraints
            )
            assert not_null == (not column.nullable), (name, column.name)
            if column.type is ColumnType.PID:
                assert kind.sql("redshift") == f"CHAR({PID_LENGTH})"
            if column.type is ColumnType.TIMESTAMP:
                # UTC in TIMESTAMP: Spectrum, which COPY from Parquet reads through, has no
                # TIMESTAMPTZ.
                assert kind.this == exp.DataType.Type.TIMESTAMP


def _properties(create: exp.Create) -> list[exp.Expr]:
    return list(create.args["properties"].expressions)


def test_distribution_and_sort_keys_follow_the_schema() -> None:
    for name, create in created_tables().items():
        properties = _properties(create)
        style = next(p for p in properties if isinstance(p, exp.DistStyleProperty))
        keys = [p.this.name for p in properties if isinstance(p, exp.DistKeyProperty)]
        sort = next(p for p in properties if isinstance(p, exp.SortKeyProperty))
        dist_key = schema_of(name).dist_key
        if dist_key is None:
            assert style.this.name == "ALL" and keys == []
        else:
            assert style.this.name == "KEY" and keys == [dist_key]
        assert [key.name for key in sort.this] == ["occurred_at"]


def test_a_distribution_key_is_a_pseudonym_of_the_table() -> None:
    for schema in EVENTS:
        if schema.dist_key is not None:
            column = next(c for c in schema.columns if c.name == schema.dist_key)
            assert column.type is ColumnType.PID and not column.nullable


def test_message_tables_are_co_located_by_conversation() -> None:
    """Sent, delivered and listened join on (conversation, seq): the same slice holds all
    three for a conversation, so those joins move no rows between nodes."""
    with_conversation = [s for s in EVENTS if "conversation_pid" in s.column_names]
    assert {s.name for s in with_conversation} >= {
        "message_sent",
        "message_delivered",
        "message_listened",
    }
    for schema in with_conversation:
        assert schema.dist_key == "conversation_pid", schema.name


# copy.sql


@pytest.mark.parametrize("event_type", [schema.name for schema in EVENTS])
def test_copy_statements_parse_for_every_type(parse_redshift: Parse, event_type: str) -> None:
    statements = copy_statements(event_type, MANIFEST, ROLE)
    parsed = [parse_redshift(statement) for statement in statements]
    assert [type(p) for p in parsed] == [exp.Create, exp.Copy, exp.Delete, exp.Insert, exp.Drop]
    staging = f"{event_type}_staging"
    like = parsed[0].this.expressions[0]
    assert parsed[0].this.this.name == staging
    assert isinstance(like, exp.LikeProperty) and like.this.sql() == f"analytics.{event_type}"
    insert = parsed[3]
    assert insert.this.this.sql() == f"analytics.{event_type}"
    assert [c.name for c in insert.this.expressions] == list(schema_of(event_type).column_names)
    assert [t.name for t in parsed[4].args["tables"]] == [staging]


def test_copy_reads_parquet_through_the_manifest_with_the_role(parse_redshift: Parse) -> None:
    copy = parse_redshift(copy_statements("message_sent", MANIFEST, ROLE)[1])
    assert isinstance(copy, exp.Copy)
    assert [f.name for f in copy.args["files"]] == [MANIFEST]
    assert copy.args["credentials"].args["iam_role"].name == ROLE
    params = {
        p.this.name: (p.expression.name if p.expression else None) for p in copy.args["params"]
    }
    assert params == {"FORMAT": "PARQUET", "MANIFEST": None}


def test_copy_quotes_what_it_is_given(parse_redshift: Parse) -> None:
    copy = parse_redshift(copy_statements("message_sent", MANIFEST, "arn:x'; DROP TABLE y; --")[1])
    assert copy.args["credentials"].args["iam_role"].name == "arn:x'; DROP TABLE y; --"


def test_copy_refuses_a_table_that_is_not_an_event_type() -> None:
    with pytest.raises(ValueError, match="unknown analytics event type"):
        copy_statements("users; DROP TABLE analytics.message_sent", MANIFEST, ROLE)


def _messages(rows: list[tuple[str, datetime]]) -> pa.Table:
    schema = schema_of("message_sent").arrow_schema()
    return pa.Table.from_pylist(
        [
            {
                "event_id": event_id,
                "occurred_at": at,
                "conversation_pid": "c" * PID_LENGTH,
                "conversation_kind": "direct",
                "seq": index,
                "sender_pid": "s" * PID_LENGTH,
                "clip_pid": f"{index:0{PID_LENGTH}d}",
            }
            for index, (event_id, at) in enumerate(rows)
        ],
        schema=schema,
    )


def test_the_load_keeps_one_row_per_event_and_a_reload_changes_nothing() -> None:
    """copy.sql's DELETE and INSERT, run as written on a real engine (DuckDB, the common
    dialect): duplicates in the day's files collapse to the earliest row, and running the same
    load again leaves the same rows."""
    statements = copy_statements("message_sent", MANIFEST, ROLE)
    delete, insert = statements[2], statements[3]
    noon = datetime(2025, 1, 31, 12, tzinfo=UTC)
    staged = _messages(
        [("a" * 24, noon), ("b" * 24, noon), ("a" * 24, noon + timedelta(minutes=1))]
    )
    connection = duckdb.connect(":memory:")
    connection.execute("CREATE SCHEMA analytics")
    connection.register("staged", staged)
    connection.execute("CREATE TABLE message_sent_staging AS SELECT * FROM staged")
    connection.execute("CREATE TABLE analytics.message_sent AS SELECT * FROM staged LIMIT 0")
    for _ in range(2):
        connection.execute(delete)
        connection.execute(insert)
    rows = connection.execute(
        "SELECT event_id, occurred_at FROM analytics.message_sent ORDER BY event_id"
    ).fetchall()
    assert [(event_id, at.astimezone(UTC)) for event_id, at in rows] == [
        ("a" * 24, noon),
        ("b" * 24, noon),
    ]


# The saved queries run unchanged on Redshift.


@pytest.mark.parametrize("query", saved_queries(), ids=lambda q: q.name)
def test_saved_query_parses_as_redshift(parse_redshift: Parse, query: SavedQuery) -> None:
    parsed = parse_redshift(query.sql)
    assert isinstance(parsed, exp.Query)
    read = {table.name for table in parsed.find_all(exp.Table)}
    assert read, query.name
    assert read <= set(created_tables()), read - set(created_tables())


def test_there_are_saved_queries() -> None:
    assert len(saved_queries()) >= 5


# spectrum.sql: the external schema is beyond sqlglot (a Command), so it is checked by its
# text; the external tables and partitions parse.


def _spectrum_statements() -> list[str]:
    return split_statements(
        spectrum_sql().format(bucket=BUCKET, role_arn=ROLE, catalog_database="sotto_analytics")
    )


def test_spectrum_external_schema_names_the_catalog_and_role() -> None:
    schema = " ".join(_spectrum_statements()[0].split())
    assert schema == (
        "CREATE EXTERNAL SCHEMA IF NOT EXISTS spectrum FROM DATA CATALOG DATABASE "
        f"'sotto_analytics' IAM_ROLE '{ROLE}' CREATE EXTERNAL DATABASE IF NOT EXISTS"
    )


def test_spectrum_has_an_external_table_per_type_over_its_folder(parse_redshift: Parse) -> None:
    tables = [parse_redshift(sql) for sql in _spectrum_statements()[1:]]
    assert [t.this.this.name for t in tables] == [schema.name for schema in EVENTS]
    for schema, table in zip(EVENTS, tables, strict=True):
        assert isinstance(table, exp.Create) and table.this.this.db == "spectrum"
        properties = {type(p): p for p in _properties(table)}
        assert exp.ExternalProperty in properties
        assert [c.name for c in column_defs(table)] == list(schema.column_names)
        location = properties[exp.LocationProperty].this.name
        assert location == f"s3://{BUCKET}/events/event={schema.name}/"
        partitioned = properties[exp.PartitionedByProperty].this.expressions
        assert [(c.name, c.args["kind"].sql()) for c in partitioned] == [("dt", "DATE")]
        assert properties[exp.FileFormatProperty].this.name == "PARQUET"


def test_spectrum_types_have_no_timestamptz() -> None:
    assert "TIMESTAMPTZ" not in spectrum_sql().upper()
    assert "TIMESTAMPTZ" not in schema_sql().upper()


def test_a_partition_is_the_days_folder(parse_redshift: Parse) -> None:
    alter = parse_redshift(partition_sql(BUCKET, "message_sent", date(2025, 1, 31)))
    assert isinstance(alter, exp.Alter) and alter.this.sql() == "spectrum.message_sent"
    (action,) = alter.args["actions"]
    assert isinstance(action, exp.AddPartition) and action.args["exists"]
    assert action.args["location"].this.name == (
        f"s3://{BUCKET}/events/event=message_sent/dt=2025-01-31/"
    )


# Splitting statements


def test_split_statements_keeps_semicolons_and_dashes_inside_strings() -> None:
    sql = "-- a comment; with a semicolon\nSELECT 'a;b' AS x;\nSELECT 'it''s -- not a comment';\n"
    assert split_statements(sql) == ["SELECT 'a;b' AS x", "SELECT 'it''s -- not a comment'"]


def test_split_statements_refuses_an_unterminated_string() -> None:
    with pytest.raises(ValueError, match="unterminated"):
        split_statements("SELECT 'oops;")
