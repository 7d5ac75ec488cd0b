"""The migrations after the canonical addresses (restored copies, daily figures, contacts)
on 1,000,000 journeys in PostgreSQL, while a shop keeps writing.

    .venv/bin/python -m bench.contacts_migration [--rows 1000000] [--link-batches 5]

Seeds ``--rows`` journeys (a third with an address, one in ten with a consent decision,
one in twenty of a customer account) at the migration before the contacts ones, then applies
each contacts migration in turn while a writer thread updates random journeys as capture
does (one short transaction every 5 ms). Prints each migration's time and the writer's
longest wait during it: how long the journey table was held from a shop's request. Then
times the sweep's linking of the backlog (``contacts.identity.link_journeys``), the one
step of the upgrade that grows with the data and runs batch by batch after it.

Uses its own database, oscar_recovery_bench_contacts, on the local PostgreSQL
(OSCAR_RECOVERY_PG_HOST/PORT/USER as for tests).
"""

from __future__ import annotations

import argparse
import random
import threading
import time

from bench.postgres import ensure_database, use_database

use_database("oscar_recovery_bench_contacts")

BEFORE = "0021_canonical_addresses"  # its own bench: bench.canonical_migration
STEPS = [
    "0022_journey_restored_from",
    "0023_dailystat_emailed",
    "0024_incentive_name_shown_to_shoppers",
    "0025_contacts_and_consent_ledger",
    "0026_consent_ledger_backfill",
    "0027_sweep_cursor_and_unlinked_index",
]


def migrate(target: str) -> None:
    from django.core.management import call_command

    call_command("migrate", "oscar_recovery", target, verbosity=0)


def seed(rows: int) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE oscar_recovery_cartjourney RESTART IDENTITY CASCADE")
        cursor.execute("DELETE FROM auth_user WHERE username LIKE 'bench%%'")
        cursor.execute(
            """
            INSERT INTO auth_user (password, is_superuser, username, first_name, last_name,
                                   email, is_staff, is_active, date_joined)
            SELECT '!', false, 'bench' || g, 'Ada', '', 'user' || g || '@example.com',
                   false, true, now()
            FROM generate_series(1, %s) AS g
            """,
            [max(1, rows // 20)],
        )
        cursor.execute("SELECT min(id) FROM auth_user WHERE username LIKE 'bench%%'")
        first_user = cursor.fetchone()[0]
        cursor.execute(
            """
            INSERT INTO oscar_recovery_cartjourney (
                email, email_source, visitor_id, language, is_staff, is_bot, lines, num_lines,
                num_items, total, currency, vouchers, basket_frozen, furthest_step, created_at,
                last_activity_at, status, basket_reached_at, consent_basis, consent_text,
                consent_source, consent_given, consent_at, viewed, num_viewed, first_name,
                user_id)
            SELECT CASE WHEN g %% 3 = 0 THEN 'shopper' || (g %% 200000) || '@example.com'
                        ELSE '' END,
                   CASE WHEN g %% 3 = 0 THEN 'checkout' ELSE '' END,
                   md5((g %% 400000)::text), 'en-gb', false, false,
                   '[{"title": "Coat", "quantity": 1}]'::jsonb, 1, 1, 25.00, 'GBP',
                   '[]'::jsonb, false, 20, now() - (g || ' seconds')::interval,
                   now() - (g || ' seconds')::interval, 'abandoned', now(),
                   CASE WHEN g %% 30 = 0 THEN 'soft_opt_in' ELSE '' END,
                   CASE WHEN g %% 30 = 0 THEN 'We may remind you.' ELSE '' END,
                   CASE WHEN g %% 30 = 0 THEN 'checkout' ELSE '' END,
                   CASE WHEN g %% 30 = 0 THEN (g %% 60 = 0) END,
                   CASE WHEN g %% 30 = 0 THEN now() END,
                   '[]'::jsonb, 0, '',
                   CASE WHEN g %% 20 = 0 THEN %s + (g / 20) %% %s END
            FROM generate_series(1, %s) AS g
            """,
            [first_user, max(1, rows // 20), rows],
        )
        cursor.execute("ANALYZE oscar_recovery_cartjourney")


class Writer(threading.Thread):
    """A shop's capture: one short UPDATE of a random journey every 5 ms; keeps the
    longest time one took."""

    def __init__(self, rows: int):
        super().__init__(daemon=True)
        self.rows, self.longest, self.stop = rows, 0.0, threading.Event()

    def run(self) -> None:
        import os

        import psycopg

        with psycopg.connect(
            host=os.environ.get("OSCAR_RECOVERY_PG_HOST", "127.0.0.1"),
            port=os.environ.get("OSCAR_RECOVERY_PG_PORT", "5432"),
            user=os.environ.get("OSCAR_RECOVERY_PG_USER", "postgres"),
            dbname=os.environ["OSCAR_RECOVERY_PG_NAME"],
            autocommit=True,
        ) as conn:
            while not self.stop.is_set():
                start = time.perf_counter()
                conn.execute(
                    "UPDATE oscar_recovery_cartjourney SET last_activity_at = now() WHERE id = %s",
                    [random.randint(1, self.rows)],
                )
                self.longest = max(self.longest, time.perf_counter() - start)
                time.sleep(0.005)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--link-batches", type=int, default=5)
    args = parser.parse_args()
    ensure_database()
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from oscar_recovery.contacts import identity
    from oscar_recovery.models import ConsentEvent

    call_command("migrate", verbosity=0)
    migrate(BEFORE)
    t0 = time.perf_counter()
    seed(args.rows)
    print(f"seeded {args.rows:,} journeys in {time.perf_counter() - t0:.1f} s")
    print(f"{'migration':40} {'time s':>8} {'writer waited at most s':>24}")
    for step in STEPS:
        writer = Writer(args.rows)
        writer.start()
        t0 = time.perf_counter()
        migrate(step)
        took = time.perf_counter() - t0
        writer.stop.set()
        writer.join()
        print(f"{step:40} {took:8.2f} {writer.longest:24.3f}")
    print(f"consent events carried over: {ConsentEvent.objects.count():,}")
    size = getattr(settings, "OSCAR_RECOVERY_SWEEP_BATCH_SIZE", 1000)
    linked, t0 = 0, time.perf_counter()
    for _ in range(args.link_batches):
        linked += identity.link_journeys().journeys
    took = time.perf_counter() - t0
    print(
        f"sweep linking: {linked:,} journeys in {took:.1f} s ({linked / took:,.0f} journeys/s,"
        f" batches of {size}); the backlog of {args.rows // 3:,} identified journeys takes"
        f" about {args.rows / 3 / max(linked / took, 1) / 60:.0f} min of sweep time"
    )


if __name__ == "__main__":
    main()
