"""The PostgreSQL database a bench runs in: its own, created when missing, so a bench never
touches the test database or another bench's data."""

from __future__ import annotations

import json
import os
from decimal import Decimal


def use_database(name: str) -> None:
    """Point the bench settings at PostgreSQL database ``name`` (``OSCAR_RECOVERY_PG_NAME``
    overrides it). Call before Django is set up."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    os.environ["OSCAR_RECOVERY_TEST_DB"] = "postgres"
    os.environ.setdefault("OSCAR_RECOVERY_PG_NAME", name)


def server() -> dict[str, str]:
    """Where the benches' PostgreSQL is (``OSCAR_RECOVERY_PG_HOST``/``_PORT``/``_USER``, as
    for the tests)."""
    return {
        "host": os.environ.get("OSCAR_RECOVERY_PG_HOST", "127.0.0.1"),
        "port": os.environ.get("OSCAR_RECOVERY_PG_PORT", "5432"),
        "user": os.environ.get("OSCAR_RECOVERY_PG_USER", "postgres"),
    }


def connect(dbname: str = "postgres"):
    """An autocommit psycopg connection to ``dbname`` on the benches' server."""
    import psycopg

    return psycopg.connect(**server(), dbname=dbname, autocommit=True)


def ensure_database(name: str | None = None) -> None:
    """Create database ``name`` (default ``OSCAR_RECOVERY_PG_NAME``) when it is missing."""
    name = name or os.environ["OSCAR_RECOVERY_PG_NAME"]
    with connect() as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(name: str) -> None:
    """Drop database ``name`` if it exists, closing any session still using it."""
    with connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def insert_select(model, expressions: dict[str, str], source: str) -> str:
    """``INSERT INTO <model's table> (..) SELECT .. FROM <source>``: the columns in
    ``expressions`` (column name -> SQL) from their SQL, every other NOT NULL column its
    model default as a literal, so a column the model gains never breaks a seed. The SQL is
    for a ``cursor.execute`` with parameters (``%`` in literals is doubled)."""
    columns, values = [], []
    for field in model._meta.concrete_fields:
        if field.column in expressions:
            columns.append(field.column)
            values.append(expressions[field.column])
        elif not field.null and not field.primary_key:
            columns.append(field.column)
            values.append(_literal(field.get_default()).replace("%", "%%"))
    missing = set(expressions) - set(columns)
    assert not missing, f"{model.__name__} has no columns {sorted(missing)}"
    return (
        f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) "
        f"SELECT {', '.join(values)} FROM {source}"
    )


def _literal(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, list | dict):
        return _literal(json.dumps(value)) + "::jsonb"
    raise TypeError(f"no SQL literal for the default {value!r}: give the column an expression")
