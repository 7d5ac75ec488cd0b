"""A toy-size run of the segment-refresh bench (PostgreSQL only): it seeds, builds, changes
facts, and checks that the app's incremental refresh and the hand-written SQL end with the
same memberships. The timing is printed by the bench itself, never asserted here."""

import os

import pytest
from django.db import connection

from bench import segment_refresh

pytestmark = [
    pytest.mark.skipif(
        os.environ.get("OSCAR_RECOVERY_TEST_DB") != "postgres",
        reason="the bench is written for PostgreSQL",
    ),
    pytest.mark.django_db(transaction=True),
]


def test_the_bench_runs_and_both_sides_agree():
    lines = []
    try:
        ratio = segment_refresh.run(contacts=400, changed=40, rounds=2, out=lines.append)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {segment_refresh.COPY}")
    assert ratio > 0
    assert sum("same memberships" in line for line in lines) == 2
