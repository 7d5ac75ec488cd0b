"""Segment refresh over 1,000,000 contacts in PostgreSQL, of which 10,000 have changed facts.

    .venv/bin/python -m bench.segment_refresh [--contacts 1000000] [--changed 10000] [--rounds 3]

Seeds contacts with facts (``INSERT .. SELECT`` from ``generate_series``), builds every
built-in segment in full at ``t0``, changes the facts of ``--changed`` contacts, and then, an
hour later (``t1``), compares two ways of bringing the memberships up to date:

* the app: :func:`oscar_recovery.segments.refresh.refresh_all` (incremental: contacts whose
  facts changed, those seen since, and each segment's time band);
* its limit: hand-written SQL, one ``INSERT .. SELECT`` and one ``UPDATE`` per segment over
  the same contacts, into a copy of the membership table.

Both must produce the same open memberships (checked). Rounds alternate the order and put
both tables back as ``t0`` left them. Prints each side's median and the ratio app / limit
(goal: within 3x). Uses its own database, oscar_recovery_bench_segments (override with
OSCAR_RECOVERY_PG_NAME), on the local PostgreSQL.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import datetime, timedelta

COPY = "bench_segment_membership"


def seed(contacts: int, t0: datetime) -> None:
    """Contacts in the shapes a shop has: a quarter never ordered, the others one to three
    orders spread over a year, a third with a basket in the last 20 days."""
    from django.db import connection

    from oscar_recovery.models import Contact, ContactFacts

    people, facts = Contact._meta.db_table, ContactFacts._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {people} RESTART IDENTITY CASCADE")
        cursor.execute(
            f"""
            INSERT INTO {people} (uuid, email, phone, first_name, language, status,
                                  first_seen_at, last_seen_at, identified_at)
            SELECT gen_random_uuid(), 'c' || g || '@example.com', '', '', '', 'active',
                   %(t0)s - (g %% 400) * interval '1 day' - interval '2 hours',
                   %(t0)s - (g %% 30) * interval '1 day' - (g %% 7) * interval '1 hour'
                          - interval '1 hour',
                   %(t0)s - (g %% 400) * interval '1 day'
            FROM generate_series(1, %(n)s) AS g
            """,
            {"t0": t0, "n": contacts},
        )
        cursor.execute(
            f"""
            INSERT INTO {facts} (contact_id, order_count, first_order_at, last_order_at,
                                 last_order_total, lifetime_value, currency,
                                 last_basket_activity_at, updated_at)
            SELECT id, id %% 4,
                   CASE WHEN id %% 4 > 0 THEN %(t0)s - (id %% 365 + 30) * interval '1 day' END,
                   CASE WHEN id %% 4 > 0 THEN %(t0)s - (id %% 365) * interval '1 day'
                                             - (id %% 24) * interval '1 hour' END,
                   CASE WHEN id %% 4 > 0 THEN (id %% 300)::numeric END,
                   (id %% 4) * (id %% 300)::numeric, 'GBP',
                   CASE WHEN id %% 3 = 0 THEN %(t0)s - (id %% 20) * interval '1 day'
                                              - (id %% 13) * interval '1 hour' END,
                   %(t0)s - interval '1 day'
            FROM {people}
            """,
            {"t0": t0},
        )
        cursor.execute(f"VACUUM ANALYZE {people}")
        cursor.execute(f"VACUUM ANALYZE {facts}")


def change_facts(changed: int, contacts: int, t1: datetime) -> None:
    """``changed`` contacts, spread over the table, each place an order just before ``t1``."""
    from django.db import connection

    from oscar_recovery.models import ContactFacts

    step = max(contacts // changed, 1)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {ContactFacts._meta.db_table}
            SET order_count = order_count + 1,
                first_order_at = COALESCE(first_order_at, %(at)s),
                last_order_at = %(at)s, last_order_total = 120 + contact_id %% 50,
                lifetime_value = lifetime_value + 120 + contact_id %% 50,
                last_basket_activity_at = %(at)s - interval '10 minutes',
                updated_at = %(t1)s
            WHERE contact_id %% %(step)s = 0 AND contact_id <= %(limit)s
            """,
            {"at": t1 - timedelta(minutes=5), "t1": t1, "step": step, "limit": step * changed},
        )
        assert cursor.rowcount == changed, cursor.rowcount


