"""The data migration that makes stored addresses canonical, on 1,000,000 journeys in
PostgreSQL, in batches by id range, without long locks.

    .venv/bin/python -m bench.canonical_migration [--rows 1000000] [--batch 5000]

Seeds journeys whose addresses are spelled as shoppers typed them before addresses were
canonical (55% already canonical, 20% in mixed case, 20% with an internationalised domain in
capitals, 5% with a soft hyphen, which cannot be made canonical), runs the migration's
function (:func:`oscar_recovery.contacts.backfill.canonicalise_addresses`) as migration 0021
does, then checks every row. Prints the total time, the longest single batch and the longest
update transaction (the longest any row lock is held; no lock is taken on the table). Uses
its own database, oscar_recovery_bench_canonical, on the local PostgreSQL
(OSCAR_RECOVERY_PG_HOST/PORT/USER as for tests).
"""

from __future__ import annotations

import argparse
import time

from bench.postgres import ensure_database, use_database

use_database("oscar_recovery_bench_canonical")


def seed(journeys: int) -> None:
    """``journeys`` rows, their addresses written past the model's canonical field."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE oscar_recovery_cartjourney RESTART IDENTITY CASCADE")
        cursor.execute(
            """
            INSERT INTO oscar_recovery_cartjourney (
                email, email_source, visitor_id, language, is_staff, is_bot, lines, num_lines,
                num_items, total, currency, vouchers, basket_frozen, furthest_step, created_at,
                last_activity_at, status, basket_reached_at, consent_basis, consent_text,
                consent_source, viewed, num_viewed, first_name)
            SELECT CASE
                       WHEN g %% 20 = 0 THEN 'shopper' || g || E'@exam\\u00adple.com'
                       WHEN g %% 10 IN (1, 2) THEN 'Shopper' || g || '@BÜCHER.de'
                       WHEN g %% 4 = 3 THEN 'Shopper' || g || '@Example.COM'
                       ELSE 'shopper' || g || '@example.com'
                   END,
                   'checkout', md5(g::text), 'en-gb', false,
                   false, '[{"title": "Coat", "quantity": 1}]'::jsonb, 1, 1, 25.00, 'GBP',
                   '[]'::jsonb, false, 20, now(), now(), 'abandoned', now(), '', '', '',
                   '[]'::jsonb, 0, ''
            FROM generate_series(1, %s) AS g
            """,
            [journeys],
        )
        cursor.execute("ANALYZE oscar_recovery_cartjourney")


def check() -> dict[str, int]:
    """Rows by what they hold now: canonical, or a kept spelling that cannot be."""
    from django.db import connection

    from oscar_recovery.contacts.addresses import safe_canonical_email

    found = {"canonical": 0, "kept": 0, "wrong": 0}
    with connection.cursor() as cursor:
        cursor.execute("SELECT email FROM oscar_recovery_cartjourney")
        for (email,) in cursor:
            canonical = safe_canonical_email(email)
            if not canonical:
                found["kept"] += 1
            elif canonical == email:
                found["canonical"] += 1
            else:
                found["wrong"] += 1
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=5000)
    args = parser.parse_args()
    ensure_database()
    import django

    django.setup()
    from django.core.management import call_command

    from oscar_recovery.contacts.backfill import canonicalise_addresses
    from oscar_recovery.models import CartJourney

    call_command("migrate", verbosity=0)
    started = time.monotonic()
    seed(args.rows)
    print(f"seeded {args.rows:,} journeys in {time.monotonic() - started:.1f} s")

    result = canonicalise_addresses(CartJourney, "email", batch_size=args.batch)
    print(
        f"migrated {result.rows:,} addresses in {result.total:.1f} s "
        f"({result.rows / max(result.total, 1e-9):,.0f} rows/s): {result.changed:,} rewritten, "
        f"{len(result.refused):,} kept (cannot be made canonical), "
        f"{result.batches} batches of {args.batch} ids"
    )
    print(
        f"longest batch (read, canonicalise, update): {result.longest_batch * 1000:.0f} ms; "
        f"mean {result.total / max(result.batches, 1) * 1000:.0f} ms"
    )
    print(
        f"longest update transaction (the longest any row lock is held; the table itself "
        f"is never locked): {result.longest_lock * 1000:.0f} ms"
    )
    again = canonicalise_addresses(CartJourney, "email", batch_size=args.batch)
    print(f"second run: {again.changed} rewritten in {again.total:.1f} s")
    print(f"rows now: {check()}")


if __name__ == "__main__":
    main()
