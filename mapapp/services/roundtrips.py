"""Several SQL statements in one round trip to the database.

The dedupe task has a budget of 5 ms at the median (issue 3) and needs about a dozen statements:
area locks, three reads, three writes. Sent one by one, each costs a network round trip and a
trip through the ORM, which together were most of the task's time. PostgreSQL runs a
multi-statement query in order, as one round trip, and returns each statement's result;
Django's psycopg cursor binds parameters on the client (its default), which is what lets one
`execute` carry several statements with parameters. SQLite's driver takes one statement per call,
but SQLite runs in-process, so sending them one by one costs no round trip there.

Statements run in the order added, all inside the caller's transaction: an error in any of them
raises, and the surrounding `transaction.atomic` rolls the whole batch back.

`select`, `update` and `insert` write the SQL for fixed shapes from the models: table and column
names from `_meta` (quoted), values adapted by each field's `get_db_prep_save` and always bound,
never formatted into the text. Rows come back as the ORM's `.values()` would give them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from django.conf import settings
from django.db import connection, models
from django.utils import timezone
from django.utils.dateparse import parse_datetime

Model = type[models.Model]


@dataclass
class Batch:
    statements: list[tuple[str, Sequence[Any]]] = field(default_factory=list)

    def add(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Queue a statement (`%s` placeholders, no literal `%`); returns its index in `run()`'s result."""
        if ";" in sql:
            raise ValueError("one statement per add(): the batch joins them with ';'")
        self.statements.append((sql, params))
        return len(self.statements) - 1

    def select(
        self,
        model: Model,
        names: Sequence[str],
        *,
        where: str,
        params: Sequence[Any],
        join: str | None = None,
        order_by: str | None = None,
    ) -> int:
        """Queue `SELECT model's names FROM model [JOIN join] WHERE where ORDER BY order_by (id)`.

        Read the rows with `dicts()`. With a join, qualify columns in `where` by `table(...)`.
        """
        source = table(model) + (f" INNER JOIN {join}" if join else "")
        order_by = order_by or f"{table(model)}.id"
        sql = f"SELECT {columns(model, names)} FROM {source} WHERE {where} ORDER BY {order_by}"  # noqa: S608
        return self.add(sql, params)

    def update(self, model: Model, values: dict[str, Any], *, where: str, params: Sequence[Any]) -> int:
        """Queue an UPDATE of {field name or attname: value} on the rows matching `where`."""
        names, bound = _prepared(model, values)
        sets = ", ".join(f"{name} = %s" for name in names)
        return self.add(f"UPDATE {table(model)} SET {sets} WHERE {where}", [*bound, *params])  # noqa: S608

    def insert(self, model: Model, rows: Sequence[dict[str, Any]]) -> int | None:
        """Queue one multi-row INSERT; every row has the same keys."""
        if not rows:
            return None
        bound: list[Any] = []
        names: list[str] = []
        for row in rows:
            names, values = _prepared(model, row)
            bound += values
        one = "(" + ", ".join(["%s"] * len(names)) + ")"
        values_sql = ", ".join([one] * len(rows))
        return self.add(f"INSERT INTO {table(model)} ({', '.join(names)}) VALUES {values_sql}", bound)  # noqa: S608

    def run(self) -> list[Result]:
        """Execute the statements in order; a Result (rows, if any, and the row count) per statement."""
        if not self.statements:
            return []
        results: list[Result] = []
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                sql = ";\n".join(s for s, _ in self.statements)
                cursor.execute(sql, [p for _, params in self.statements for p in params])
                results.append(_result(cursor))
                while cursor.cursor.nextset():
                    results.append(_result(cursor))
            else:
                for sql, params in self.statements:
                    cursor.execute(sql, params)
                    results.append(_result(cursor))
        if len(results) != len(self.statements):
            raise RuntimeError(f"sent {len(self.statements)} statements, got {len(results)} results")
        self.statements = []
        return results


@dataclass(frozen=True)
class Result:
    rows: list[tuple[Any, ...]]
    rowcount: int


def _result(cursor: Any) -> Result:
    rows = cursor.fetchall() if cursor.description is not None else []
    return Result(rows=rows, rowcount=cursor.rowcount)


def table(model: Model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def columns(model: Model, names: Sequence[str], *, qualified: bool = True) -> str:
    prefix = f"{table(model)}." if qualified else ""
    return ", ".join(prefix + connection.ops.quote_name(model._meta.get_field(n).column) for n in names)


def dicts(model: Model, names: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """Rows as the ORM's .values() gives them: aware datetimes, booleans as bool."""
    convert = [_converter(model._meta.get_field(name)) for name in names]
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
    fields = [model._meta.get_field(name) for name in values]
    names = [connection.ops.quote_name(f.column) for f in fields]
    return names, [f.get_db_prep_save(v, connection) for f, v in zip(fields, values.values(), strict=True)]
