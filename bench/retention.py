"""The retention purge on 1,000,000 rows in PostgreSQL, in batches, without long locks.

    .venv/bin/python -m bench.retention [--rows 1000000] [--batch 200]

Seeds journeys with their events, messages and tracking events (about 1,000,000 rows in
all, half older than the window) with bulk SQL, runs the purge as the Celery task would,
then checks that exactly the rows older than the window went. Prints rows per second and
the longest single batch (one transaction: the longest any lock is held). Uses its own
database, oscar_recovery_bench_retention, on the local PostgreSQL
(OSCAR_RECOVERY_PG_HOST/PORT/USER as for tests).
"""

from __future__ import annotations

import argparse
import time

from bench.postgres import ensure_database, insert_select, use_database

use_database("oscar_recovery_bench_retention")

# Per journey: 1 journey, 3 events, 1 message (every other journey: 2), 1 tracking event per
# message -> 1 + 3 + 1.5 + 1.5 = 7 rows.
ROWS_PER_JOURNEY = 7


def seed(journeys: int) -> None:
    """Journeys spread over 180 days of last activity, with their dependants."""
    from datetime import timedelta

    from django.db import connection

    from oscar_recovery.models import Campaign, CampaignStep, CartJourney

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE oscar_recovery_trackingevent, oscar_recovery_recoverymessage, "
            "oscar_recovery_cartjourneyevent, oscar_recovery_campaignenrolment, "
            "oscar_recovery_cartjourney RESTART IDENTITY CASCADE"
        )
    Campaign.objects.all().delete()
    campaign = Campaign.objects.create(name="Bench")
    steps = [
        CampaignStep.objects.create(
            campaign=campaign, position=i, delay=timedelta(hours=i), subject="s"
        ).pk
        for i in (1, 2)
    ]
    with connection.cursor() as cursor:
        day = "now() - (g %% 180) * interval '1 day'"
        journeys_sql = insert_select(
            CartJourney,
            {
                "email": "'shopper' || g || '@example.com'",
                "email_source": "'checkout'",
                "visitor_id": "md5(g::text)",
                "language": "'en-gb'",
                "lines": """'[{"title": "Coat", "quantity": 1}]'::jsonb""",
                "num_lines": "1",
                "num_items": "1",
                "total": "25.00",
                "currency": "'GBP'",
                "furthest_step": "20",
                "created_at": day,
                "last_activity_at": day,
                "status": "'expired'",
                "basket_reached_at": day,
            },
            "generate_series(1, %s) AS g",
        )
        cursor.execute(journeys_sql, [journeys])
        cursor.execute(
            """
            INSERT INTO oscar_recovery_cartjourneyevent (journey_id, kind, created_at, data)
            SELECT j.id, k.kind, j.last_activity_at, '{}'::jsonb
            FROM oscar_recovery_cartjourney j,
                 (VALUES ('email_captured'), ('abandoned'), ('expired')) AS k(kind)
            """
        )
        cursor.execute(
            """
            INSERT INTO oscar_recovery_recoverymessage (
                journey_id, step_id, status, skip_reason, error, to_email, esp_message_id,
                attempts, voucher_code, created_at, sent_at)
            SELECT j.id, s.step_id, 'delivered', '', '', j.email,
                   'esp-' || j.id || '-' || s.step_id, 1, '', j.last_activity_at,
                   j.last_activity_at
            FROM oscar_recovery_cartjourney j
            JOIN (VALUES (%s, 0), (%s, 1)) AS s(step_id, parity) ON j.id %% 2 >= s.parity
            """,
            steps,
        )
        cursor.execute(
            """
            INSERT INTO oscar_recovery_trackingevent (
                event_key, message_id, event_type, esp_name, occurred_at)
            SELECT md5(m.id::text), m.id, 'delivered', 'bench', m.sent_at
            FROM oscar_recovery_recoverymessage m
            """
        )
        cursor.execute("ANALYZE")


def counts(before=None) -> dict[str, int]:
    from django.db import connection

    tables = {
        "journeys": "oscar_recovery_cartjourney",
        "events": "oscar_recovery_cartjourneyevent",
        "messages": "oscar_recovery_recoverymessage",
        "tracking": "oscar_recovery_trackingevent",
    }
    result = {}
    with connection.cursor() as cursor:
        for name, table in tables.items():
            column = {
                "journeys": "last_activity_at",
                "events": "created_at",
                "messages": "created_at",
                "tracking": "occurred_at",
            }[name]
            where = "" if before is None else f" WHERE {column} < %s"
            cursor.execute(f"SELECT count(*) FROM {table}{where}", [before] if before else [])
            result[name] = cursor.fetchone()[0]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=200)
    args = parser.parse_args()
    ensure_database()
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from oscar_recovery.privacy import retention

    call_command("migrate", verbosity=0)
    journeys = args.rows // ROWS_PER_JOURNEY
    started = time.monotonic()
    seed(journeys)
    seeded = time.monotonic() - started
    total = counts()
    now = timezone.now()
    cutoff = retention.cutoff(now)
    old = counts(cutoff)
    print(f"seeded {sum(total.values()):,} rows ({total}) in {seeded:.1f} s")
    print(f"older than the window: {sum(old.values()):,} rows ({old})")

    started = time.monotonic()
    result = retention.purge_expired(now, batch_size=args.batch, max_batches=10**9)
    elapsed = time.monotonic() - started
    left = counts()
    expected = {name: total[name] - old[name] for name in total}
    print(
        f"purged {result.rows:,} rows ({result.journeys:,} journeys) in {elapsed:.1f} s: "
        f"{result.rows / elapsed:,.0f} rows/s in {result.batches} batches of {args.batch} "
        f"journeys"
    )
    print(
        f"longest batch (one transaction, the longest any lock is held): "
        f"{result.max_batch_seconds * 1000:.0f} ms; mean "
        f"{elapsed / max(result.batches, 1) * 1000:.0f} ms"
    )
    print(f"left: {left}; expected: {expected}; exact: {left == expected}")
    print(f"none left older than the window: {sum(counts(cutoff).values()) == 0}")


if __name__ == "__main__":
    main()
