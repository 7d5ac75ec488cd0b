"""One sweep over 1,000,000 journeys in PostgreSQL, of which 10,000 are due.

    .venv/bin/python -m bench.sweep_scale [--journeys 1000000] [--due 10000] [--rounds 3]

Compares the sweep's abandon stage (``mark_abandoned``: claim batches, update, write one
timeline event per journey, announce each batch) with its limit: the same work done
set-based in one transaction, a single ``UPDATE .. RETURNING`` of the due rows feeding an
``INSERT .. SELECT`` of their events. Both start from the same state (the due rows put back
and the tables vacuumed before each side), in alternating order round by round, so machine
noise hits both. Prints due journeys per second and the ratio sweep / set-based (goal:
<= 3); a bare indexed SELECT of the due rows is printed for information only (it
writes nothing, so it is no limit for work that must write). Uses its own database,
oscar_recovery_bench, on the local PostgreSQL (OSCAR_RECOVERY_PG_HOST/PORT/USER as for the
tests).
"""

from __future__ import annotations

import argparse
import statistics
import time

from bench.postgres import ensure_database, insert_select, use_database

use_database("oscar_recovery_bench")


def seed(journeys: int, due: int) -> None:
    """Rows in the shapes a busy shop has: mostly ended or abandoned, a few active."""
    from django.db import connection

    from oscar_recovery.models import CartJourney

    table = CartJourney._meta.db_table
    series = "generate_series(1, %s) AS g"
    shape = {
        "email_source": "'checkout'",
        "visitor_id": "md5(g::text)",
        "language": "'en-gb'",
        "lines": "'[]'::jsonb",
        "num_lines": "1",
        "num_items": "1",
        "total": "25.00",
        "currency": "'GBP'",
        "vouchers": "'[]'::jsonb",
        "viewed": "'[]'::jsonb",
    }
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {table} RESTART IDENTITY CASCADE")
        ended = {
            **shape,
            "email": "'shopper' || g || '@example.com'",
            "furthest_step": "10",
            "created_at": "now() - interval '40 days'",
            "last_activity_at": "now() - (g %% 40) * interval '1 day' - interval '1 hour'",
            "status": "CASE WHEN g %% 3 = 0 THEN 'converted' WHEN g %% 3 = 1 THEN 'expired'"
            " ELSE 'merged' END",
            "basket_reached_at": "now() - interval '40 days'",
        }
        cursor.execute(insert_select(CartJourney, ended, series), [journeys - due - due])
        # Active but still shopping (not due) and active and quiet (due).
        for count, quiet in ((due, "5 minutes"), (due, "2 hours")):
            active = {
                **shape,
                "email": "'a' || g || '@example.com'",
                "furthest_step": "20",
                "created_at": "now() - interval '1 day'",
                "last_activity_at": f"now() - interval '{quiet}'",
                "status": "'active'",
                "basket_reached_at": "now() - interval '1 day'",
            }
            cursor.execute(insert_select(CartJourney, active, series), [count])
        cursor.execute(f"ANALYZE {table}")


def bare_select_seconds() -> tuple[float, int]:
    from django.db import connection
    from django.utils import timezone

    from oscar_recovery import app_settings

    cutoff = timezone.now() - app_settings.ABANDON_AFTER
    start = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM oscar_recovery_cartjourney WHERE status = 'active'"
            " AND last_activity_at < %s AND num_items > 0",
            [cutoff],
        )
        rows = cursor.fetchall()
    elapsed = time.perf_counter() - start
    return elapsed, len(rows)


def restore() -> None:
    """Put the due rows back as the seed left them (a sweep or the set-based statement has
    marked them abandoned), drop their events, and vacuum, so each side starts alike."""
    from django.db import connection

    from oscar_recovery.constants import JourneyStatus
    from oscar_recovery.models import CartJourney, CartJourneyEvent

    journeys, events = CartJourney._meta.db_table, CartJourneyEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {journeys} SET status = %s, abandoned_at = NULL WHERE status = %s",
            [JourneyStatus.ACTIVE, JourneyStatus.ABANDONED],
        )
        cursor.execute(f"TRUNCATE {events}")
        cursor.execute(f"VACUUM ANALYZE {journeys}")
        cursor.execute(f"VACUUM ANALYZE {events}")


