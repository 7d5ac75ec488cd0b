"""The recovery dashboard over 1,000,000 journeys in PostgreSQL.

    .venv/bin/python -m bench.dashboard [--journeys 1000000] [--days 365] [--requests 20]

Seeds its own database, oscar_recovery_bench_dashboard (OSCAR_RECOVERY_PG_HOST/PORT/USER as
for the tests), with
bulk SQL: journeys spread over ``--days`` days, 70 % abandoned, enrolments, one email per
emailed journey (a tenth clicked), orders converted and recovered. Then it runs the daily
aggregation over all days and measures the overview page as staff see it (the whole request:
view, reports and template), for the last 30 days and for the whole year. Prints times and
their ratio to the 500 ms goal, and the ratio to the same headline counts taken from the raw
tables (what the page would cost without pre-aggregation).
"""

from __future__ import annotations

import argparse
import io
import statistics
import time

from bench.postgres import ensure_database, insert_select, use_database

use_database("oscar_recovery_bench_dashboard")

GOAL_MS = 500.0


def seed(journeys: int, days: int) -> dict:
    """Rows as a busy shop has them; returns how many of each were written."""
    from datetime import timedelta

    from django.db import connection, transaction

    from oscar_recovery.models import Campaign, CampaignStep, CartJourney, StepVariant

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE oscar_recovery_dailystat, oscar_recovery_dailyproductstat, "
            "oscar_recovery_recoverymessage, oscar_recovery_campaignenrolment, "
            "oscar_recovery_cartjourney, oscar_recovery_stepvariant, "
            "oscar_recovery_campaignstep, oscar_recovery_campaign, order_order "
            "RESTART IDENTITY CASCADE"
        )
    steps = []
    for index in (1, 2):
        campaign = Campaign.objects.create(name=f"Campaign {index}", is_active=True)
        steps.append(
            CampaignStep.objects.create(
                campaign=campaign, position=1, delay=timedelta(hours=1), subject="Come back"
            )
        )
    variant = StepVariant.objects.create(step=steps[0], label="B", subject="Still yours?")
    params = {
        "n": journeys,
        "days": days,
        "c1": steps[0].campaign_id,
        "c2": steps[1].campaign_id,
        "s1": steps[0].pk,
        "s2": steps[1].pk,
        "variant": variant.pk,
    }
    journeys = insert_select(
        CartJourney,
        {
            "id": "g",
            "email": "CASE WHEN has_email THEN 'shopper' || g || '@example.com' ELSE '' END",
            "email_source": "CASE WHEN has_email THEN 'checkout' ELSE '' END",
            "visitor_id": "md5(g::text)",
            "language": "'en-gb'",
            "lines": "jsonb_build_array(jsonb_build_object('product_id', g %% 500, 'title', "
            "'Product ' || (g %% 500), 'quantity', 1, 'unit_price', '25.00', "
            "'line_total', '25.00'))",
            "num_lines": "1",
            "num_items": "1",
            "total": "25.00",
            "currency": "'GBP'",
            "furthest_step": "CASE WHEN ordered THEN 60 "
            "ELSE (ARRAY[10, 20, 30, 40, 50, 60])[g %% 6 + 1] END",
            "basket_reached_at": "created",
            "created_at": "created",
            "last_activity_at": "created + interval '3 hours'",
            "status": "CASE WHEN recovered THEN 'recovered' WHEN ordered THEN 'converted' "
            "WHEN kind < 7 THEN 'abandoned' ELSE 'active' END",
            "abandoned_at": "CASE WHEN kind < 7 THEN created + interval '1 hour' END",
            "ended_at": "CASE WHEN ordered THEN created + interval '3 hours' END",
            "order_id": "CASE WHEN ordered THEN g END",
            "order_total": "CASE WHEN ordered THEN 50.00 END",
            "attributed_message_id": "CASE WHEN recovered THEN g END",
        },
        "seed",
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            CREATE TEMP TABLE seed ON COMMIT DROP AS
            SELECT g, g %% 10 AS kind, g %% 5 <> 0 AS has_email,
                   (g / 10) %% 10 = 0 AS holdout, (g / 7) %% 10 = 0 AS clicked,
                   (g / 3) %% 3 = 0 AS buys_after_click, g %% 8 = 0 AS holdout_buys,
                   date_trunc('day', now()) - (g %% %(days)s) * interval '1 day'
                       + (g %% 720) * interval '1 minute' AS created
            FROM generate_series(1, %(n)s) AS g;
            ALTER TABLE seed ADD COLUMN enrolled boolean, ADD COLUMN recovered boolean,
                ADD COLUMN ordered boolean;
            UPDATE seed SET enrolled = kind < 7 AND has_email;
            UPDATE seed SET recovered = enrolled AND NOT holdout AND clicked AND buys_after_click;
            UPDATE seed SET ordered = kind IN (7, 8) OR recovered
                                      OR (enrolled AND holdout AND holdout_buys);

            INSERT INTO order_order (id, number, currency, total_incl_tax, total_excl_tax,
                shipping_incl_tax, shipping_excl_tax, shipping_method, shipping_code, status,
                guest_email, date_placed, analytics_tracked)
            SELECT g, 'B' || g, 'GBP', 50, 50, 0, 0, 'Free', 'free', 'Pending', '',
                   created + interval '3 hours', false
            FROM seed WHERE ordered;

            """
            + journeys
            + """;

            INSERT INTO oscar_recovery_campaignenrolment (journey_id, campaign_id, is_holdout,
                status, stop_reason, enrolled_at)
            SELECT g, CASE WHEN g %% 2 = 0 THEN %(c1)s ELSE %(c2)s END, holdout, 'completed', '',
                   created + interval '1 hour'
            FROM seed WHERE enrolled;

            INSERT INTO oscar_recovery_recoverymessage (id, journey_id, step_id, variant_id,
                status, skip_reason, error, to_email, esp_message_id, attempts, voucher_code,
                created_at, sent_at, delivered_at, opened_at, clicked_at)
            SELECT g, g, CASE WHEN g %% 2 = 0 THEN %(s1)s ELSE %(s2)s END,
                   CASE WHEN g %% 2 = 0 AND g %% 4 = 0 THEN %(variant)s END,
                   CASE WHEN clicked THEN 'clicked' ELSE 'delivered' END, '', '',
                   'shopper' || g || '@example.com', 'esp-' || g, 1, '',
                   created + interval '2 hours', created + interval '2 hours',
                   CASE WHEN g %% 20 <> 0 THEN created + interval '2 hours 1 minute' END,
                   CASE WHEN g %% 3 = 0 THEN created + interval '2 hours 30 minutes' END,
                   CASE WHEN clicked THEN created + interval '2 hours 40 minutes' END
            FROM seed WHERE enrolled AND NOT holdout;
            """,
            params,
        )
        for table in (
            "oscar_recovery_cartjourney",
            "oscar_recovery_recoverymessage",
            "order_order",
        ):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 1) FROM {table}))"
            )
    with connection.cursor() as cursor:
        counts = {}
        for table in (
            "oscar_recovery_cartjourney",
            "oscar_recovery_campaignenrolment",
            "oscar_recovery_recoverymessage",
            "order_order",
        ):
            cursor.execute(f"ANALYZE {table}")
            cursor.execute(f"SELECT count(*) FROM {table}")
            counts[table.rsplit("_", 1)[-1]] = cursor.fetchone()[0]
    return counts


def time_requests(client, url: str, query: dict, requests: int) -> list[float]:
    client.get(url, query)  # warm-up: template loading, first connection
    timings = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(url, query)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    return timings


def raw_headline_ms(start, end) -> float:
    """The overview's headline counts straight from the raw tables, for comparison."""
    from django.db.models import Count, Q, Sum

    from oscar_recovery.models import CampaignEnrolment, RecoveryMessage
    from oscar_recovery.reporting.aggregation import day_bounds, reporting_journeys

    low, high = day_bounds(start, end)
    started = time.perf_counter()
    reporting_journeys().filter(created_at__gte=low, created_at__lt=high).aggregate(
        n=Count("pk"), ordered=Count("pk", filter=Q(order__isnull=False))
    )
    reporting_journeys().filter(abandoned_at__gte=low, abandoned_at__lt=high).aggregate(
        n=Count("pk"), identified=Count("pk", filter=~Q(email="")), value=Sum("total")
    )
    RecoveryMessage.objects.filter(sent_at__gte=low, sent_at__lt=high).aggregate(
        n=Count("pk"), clicked=Count("pk", filter=Q(clicked_at__isnull=False))
    )
    reporting_journeys().filter(status="recovered", ended_at__gte=low, ended_at__lt=high).aggregate(
        n=Count("pk"), revenue=Sum("order_total")
    )
    CampaignEnrolment.objects.filter(enrolled_at__gte=low, enrolled_at__lt=high).aggregate(
        n=Count("pk"), ordered=Count("pk", filter=Q(journey__order__isnull=False))
    )
    return (time.perf_counter() - started) * 1000


def aggregate(days: int) -> None:
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("recovery_aggregate", "--all", "--chunk-days", "31", stdout=io.StringIO())
    aggregate_s = time.perf_counter() - started
    started = time.perf_counter()
    call_command("recovery_aggregate", stdout=io.StringIO())
    window_s = time.perf_counter() - started
    started = time.perf_counter()
    call_command("recovery_aggregate", "--days", "2", stdout=io.StringIO())
    recent_s = time.perf_counter() - started
    print(
        f"aggregation: all {days} days in {aggregate_s:.1f} s "
        f"({aggregate_s / days * 1000:.0f} ms per day); the hourly run "
        f"(OSCAR_RECOVERY_STATS_RECOMPUTE_DAYS) in {window_s * 1000:.0f} ms, "
        f"the 15-minute run (2 days) in {recent_s * 1000:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--journeys", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--skip-seed", action="store_true", help="reuse the seeded database")
    parser.add_argument(
        "--skip-aggregate", action="store_true", help="reuse the aggregated figures too"
    )
    args = parser.parse_args()

    ensure_database()
    import django

    django.setup()
    from datetime import timedelta

    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.urls import reverse
    from django.utils import timezone
    from oscar.test import factories

    setup_test_environment()  # the test client's ALLOWED_HOSTS and template signals
    call_command("migrate", verbosity=0)
    if not args.skip_seed:
        started = time.perf_counter()
        counts = seed(args.journeys, args.days)
        print(f"seeded in {time.perf_counter() - started:.1f} s: {counts}")

    if not args.skip_aggregate:
        aggregate(args.days)

    from django.contrib.auth import get_user_model

    staff = get_user_model().objects.filter(email="bench-staff@example.com").first()
    staff = staff or factories.UserFactory(is_staff=True, email="bench-staff@example.com")
    # The dashboard's pages ask for view permissions beyond is_staff: a superuser has them.
    staff.is_superuser = True
    staff.save(update_fields=["is_superuser"])
    client = Client()
    client.force_login(staff)
    url = reverse("recovery_dashboard:recovery-overview")
    today = timezone.localdate()
    for label, days in (("30 days", 30), (f"{args.days} days", args.days)):
        start = today - timedelta(days=days - 1)
        query = {"start": start.isoformat(), "end": today.isoformat()}
        timings = time_requests(client, url, query, args.requests)
        median = statistics.median(timings)
        p95 = sorted(timings)[max(0, int(len(timings) * 0.95) - 1)]
        raw = statistics.median(raw_headline_ms(start, today) for _ in range(3))
        print(
            f"overview, {label}: median {median:.0f} ms, p95 {p95:.0f} ms over "
            f"{args.requests} requests = {median / GOAL_MS:.2f} of the {GOAL_MS:.0f} ms goal; "
            f"raw-table headline counts alone {raw:.0f} ms = {raw / median:.1f}x the whole page"
        )
    from oscar_recovery.models import CartJourney

    list_url = reverse("recovery_dashboard:recovery-basket-list")
    journey = CartJourney.objects.filter(status="recovered").order_by("-pk").first()
    detail_url = reverse("recovery_dashboard:recovery-basket-detail", args=[journey.pk])
    for label, page, query in (
        ("abandoned baskets list, page 1", list_url, {}),
        ("abandoned baskets list, filtered", list_url, {"status": "abandoned", "step": "30"}),
        ("basket detail", detail_url, {}),
    ):
        median = statistics.median(time_requests(client, page, query, args.requests))
        print(f"{label}: median {median:.0f} ms = {median / GOAL_MS:.2f} of {GOAL_MS:.0f} ms")


if __name__ == "__main__":
    main()
