"""Several SQL statements in one round trip to the database, prepared once per connection.

The dedupe task has a budget of 5 ms at the median (issue 3) and needs about a dozen statements:
area locks, three reads, three writes. Sent one by one through the ORM, each cost a network
round trip, a trip through the ORM's compiler and, on the server, a parse and a plan (planning
the candidate query alone took ~0.8 ms on the benchmark machine, more than running it). So:

- **PostgreSQL**: the statements of a batch go out in psycopg's pipeline mode (libpq 14+): sent
  back to back, then one sync, so one round trip per batch. Statements marked `prepare` (fixed
  text, parameters bound on the server) are prepared on first use and reused by the connection,
  so the server neither parses nor plans them again (`plan_cache_mode`, set by the caller, makes
  the plans generic at once). Statements whose text varies (IN lists, multi-row INSERTs) are not
  prepared, so the connection's cache of prepared statements (psycopg keeps up to 100) holds only
  the handful that recur. `settings.DATABASE_PREPARED_STATEMENTS = False` turns preparing off, for
  a transaction-pooling pgbouncer older than 1.21 in front of the database.
- **SQLite**: one statement per call, which costs no round trip, since SQLite runs in-process.

The batch runs inside the caller's transaction: an error in any statement raises (as Django's
exception types, so the task's retry on OperationalError applies), and the surrounding
`transaction.atomic` rolls the whole batch back. These statements bypass Django's execute
wrappers; `bench/bench_dedupe_incremental.py` times `Batch.run` itself.

`select`, `update` and `insert` write the SQL for fixed shapes from the models: table and column
names from `_meta` (quoted), values adapted by each field's `get_db_prep_save` and always bound,
never formatted into the text. Rows come back as the ORM's `.values()` would give them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC
from functools import cache
from typing import Any

from django.conf import settings
from django.db import connection, models
from django.utils import timezone
from django.utils.dateparse import parse_datetime

Model = type[models.Model]


@dataclass
class Batch:
    statements: list[tuple[str, Sequence[Any], bool]] = field(default_factory=list)

    def add(self, sql: str, params: Sequence[Any] = (), *, prepare: bool = True) -> int:
        """Queue one statement (`%s` placeholders); returns its index in `run()`'s result.

        `prepare`: the text recurs (only the parameters vary), so prepare it once per connection.
        """
        self.statements.append((sql, params, prepare))
        return len(self.statements) - 1

    def select(
        self,
        model: Model,
        names: Sequence[str],
        *,
        where: str,
        params: Sequence[Any],
    ) -> int:
        """Queue `SELECT model's names FROM model WHERE where ORDER BY id`; read the rows with `dicts()`."""
        sql = f"SELECT {columns(model, names)} FROM {table(model)} WHERE {where} ORDER BY id"  # noqa: S608
        return self.add(sql, params)

    def update(
        self, model: Model, values: dict[str, Any], *, where: str, params: Sequence[Any], guard: bool = False
    ) -> int:
        """Queue an UPDATE of {field name or attname: value} on the rows matching `where`.

        `guard` (PostgreSQL): the statement fails with division by zero (SQLSTATE 22012) when no
        row matched, which aborts the rest of the batch; its result's rowcount is 1 otherwise.
        """
        names, bound = _prepared(model, values)
        sets = ", ".join(f"{name} = %s" for name in names)
        sql = f"UPDATE {table(model)} SET {sets} WHERE {where}"  # noqa: S608
        if guard:
            sql = f"WITH hit AS ({sql} RETURNING 1) SELECT 1 / count(*) FROM hit"  # noqa: S608
        return self.add(sql, [*bound, *params], prepare=" IN (" not in where)

    def insert(self, model: Model, rows: Sequence[dict[str, Any]], *, returning: str | None = None) -> int | None:
        """Queue one multi-row INSERT; every row has the same keys. `returning`: a column to return."""
        if not rows:
            return None
        bound: list[Any] = []
        names: list[str] = []
        for row in rows:
            names, values = _prepared(model, row)
            bound += values
        one = "(" + ", ".join(["%s"] * len(names)) + ")"
        values_sql = ", ".join([one] * len(rows))
        sql = f"INSERT INTO {table(model)} ({', '.join(names)}) VALUES {values_sql}"  # noqa: S608
        if returning:
            sql += f" RETURNING {connection.ops.quote_name(model._meta.get_field(returning).column)}"
        return self.add(sql, bound, prepare=len(rows) == 1)

    def run(self) -> list[Result]:
        """Execute the statements in order; a Result (rows, if any, and the row count) per statement."""
        statements, self.statements = self.statements, []
        if not statements:
            return []
        if connection.vendor == "postgresql":
            return _run_pipelined(statements)
        with connection.cursor() as cursor:
            results = []
            for sql, params, _ in statements:
                cursor.execute(sql, params)
                results.append(_result(cursor))
            return results


def _run_pipelined(statements: list[tuple[str, Sequence[Any], bool]]) -> list[Result]:
    from django.db.backends.postgresql.base import ServerBindingCursor

    connection.ensure_connection()
    connection.validate_no_broken_transaction()
    pg = connection.connection
    prepare = settings.DATABASE_PREPARED_STATEMENTS
    with connection.wrap_database_errors:
        cursors = [ServerBindingCursor(pg) for _ in statements]
        try:
            with pg.pipeline():
                for cursor, (sql, params, recurs) in zip(cursors, statements, strict=True):
                    # prepare=False (not None) also keeps psycopg from preparing it on its own.
                    cursor.execute(sql, params, prepare=bool(recurs and prepare))
            return [_pg_result(cursor) for cursor in cursors]
        finally:
            for cursor in cursors:
                cursor.close()


@dataclass(frozen=True)
class Result:
    rows: list[tuple[Any, ...]]
    rowcount: int


def _pg_result(cursor: Any) -> Result:
    from psycopg import pq

    # The result's status, not `cursor.description`, which would build a Column object per column.
    rows = cursor.fetchall() if cursor.pgresult.status == pq.ExecStatus.TUPLES_OK else []
    return Result(rows=rows, rowcount=cursor.rowcount)


def _result(cursor: Any) -> Result:
    rows = cursor.fetchall() if cursor.description is not None else []
    return Result(rows=rows, rowcount=cursor.rowcount)


# SQL text and field look-ups depend only on the model, the names and the database vendor, so
# they are computed once per process (the task runs them thousands of times).


@cache
def _table(model: Model, vendor: str) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def table(model: Model) -> str:
    return _table(model, connection.vendor)


@cache
def _columns(model: Model, names: tuple[str, ...], vendor: str) -> str:
    prefix = f"{table(model)}."
    return ", ".join(prefix + connection.ops.quote_name(model._meta.get_field(n).column) for n in names)


def columns(model: Model, names: Sequence[str]) -> str:
    return _columns(model, tuple(names), connection.vendor)


@cache
def _fields(model: Model, names: tuple[str, ...], vendor: str) -> tuple[tuple[models.Field, ...], tuple[str, ...]]:
    fields = tuple(model._meta.get_field(name) for name in names)
    return fields, tuple(connection.ops.quote_name(f.column) for f in fields)


@cache
def _converters(model: Model, names: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(_converter(model._meta.get_field(name)) for name in names)


def dicts(model: Model, names: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """Rows as the ORM's .values() gives them: aware datetimes, booleans as bool."""
    convert = _converters(model, tuple(names))
    return [
        {
            name: (fn(v) if fn is not None and v is not None else v)
            for name, fn, v in zip(names, convert, row, strict=True)
        }
        for row in rows
    ]


def _converter(field: models.Field) -> Any:
    if isinstance(field, models.DateTimeField):
        return _aware
    if isinstance(field, models.BooleanField):
        return bool
    return None


def _aware(value: Any) -> Any:
    if isinstance(value, str):  # SQLite returns text where no converter is registered
        value = parse_datetime(value)
    if settings.USE_TZ and timezone.is_naive(value):
        value = value.replace(tzinfo=UTC)  # Django stores UTC
    return value


def _prepared(model: Model, values: dict[str, Any]) -> tuple[list[str], list[Any]]:
    """Quoted columns and database values of {field name or attname: value}."""
    fields, names = _fields(model, tuple(values), connection.vendor)
    return list(names), [f.get_db_prep_save(v, connection) for f, v in zip(fields, values.values(), strict=True)]
