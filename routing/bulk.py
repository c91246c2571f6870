"""Many rows in one INSERT, for the router's write path.

On PostgreSQL the rows go as one array per column through ``unnest``: one
statement, a dozen parameters whatever the number of rows, no per-field
preparation by the ORM. The arrays are bound server-side in binary
(``binary_cursor``): psycopg packs them in C, where the client-side binding
Django uses would quote and escape every element in Python (three times
slower for a router batch). Elsewhere (SQLite in development and tests) it is
the ORM's ``bulk_create``. Values are given by attribute name (``case_id``),
already in the form the database takes (no defaults are filled in)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import psycopg
from django.db import connection, models


def binary_cursor(*, prepared: bool = False):
    """A cursor on Django's PostgreSQL connection (same transaction, same
    execute wrappers) that binds parameters server-side; ``%b`` placeholders
    send them in binary.

    ``prepared``: the router's hot statements. Each is prepared on the
    server the first time this connection runs it and then only executed
    (Django turns psycopg's automatic preparing off), and results come back
    in binary: timestamps and ids are unpacked in C instead of parsed from
    text. Prepared statements live in the server session, so they need a
    direct connection or a pooler that supports them (PgBouncer 1.21 on)."""
    connection.ensure_connection()
    cursor = (_PreparedCursor if prepared else psycopg.Cursor)(connection.connection)
    # Wrapped as Django wraps its own (logged in debug, execute wrappers run).
    return connection._prepare_cursor(cursor)  # type: ignore[attr-defined]  # private to Django, not in the stubs


class _PreparedCursor(psycopg.Cursor):
    """Prepares every statement it runs and asks for binary results."""

    def execute(self, query, params=None, *, prepare=None, binary=None):
        prepare = True if prepare is None else prepare
        return super().execute(query, params, prepare=prepare, binary=True if binary is None else binary)


def insert(
    model: type[models.Model], attnames: Sequence[str], rows: Sequence[tuple], *, key: str | None = None
) -> dict:
    """Insert ``rows`` (tuples in the order of ``attnames``). With ``key``
    (an attname unique among the rows), return ``{key value: new pk}``."""
    if not rows:
        return {}
    if connection.vendor != "postgresql":
        objs = [model(**dict(zip(attnames, row, strict=True))) for row in rows]
        model.objects.bulk_create(objs)  # type: ignore[attr-defined]  # type[Model] has none typed; ours all have one
        return {getattr(obj, key): obj.pk for obj in objs} if key else {}
    columns, rows_sql, params = unnest(model, attnames, rows)
    table = connection.ops.quote_name(model._meta.db_table)
    returning = ""
    if key:
        key_column = cast("models.Field[Any, Any]", model._meta.get_field(key)).column  # a column of the model
        returning = (
            f" RETURNING {connection.ops.quote_name(cast(str, model._meta.pk.column))},"
            f" {connection.ops.quote_name(cast(str, key_column))}"
        )
    # Names and types come from the model; every value is a parameter.
    sql = f"INSERT INTO {table} ({columns}) SELECT * FROM {rows_sql}{returning}"  # noqa: S608
    with binary_cursor() as cursor:
        cursor.execute(sql, params)
        return {found_key: pk for pk, found_key in cursor.fetchall()} if key else {}


def unnest(model: type[models.Model], attnames: Sequence[str], rows: Sequence[tuple]) -> tuple[str, str, list]:
    """PostgreSQL: ("col_a, col_b", "unnest(%b::type_a[], %b::type_b[])",
    one array per column) for ``rows`` (tuples in the order of
    ``attnames``), types taken from the model's fields."""
    from psycopg.types.json import Jsonb

    columns, casts, json_positions = _shape(model, tuple(attnames))
    params = []
    for position in range(len(attnames)):
        values = [row[position] for row in rows]
        if position in json_positions:
            values = [None if v is None else Jsonb(v) for v in values]
        params.append(values)
    return columns, casts, params


_shapes: dict[tuple, tuple[str, str, frozenset[int]]] = {}


def _shape(model: type[models.Model], attnames: tuple[str, ...]) -> tuple[str, str, frozenset[int]]:
    """Column names, the unnest of typed arrays and which are JSON, worked
    out once per model and columns."""
    key = (model, attnames)
    found = _shapes.get(key)
    if found is None:
        fields = [next(f for f in model._meta.concrete_fields if f.attname == name) for name in attnames]
        columns = ", ".join(connection.ops.quote_name(cast(str, f.column)) for f in fields)  # concrete: a column each
        casts = ", ".join(f"%b::{f.db_type(connection)}[]" for f in fields)
        json_positions = frozenset(n for n, f in enumerate(fields) if isinstance(f, models.JSONField))
        found = _shapes[key] = (columns, f"unnest({casts})", json_positions)
    return found


def fast_cursor():
    """Where the router's raw reads run: on PostgreSQL a cursor binding
    server-side (an id array packed in C), each statement prepared once per
    connection and read in binary (``binary_cursor``)."""
    return binary_cursor(prepared=True) if connection.vendor == "postgresql" else connection.cursor()


def among(column: str, ids: Sequence[int]) -> tuple[str, list]:
    """SQL for "column is one of ids" and its parameters: one array parameter
    on PostgreSQL (a batch of 200 ids is one value to send, not 200
    placeholders to parse), an IN list elsewhere."""
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", [list(ids)]
    return f"{column} IN ({', '.join(['%s'] * len(ids))})", list(ids)
