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

from django.db import connection, models


def binary_cursor():
    """A cursor on Django's PostgreSQL connection (same transaction, same
    execute wrappers) that binds parameters server-side; ``%b`` placeholders
    send them in binary."""
    import psycopg

    connection.ensure_connection()
    # Wrapped as Django wraps its own (logged in debug, execute wrappers run).
    return connection._prepare_cursor(psycopg.Cursor(connection.connection))


def insert(
    model: type[models.Model], attnames: Sequence[str], rows: Sequence[tuple], *, key: str | None = None
) -> dict:
    """Insert ``rows`` (tuples in the order of ``attnames``). With ``key``
    (an attname unique among the rows), return ``{key value: new pk}``."""
    if not rows:
        return {}
    if connection.vendor != "postgresql":
        objs = [model(**dict(zip(attnames, row, strict=True))) for row in rows]
        model.objects.bulk_create(objs)
        return {getattr(obj, key): obj.pk for obj in objs} if key else {}
    columns, rows_sql, params = unnest(model, attnames, rows)
    fields = [next(f for f in model._meta.concrete_fields if f.attname == name) for name in attnames]
    table = connection.ops.quote_name(model._meta.db_table)
    returning = ""
    if key:
        key_column = next(f for f in fields if f.attname == key).column
        returning = (
            f" RETURNING {connection.ops.quote_name(model._meta.pk.column)}, {connection.ops.quote_name(key_column)}"
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

    fields = [next(f for f in model._meta.concrete_fields if f.attname == name) for name in attnames]
    columns, casts, params = [], [], []
    for position, field in enumerate(fields):
        values = [row[position] for row in rows]
        if isinstance(field, models.JSONField):
            values = [None if v is None else Jsonb(v) for v in values]
        columns.append(connection.ops.quote_name(field.column))
        casts.append(f"%b::{field.db_type(connection)}[]")
        params.append(values)
    return ", ".join(columns), f"unnest({', '.join(casts)})", params
