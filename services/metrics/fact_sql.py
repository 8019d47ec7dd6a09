"""The facts in PostgreSQL: tables made from their declarations, upserts, bulk copies.

One generation of the read model is one schema holding every fact table (see
``generations``). Live batches are upserted with each column's merge written as SQL
(``GREATEST`` for max, ``+`` for add), the same merge ``fact_batch`` does in memory; a
rebuild copies its merged rows in with ``COPY`` and builds the indexes afterwards.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from salesops.db import DbConnection, quote_ident
from services.metrics.fact_batch import FactBatch
from services.metrics.facts import TABLES, Column, FactTable

_MERGE_SQL = {
    "set": "{c} = EXCLUDED.{c}",
    "max": "{c} = GREATEST(t.{c}, EXCLUDED.{c})",
    "min": "{c} = LEAST(t.{c}, EXCLUDED.{c})",
    "add": "{c} = coalesce(t.{c}, 0) + coalesce(EXCLUDED.{c}, 0)",
}


def _declaration(column: Column) -> str:
    default = " NOT NULL DEFAULT 0" if column.merge == "add" else ""
    return f"{column.name} {column.sql_type}{default}"


def create_table_sql(schema: str, table: FactTable) -> str:
    keys = ", ".join(c.name for c in table.key)
    columns = ", ".join(_declaration(c) for c in table.all_columns)
    return f"CREATE TABLE {quote_ident(schema)}.{table.name} ({columns}, PRIMARY KEY ({keys}))"


def create_index_sql(schema: str, table: FactTable) -> list[str]:
    return [
        f"CREATE INDEX ON {quote_ident(schema)}.{table.name} ({columns})"
        for columns in table.indexes
    ]


async def create_tables(conn: DbConnection, schema: str, *, indexes: bool = True) -> None:
    """The fact tables in ``schema`` (which must exist); indexes now or, for a bulk load, later."""
    for table in TABLES:
        await conn.execute(create_table_sql(schema, table))
    if indexes:
        await create_indexes(conn, schema)


async def create_indexes(conn: DbConnection, schema: str) -> None:
    for table in TABLES:
        for sql in create_index_sql(schema, table):
            await conn.execute(sql)


async def analyze(conn: DbConnection, schema: str) -> None:
    """Fresh statistics, so the planner knows a bulk-loaded table is no longer empty."""
    for table in TABLES:
        await conn.execute(f"ANALYZE {quote_ident(schema)}.{table.name}")


@lru_cache(maxsize=512)
def _upsert_sql(schema: str, table: FactTable, names: tuple[str, ...]) -> str:
    columns = [table.column(name) for name in names]
    keys = ", ".join(c.name for c in table.key)
    arrays = ", ".join(f"${i}::{c.sql_type}[]" for i, c in enumerate(columns, start=1))
    updates = [
        _MERGE_SQL[c.merge].format(c=c.name) for c in columns if c.name not in table.key_names
    ]
    action = f"DO UPDATE SET {', '.join(updates)}" if updates else "DO NOTHING"
    return (
        f"INSERT INTO {quote_ident(schema)}.{table.name} AS t ({', '.join(names)})"
        f" SELECT * FROM unnest({arrays}) ON CONFLICT ({keys}) {action}"
    )


async def upsert(conn: DbConnection, schema: str, batch: FactBatch) -> None:
    """Merge every row of ``batch`` into the tables of ``schema``, one statement per shape."""
    for table, rows in batch.tables():
        shapes: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
        for key, values in rows.items():
            names = tuple(values)
            shapes.setdefault(names, []).append((*key, *values.values()))
        for names, tuples in shapes.items():
            all_names = (*table.key_names, *names)
            columns = list(zip(*tuples, strict=True))
            await conn.execute(_upsert_sql(schema, table, all_names), *columns)


async def copy_in(conn: DbConnection, schema: str, batch: FactBatch) -> int:
    """Copy every row of ``batch`` into the (empty) tables of ``schema``; returns the row count."""
    written = 0
    for table, rows in batch.tables():
        names = [c.name for c in table.columns]
        zero = {c.name: 0 for c in table.columns if c.merge == "add"}
        records = [
            (*key, *(values.get(name, zero.get(name)) for name in names))
            for key, values in rows.items()
        ]
        await conn.copy_records_to_table(
            table.name,
            schema_name=schema,
            columns=[*table.key_names, *names],
            records=records,
        )
        written += len(records)
    return written
