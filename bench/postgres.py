"""The PostgreSQL database a bench runs in: its own, created when missing, so a bench never
touches the test database or another bench's data."""

from __future__ import annotations

import os


def use_database(name: str) -> None:
    """Point the bench settings at PostgreSQL database ``name`` (``OSCAR_RECOVERY_PG_NAME``
    overrides it). Call before Django is set up."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    os.environ["OSCAR_RECOVERY_TEST_DB"] = "postgres"
    os.environ.setdefault("OSCAR_RECOVERY_PG_NAME", name)


def ensure_database() -> None:
    import psycopg

    name = os.environ["OSCAR_RECOVERY_PG_NAME"]
    with psycopg.connect(
        host=os.environ.get("OSCAR_RECOVERY_PG_HOST", "127.0.0.1"),
        port=os.environ.get("OSCAR_RECOVERY_PG_PORT", "5432"),
        user=os.environ.get("OSCAR_RECOVERY_PG_USER", "postgres"),
        dbname="postgres",
        autocommit=True,
    ) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