def _builtin_sql(segment, now: datetime) -> tuple[str, dict]:
    """The segment's predicate, written by hand over ``c`` (contact) and ``f`` (facts)."""
    from oscar_recovery.constants import AmountBasis, SegmentRule
    from oscar_recovery.prompts import app_settings as prompt_settings
    from oscar_recovery.segments import shared

    days = timedelta(days=segment.days or 0)
    p = {"since": now - days, "gap": prompt_settings.VISIT_GAP}
    rule = segment.rule
    medium, high = shared.tier_thresholds()
    sql = {
        SegmentRule.NEW_VISITORS: "c.last_seen_at <= c.first_seen_at + %(gap)s",
        SegmentRule.RETURNING_VISITORS: "c.last_seen_at > c.first_seen_at + %(gap)s",
        SegmentRule.NEW_CUSTOMERS: "f.order_count = 0",
        SegmentRule.RETURNING_CUSTOMERS: "f.order_count >= 1",
        SegmentRule.FIRST_TIME_BUYERS: "f.order_count = 1 AND f.first_order_at > %(since)s",
        SegmentRule.LAPSED_CUSTOMERS: "f.order_count >= 1 AND f.last_order_at < %(since)s",
        SegmentRule.VALUE_LOW: "f.lifetime_value < %(medium)s",
        SegmentRule.VALUE_MEDIUM: "f.lifetime_value >= %(medium)s AND f.lifetime_value < %(high)s",
        SegmentRule.VALUE_HIGH: "f.lifetime_value >= %(high)s",
        SegmentRule.ABANDONED_BASKET: (
            "f.last_basket_activity_at > %(since)s AND (f.last_order_at IS NULL"
            " OR f.last_order_at < f.last_basket_activity_at)"
        ),
        SegmentRule.BROWSED_NOT_BOUGHT: (
            "c.last_seen_at > %(since)s AND f.order_count = 0 AND"
            " (f.last_basket_activity_at IS NULL OR f.last_basket_activity_at <= %(since)s)"
        ),
    }.get(rule)
    p.update(medium=medium, high=high)
    if rule == SegmentRule.RECENT_BUYERS:
        column = (
            "lifetime_value"
            if segment.amount_basis == AmountBasis.LIFETIME
            else ("last_order_total")
        )
        sql = f"f.last_order_at > %(since)s AND f.{column} >= %(amount)s"
        p["amount"] = segment.amount
    return f"c.status = 'active' AND ({sql})", p


def _bands(rule: str) -> list[str]:
    """The timestamps a built-in compares with the clock."""
    from oscar_recovery.constants import SegmentRule

    return {
        SegmentRule.FIRST_TIME_BUYERS: ["f.first_order_at"],
        SegmentRule.RECENT_BUYERS: ["f.last_order_at"],
        SegmentRule.LAPSED_CUSTOMERS: ["f.last_order_at"],
        SegmentRule.ABANDONED_BASKET: ["f.last_basket_activity_at"],
        SegmentRule.BROWSED_NOT_BOUGHT: ["c.last_seen_at", "f.last_basket_activity_at"],
    }.get(rule, [])


def set_based_seconds(t0: datetime, t1: datetime) -> float:
    """The limit: per segment, one INSERT .. SELECT of the entries and one UPDATE of the
    exits, over the contacts changed or seen since ``t0`` and the segment's time band."""
    from django.db import connection, transaction

    from oscar_recovery.models import Segment

    start = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        for segment in Segment.objects.filter(kind="builtin", is_active=True).order_by("pk"):
            predicate, params = _builtin_sql(segment, t1)
            window = timedelta(days=segment.days or 0)
            params.update(seg=segment.pk, t0=t0, t1=t1, lo=t0 - window, hi=t1 - window)
            bands = "".join(
                f" UNION SELECT f.contact_id FROM oscar_recovery_contactfacts f"
                f" JOIN oscar_recovery_contact c ON c.id = f.contact_id"
                f" WHERE {column} BETWEEN %(lo)s AND %(hi)s"
                for column in _bands(segment.rule)
            )
            scope = (
                "SELECT contact_id AS id FROM oscar_recovery_contactfacts WHERE updated_at > %(t0)s"
                " UNION SELECT id FROM oscar_recovery_contact WHERE last_seen_at > %(t0)s" + bands
            )
            cursor.execute(
                f"""
                WITH scope AS ({scope})
                INSERT INTO {COPY} (segment_id, contact_id, entered_at)
                SELECT %(seg)s, c.id, %(t1)s
                FROM scope JOIN oscar_recovery_contact c ON c.id = scope.id
                JOIN oscar_recovery_contactfacts f ON f.contact_id = c.id
                WHERE {predicate} AND NOT EXISTS (
                    SELECT 1 FROM {COPY} m WHERE m.segment_id = %(seg)s
                    AND m.contact_id = c.id AND m.exited_at IS NULL)
                ON CONFLICT DO NOTHING
                """,
                params,
            )
            cursor.execute(
                f"""
                WITH scope AS ({scope})
                UPDATE {COPY} m SET exited_at = %(t1)s FROM scope
                WHERE m.segment_id = %(seg)s AND m.exited_at IS NULL AND m.contact_id = scope.id
                AND NOT EXISTS (
                    SELECT 1 FROM oscar_recovery_contact c
                    JOIN oscar_recovery_contactfacts f ON f.contact_id = c.id
                    WHERE c.id = m.contact_id AND {predicate})
                """,
                params,
            )
    return time.perf_counter() - start


def app_seconds(t1: datetime) -> tuple[float, int, int]:
    from oscar_recovery.segments import refresh

    start = time.perf_counter()
    result = refresh.refresh_all(t1)
    elapsed = time.perf_counter() - start
    assert not result.errors, result.errors
    assert not any(o.rebuilt or o.skipped for o in result.outcomes), result.outcomes
    return (
        elapsed,
        sum(o.entered for o in result.outcomes),
        sum(o.exited for o in result.outcomes),
    )


