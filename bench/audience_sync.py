"""Audience sync over 1,000,000 members in PostgreSQL, of which 10,000 change.

    .venv/bin/python -m bench.audience_sync [--members 1000000] [--changes 10000]

Seeds ``--members`` contacts in one segment, each with an ads consent in the ledger and a
member row for the CSV and Meta destinations already synced (as yesterday's sync left
them; hashes computed in SQL). Then half of ``--changes`` leave the segment and half as
many new contacts join it with consent, and one :func:`oscar_recovery.audiences.sync.
sync_audience` runs against the fake platform (batch size 10,000, Meta's limit). Checks
that exactly the changes were sent (additions and removals in separate calls, no call over
the batch size), and prints:

* the changed sync's time, and a sync with nothing changed (what every day costs at least),
  with their ratio;
* the peak Python memory of a changed sync (tracemalloc, a second set of changes; its time
  is not reported, tracing slows it) and the process's peak resident memory.

Uses its own database, oscar_recovery_bench_audiences (override with OSCAR_RECOVERY_PG_NAME),
on the local PostgreSQL.
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc
from datetime import datetime, timedelta


def seed(members: int, t0: datetime) -> tuple[int, int]:
    """``members`` contacts in a fresh segment and audience; returns (segment, audience) ids."""
    from django.db import connection

    from bench.postgres import insert_select
    from oscar_recovery.models import (
        Audience,
        AudienceMember,
        ConsentEvent,
        Contact,
        Segment,
        SegmentMembership,
    )

    with connection.cursor() as cursor:
        for model in (AudienceMember, Audience, SegmentMembership, ConsentEvent, Contact):
            cursor.execute(f"TRUNCATE {model._meta.db_table} RESTART IDENTITY CASCADE")
    segment = Segment.objects.create(slug=f"bench-{t0:%H%M%S%f}", name="Bench segment")
    audience = Audience.objects.create(
        slug="bench", name="Bench", segment=segment, sync_meta=True, meta_external_id="bench-1"
    )
    contacts(1, members, segment.pk, t0)
    with connection.cursor() as cursor:
        for destination in ("csv", "meta"):
            cursor.execute(
                insert_select(
                    AudienceMember,
                    {
                        "audience_id": "%(audience)s",
                        "destination": f"'{destination}'",
                        "contact_id": "c.id",
                        "email_sha256": "encode(sha256(convert_to(c.email, 'UTF8')), 'hex')",
                        "suppression_hash": "md5(c.email) || md5(c.uuid::text)",
                        "desired": "true",
                        "synced_state": "'added'",
                        "synced_at": "%(synced)s",
                        "changed_at": "%(synced)s",
                    },
                    f"{Contact._meta.db_table} c",
                ),
                {"audience": audience.pk, "synced": t0 - timedelta(days=1)},
            )
        for model in (Contact, SegmentMembership, ConsentEvent, AudienceMember):
            cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")
    return segment.pk, audience.pk


def contacts(first: int, count: int, segment_id: int, t0: datetime) -> None:
    """Contacts ``first`` .. ``first + count - 1``, each in the segment with an ads consent."""
    from django.db import connection

    from bench.postgres import insert_select
    from oscar_recovery.models import ConsentEvent, Contact, SegmentMembership

    series = "generate_series(%(first)s, %(last)s) AS g"
    params = {"first": first, "last": first + count - 1, "t0": t0, "segment": segment_id}
    with connection.cursor() as cursor:
        cursor.execute(
            insert_select(
                Contact,
                {
                    "uuid": "gen_random_uuid()",
                    "email": "'c' || g || '@example.com'",
                    "status": "'active'",
                    "first_seen_at": "%(t0)s",
                    "last_seen_at": "%(t0)s",
                    "identified_at": "%(t0)s",
                },
                series,
            ),
            params,
        )
        cursor.execute(
            insert_select(
                ConsentEvent,
                {
                    "channel": "'ads'",
                    "address": "'c' || g || '@example.com'",
                    "action": "'given'",
                    "source": "'checkout'",
                    "wording": "'Yes, you may use a hashed copy of my email for ads.'",
                    "language": "'en'",
                    "occurred_at": "%(t0)s - interval '2 days'",
                },
                series,
            ),
            params,
        )
        cursor.execute(
            insert_select(
                SegmentMembership,
                {"segment_id": "%(segment)s", "contact_id": "c.id", "entered_at": "%(t0)s"},
                f"{Contact._meta.db_table} c WHERE c.email IN "
                f"(SELECT 'c' || g || '@example.com' FROM {series})",
            ),
            params,
        )


def change(segment_id: int, first_new: int, leave: int, join: int, at: datetime) -> None:
    """``leave`` members, spread over the table, leave the segment; ``join`` new contacts
    (numbered from ``first_new``) join it with consent."""
    from django.db import connection

    from oscar_recovery.models import SegmentMembership

    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {SegmentMembership._meta.db_table} SET exited_at = %(at)s
            WHERE id IN (
                SELECT id FROM {SegmentMembership._meta.db_table}
                WHERE segment_id = %(segment)s AND exited_at IS NULL
                ORDER BY (contact_id * 7919) %% 1000003 LIMIT %(leave)s)
            """,
            {"at": at, "segment": segment_id, "leave": leave},
        )
    contacts(first_new, join, segment_id, at)


