"""One sweep over 1,000,000 journeys in PostgreSQL, of which 10,000 are due.

    .venv/bin/python -m bench.sweep_scale [--journeys 1000000] [--due 10000]

Prints due journeys per second and the ratio of the sweep's time to a bare indexed SELECT
of the due rows (the least any sweep must do). Uses its own database, oscar_recovery_bench,
on the local PostgreSQL (OSCAR_RECOVERY_PG_HOST/PORT/USER as for the tests).
"""

from __future__ import annotations

import argparse
import time

from bench.postgres import ensure_database, use_database

use_database("oscar_recovery_bench")


def seed(journeys: int, due: int) -> None:
    """Rows in the shapes a busy shop has: mostly ended or abandoned, a few active."""
    from django.db import connection

    table = "oscar_recovery_cartjourney"
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {table} RESTART IDENTITY CASCADE")
        cursor.execute(
            f"""
            INSERT INTO {table} (
                email, email_source, visitor_id, language, is_staff, is_bot, lines, num_lines,
                num_items, total, currency, vouchers, basket_frozen, furthest_step, created_at,
                last_activity_at, status, basket_reached_at, viewed, num_viewed, consent_basis,
                consent_text, consent_source)
            SELECT 'shopper' || g || '@example.com', 'checkout', md5(g::text), 'en-gb', false,
                   false, '[]'::jsonb, 1, 1, 25.00, 'GBP', '[]'::jsonb, false, 10,
                   now() - interval '40 days', now() - (g %% 40) * interval '1 day'
                                               - interval '1 hour',
                   CASE WHEN g %% 3 = 0 THEN 'converted' WHEN g %% 3 = 1 THEN 'expired'
                        ELSE 'merged' END,
                   now() - interval '40 days', '[]'::jsonb, 0, '', '', ''
            FROM generate_series(1, %s) AS g
            """,
            [journeys - due - due],
        )
        # Active but still shopping (not due) and active and quiet (due).
        for count, quiet in ((due, "5 minutes"), (due, "2 hours")):
            cursor.execute(
                f"""
                INSERT INTO {table} (
                    email, email_source, visitor_id, language, is_staff, is_bot, lines,
                    num_lines, num_items, total, currency, vouchers, basket_frozen,
                    furthest_step, created_at, last_activity_at, status, basket_reached_at,
                    viewed, num_viewed, consent_basis, consent_text, consent_source)
                SELECT 'a' || g || '@example.com', 'checkout', md5(g::text), 'en-gb', false,
                       false, '[]'::jsonb, 1, 1, 25.00, 'GBP', '[]'::jsonb, false, 20,
                       now() - interval '1 day', now() - interval '{quiet}', 'active',
                       now() - interval '1 day', '[]'::jsonb, 0, '', '', ''
                FROM generate_series(1, %s) AS g
                """,
                [count],
            )
        cursor.execute(f"ANALYZE {table}")


def bare_select_seconds() -> float:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--journeys", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=10_000)
    args = parser.parse_args()
    ensure_database()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from oscar_recovery.constants import JourneyStatus
    from oscar_recovery.models import CartJourney
    from oscar_recovery.sweep.stages import mark_abandoned

    call_command("migrate", verbosity=0)
    start = time.perf_counter()
    seed(args.journeys, args.due)
    print(f"seeded {CartJourney.objects.count():,} journeys in {time.perf_counter() - start:.1f}s")
    with connection.cursor() as cursor:
        cursor.execute("SET jit = off")
    bare, found = bare_select_seconds()
    bare, found = min(bare, bare_select_seconds()[0]), found  # warm cache, best of two
    assert found == args.due, found

    from django.test.utils import override_settings

    with override_settings(OSCAR_RECOVERY_SWEEP_MAX_BATCHES=10_000):
        start = time.perf_counter()
        result = mark_abandoned()
        sweep = time.perf_counter() - start
    assert result.abandoned == args.due, result
    assert CartJourney.objects.filter(status=JourneyStatus.ABANDONED).count() == args.due
    print(f"bare indexed SELECT of the {found:,} due rows: {bare * 1000:.1f} ms")
    print(
        f"sweep marked {result.abandoned:,} abandoned in {result.batches} batches: "
        f"{sweep * 1000:.0f} ms = {result.abandoned / sweep:,.0f} due journeys/s"
    )
    print(f"ratio sweep / bare SELECT: {sweep / bare:.1f}")


if __name__ == "__main__":
    main()