def snapshot(t0: datetime) -> None:
    """The state ``t0`` left, kept in the copy table for the hand-written side."""
    from django.db import connection

    from oscar_recovery.models import SegmentMembership

    table = SegmentMembership._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {COPY}")
        cursor.execute(f"CREATE TABLE {COPY} (LIKE {table} INCLUDING ALL)")
        cursor.execute(f"INSERT INTO {COPY} SELECT * FROM {table}")
        # The copy's id sequence starts afresh: move it past the copied rows.
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{COPY}', 'id'),"
            f" (SELECT COALESCE(max(id), 0) + 1 FROM {COPY}))"
        )
        cursor.execute(f"VACUUM ANALYZE {COPY}")
        cursor.execute(f"VACUUM ANALYZE {table}")


def restore(t0: datetime, t1: datetime, counts: dict[int, int]) -> None:
    """Both tables and the segments back as ``t0`` left them."""
    from django.db import connection

    from oscar_recovery.models import Segment, SegmentMembership

    with connection.cursor() as cursor:
        for table in (SegmentMembership._meta.db_table, COPY):
            cursor.execute(f"DELETE FROM {table} WHERE entered_at = %s", [t1])
            cursor.execute(f"UPDATE {table} SET exited_at = NULL WHERE exited_at = %s", [t1])
            cursor.execute(f"VACUUM ANALYZE {table}")
    for pk, count in counts.items():
        Segment.objects.filter(pk=pk).update(last_run_at=t0, member_count=count)


def differences() -> int:
    """Open memberships one side has and the other has not."""
    from django.db import connection

    from oscar_recovery.models import SegmentMembership

    table = SegmentMembership._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT count(*) FROM (
                (SELECT segment_id, contact_id FROM {table} WHERE exited_at IS NULL
                 EXCEPT SELECT segment_id, contact_id FROM {COPY} WHERE exited_at IS NULL)
                UNION ALL
                (SELECT segment_id, contact_id FROM {COPY} WHERE exited_at IS NULL
                 EXCEPT SELECT segment_id, contact_id FROM {table} WHERE exited_at IS NULL)
            ) AS diff
            """
        )
        return cursor.fetchone()[0]


def run(contacts: int, changed: int, rounds: int, out=print) -> float:
    """Seed, build, change, compare; returns the ratio app / hand-written (medians)."""
    from django.db import connection
    from django.utils import timezone

    from oscar_recovery.models import Segment, SegmentMembership
    from oscar_recovery.segments import builtins, refresh

    builtins.install()
    t0 = timezone.now().replace(microsecond=0)
    t1 = t0 + timedelta(hours=1)
    start = time.perf_counter()
    seed(contacts, t0)
    out(f"seeded {contacts:,} contacts with facts in {time.perf_counter() - start:.1f}s")
    with connection.cursor() as cursor:
        cursor.execute("SET jit = off")
    Segment.objects.update(last_run_at=None, built_signature="")
    start = time.perf_counter()
    built = refresh.refresh_all(t0)
    assert not built.errors, built.errors
    members = SegmentMembership.objects.filter(exited_at__isnull=True).count()
    out(
        f"full build of {len(built.outcomes)} built-in segments: "
        f"{time.perf_counter() - start:.1f}s, {members:,} memberships"
    )
    counts = dict(Segment.objects.values_list("pk", "member_count"))
    change_facts(changed, contacts, t1)
    snapshot(t0)
    apps: list[float] = []
    limits: list[float] = []
    for round_ in range(rounds):
        order = ("app", "set") if round_ % 2 == 0 else ("set", "app")
        restore(t0, t1, counts)  # each side writes its own table
        for side in order:
            if side == "app":
                elapsed, entered, exited = app_seconds(t1)
                apps.append(elapsed)
            else:
                limits.append(set_based_seconds(t0, t1))
        diff = differences()
        assert diff == 0, f"{diff} memberships differ"
        out(
            f"round {round_ + 1} ({' then '.join(order)}): refresh {apps[-1] * 1000:.0f} ms "
            f"({entered:,} entries, {exited:,} exits), hand-written {limits[-1] * 1000:.0f} ms; "
            "same memberships"
        )
    app, limit = statistics.median(apps), statistics.median(limits)
    out(f"incremental refresh of the built-in segments: median {app * 1000:.0f} ms")
    out(f"hand-written INSERT .. SELECT / UPDATE per segment: median {limit * 1000:.0f} ms")
    out(f"ratio refresh / hand-written: {app / limit:.2f} (goal <= 3; {rounds} rounds)")
    return app / limit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--changed", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3, help="refresh and SQL, alternating")
    args = parser.parse_args()

    from bench.postgres import ensure_database, use_database

    use_database("oscar_recovery_bench_segments")
    ensure_database()

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    run(args.contacts, args.changed, args.rounds)


if __name__ == "__main__":
    main()