def check_calls(removed: int, added: int, batch: int) -> tuple[int, int]:
    from oscar_recovery.audiences.platforms import fake

    adds = [c for c in fake.CALLS if c.kind == "add"]
    removes = [c for c in fake.CALLS if c.kind == "remove"]
    assert sum(len(c.members) for c in removes) == removed, "removals sent"
    assert sum(len(c.members) for c in adds) == added, "additions sent"
    assert all(len(c.members) <= batch for c in adds + removes), "batch size"
    return len(adds), len(removes)


def run(members: int, changes: int, out=print) -> float:
    """Seed, change, sync; returns the ratio changed sync / unchanged sync."""
    from django.conf import settings
    from django.db import connection
    from django.utils import timezone

    from oscar_recovery.audiences import sync
    from oscar_recovery.audiences.platforms import fake
    from oscar_recovery.models import Audience

    settings.OSCAR_RECOVERY_AUDIENCE_PLATFORM_MODULES = {"meta": "fake", "google": "fake"}
    batch = int(getattr(settings, "OSCAR_RECOVERY_AUDIENCE_FAKE_BATCH_SIZE", 10_000))
    with connection.cursor() as cursor:
        cursor.execute("SET jit = off")
    t0 = timezone.now().replace(microsecond=0)
    start = time.perf_counter()
    segment_id, audience_id = seed(members, t0)
    out(f"seeded {members:,} synced members in {time.perf_counter() - start:.1f}s")
    leave, join = changes // 2, changes - changes // 2

    change(segment_id, members + 1, leave, join, t0 + timedelta(hours=1))
    fake.reset()
    audience = Audience.objects.get(pk=audience_id)
    start = time.perf_counter()
    result = sync.sync_audience(audience, now=t0 + timedelta(days=1), force=True)
    changed = time.perf_counter() - start
    adds, removes = check_calls(leave, join, batch)
    assert result.members == members - leave + join, result.members
    out(
        f"sync with {changes:,} changes ({join:,} in, {leave:,} out) of {result.members:,}: "
        f"{changed:.2f}s; sent only the changes: {adds} add call(s), {removes} remove call(s)"
    )

    fake.reset()
    start = time.perf_counter()
    sync.sync_audience(audience, now=t0 + timedelta(days=1, hours=1), force=True)
    unchanged = time.perf_counter() - start
    check_calls(0, 0, batch)
    out(f"sync with nothing changed: {unchanged:.2f}s; nothing sent")

    change(segment_id, members + join + 1, leave, join, t0 + timedelta(days=1, hours=2))
    fake.reset()
    tracemalloc.start()
    sync.sync_audience(audience, now=t0 + timedelta(days=2), force=True)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    check_calls(leave, join, batch)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out(f"peak Python memory of a sync with {changes:,} changes: {peak / 2**20:.1f} MiB")
    out(f"peak resident memory of the whole bench process: {rss:.0f} MiB")
    out(f"ratio changed sync / unchanged sync: {changed / unchanged:.2f}")
    return changed / unchanged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--changes", type=int, default=10_000)
    args = parser.parse_args()

    from bench.postgres import ensure_database, use_database

    use_database("oscar_recovery_bench_audiences")
    ensure_database()

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    run(args.members, args.changes)


if __name__ == "__main__":
    main()