def set_based_seconds(now) -> tuple[float, int]:
    """The abandon stage's writes as one statement in one transaction: the rows and columns
    ``mark_abandoned`` writes (status and ``abandoned_at`` on the journey, one ``abandoned``
    event with empty data per journey), selected by the same due condition."""
    from django.db import connection, transaction

    from oscar_recovery import app_settings
    from oscar_recovery.constants import JourneyEventKind, JourneyStatus
    from oscar_recovery.models import CartJourney, CartJourneyEvent

    params = {
        "now": now,
        "cutoff": now - app_settings.ABANDON_AFTER,
        "active": JourneyStatus.ACTIVE,
        "abandoned": JourneyStatus.ABANDONED,
        "kind": JourneyEventKind.ABANDONED,
    }
    start = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH due AS (
                UPDATE {CartJourney._meta.db_table}
                SET status = %(abandoned)s, abandoned_at = %(now)s
                WHERE status = %(active)s AND last_activity_at < %(cutoff)s
                      AND (num_items > 0 OR (num_viewed > 0 AND email <> ''))
                RETURNING id)
            INSERT INTO {CartJourneyEvent._meta.db_table} (journey_id, kind, created_at, data)
            SELECT id, %(kind)s, %(now)s, '{{}}'::jsonb FROM due
            """,
            params,
        )
        written = cursor.rowcount
    return time.perf_counter() - start, written


def sweep_seconds(due: int, now) -> tuple[float, int]:
    from django.test.utils import override_settings

    from oscar_recovery.constants import JourneyEventKind, JourneyStatus
    from oscar_recovery.models import CartJourney, CartJourneyEvent
    from oscar_recovery.sweep.stages import mark_abandoned

    with override_settings(OSCAR_RECOVERY_SWEEP_MAX_BATCHES=10_000):
        start = time.perf_counter()
        result = mark_abandoned(now)
        elapsed = time.perf_counter() - start
    assert result.abandoned == due, result
    assert CartJourney.objects.filter(status=JourneyStatus.ABANDONED).count() == due
    assert CartJourneyEvent.objects.filter(kind=JourneyEventKind.ABANDONED).count() == due
    return elapsed, result.batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--journeys", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3, help="sweep and set-based, alternating")
    args = parser.parse_args()
    ensure_database()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from oscar_recovery.models import CartJourney

    call_command("migrate", verbosity=0)
    start = time.perf_counter()
    seed(args.journeys, args.due)
    print(f"seeded {CartJourney.objects.count():,} journeys in {time.perf_counter() - start:.1f}s")
    with connection.cursor() as cursor:
        cursor.execute("SET jit = off")
    bare, found = bare_select_seconds()
    bare, found = min(bare, bare_select_seconds()[0]), found  # warm cache, best of two
    assert found == args.due, found

    # Both sides judge "due" at the seed's time: a long run must not let the journeys that
    # are still shopping fall due between rounds.
    now = timezone.now()
    sweeps: list[float] = []
    set_based: list[float] = []
    batches = 0
    for round_ in range(args.rounds):
        order = ("sweep", "set") if round_ % 2 == 0 else ("set", "sweep")
        for side in order:
            restore()
            if side == "sweep":
                elapsed, batches = sweep_seconds(args.due, now)
                sweeps.append(elapsed)
            else:
                elapsed, written = set_based_seconds(now)
                assert written == args.due, written
                set_based.append(elapsed)
        print(
            f"round {round_ + 1} ({' then '.join(order)}): sweep {sweeps[-1] * 1000:.0f} ms, "
            f"set-based {set_based[-1] * 1000:.0f} ms",
            flush=True,
        )
    restore()
    sweep, limit = statistics.median(sweeps), statistics.median(set_based)
    print(f"bare indexed SELECT of the {found:,} due rows: {bare * 1000:.1f} ms (information)")
    print(
        f"set-based UPDATE..RETURNING + INSERT..SELECT of the {args.due:,} due rows: median "
        f"{limit * 1000:.0f} ms = {args.due / limit:,.0f} due journeys/s"
    )
    print(
        f"sweep (abandon stage) marked {args.due:,} abandoned in {batches} batches: median "
        f"{sweep * 1000:.0f} ms = {args.due / sweep:,.0f} due journeys/s"
    )
    print(f"ratio sweep / set-based: {sweep / limit:.2f} (goal <= 3; {args.rounds} rounds)")
    print(f"ratio sweep / bare SELECT: {sweep / bare:.1f} (information)")


if __name__ == "__main__":
    main()
