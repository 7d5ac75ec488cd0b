"""A toy-size run of the audience-sync bench (PostgreSQL only): it seeds synced members,
changes some, syncs, and checks inside that exactly the changes were sent. The timing is
printed by the bench itself, never asserted here."""

import os

import pytest

from bench import audience_sync

pytestmark = [
    pytest.mark.skipif(
        os.environ.get("OSCAR_RECOVERY_TEST_DB") != "postgres",
        reason="the bench is written for PostgreSQL",
    ),
    pytest.mark.django_db(transaction=True),
]


def test_the_bench_runs_and_sends_only_the_changes(settings):
    settings.OSCAR_RECOVERY_AUDIENCE_FAKE_BATCH_SIZE = 7
    lines = []
    ratio = audience_sync.run(members=300, changes=40, out=lines.append)
    assert ratio > 0
    assert any("sent only the changes: 3 add call(s), 3 remove call(s)" in line for line in lines)
