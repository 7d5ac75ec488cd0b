"""What outgoing webhooks cost the sweep, and how fast one worker delivers, on PostgreSQL.

    .venv/bin/python -m bench.webhook_fanout [--due 10000] [--deliveries 300]

1. The sweep marks ``--due`` quiet journeys abandoned, once with no webhook endpoint and
   once with one subscribed to ``basket.abandoned`` (the event task runs inline: payloads
   built and delivery rows inserted; handing them to the broker is left out). Prints due
   journeys per second for both and their ratio.
2. One process delivers ``--deliveries`` events to a local HTTP server (signing, the POST,
   the attempt log): deliveries per second.

Uses its own database, oscar_recovery_bench_webhooks, on the local PostgreSQL.
"""

from __future__ import annotations

import argparse
import time

from bench.postgres import ensure_database, use_database

use_database("oscar_recovery_bench_webhooks")


def setup_django() -> None:
    ensure_database()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def seed(due: int) -> None:
    from datetime import timedelta

    from django.db import connection

    from oscar_recovery.models import WebhookDelivery
    from tests.support.factories import journey_row

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE oscar_recovery_cartjourney RESTART IDENTITY CASCADE")
    WebhookDelivery.objects.all().delete()
    from oscar_recovery.models import CartJourney

    lines = [
        {
            "product_id": n,
            "title": f"Product {n}",
            "upc": f"P-{n}",
            "quantity": 1,
            "unit_price": "12.50",
            "line_total": "12.50",
        }
        for n in range(3)
    ]
    CartJourney.objects.bulk_create(
        [journey_row(quiet_for=timedelta(hours=1), lines=lines, num_lines=3) for _ in range(due)],
        batch_size=5000,
    )


def timed_sweep() -> float:
    from oscar_recovery.sweep.stages import mark_abandoned

    started = time.perf_counter()
    result = mark_abandoned()
    elapsed = time.perf_counter() - started
    assert result.abandoned > 0, result
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--deliveries", type=int, default=300)
    args = parser.parse_args()
    setup_django()

    from django.conf import settings

    from oscar_recovery import outgoing_webhooks
    from oscar_recovery.constants import DeliveryStatus, WebhookEvent
    from oscar_recovery.models import WebhookDelivery, WebhookEndpoint
    from tests.support.celery_app import app
    from tests.support.hook_server import HookServer

    app.set_current()
    app.conf.task_always_eager = True
    settings.OSCAR_RECOVERY_WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True
    outgoing_webhooks.events.enqueue = lambda ids: None  # the broker hand-over is not measured
    WebhookEndpoint.objects.all().delete()

    seed(args.due)
    without = timed_sweep()

    server = HookServer().start()
    endpoint = WebhookEndpoint.objects.create(
        name="bench", url=server.url, events=[WebhookEvent.BASKET_ABANDONED]
    )
    seed(args.due)
    with_endpoint = timed_sweep()
    created = WebhookDelivery.objects.filter(endpoint=endpoint).count()
    assert created == args.due, created

    ids = list(WebhookDelivery.objects.order_by("pk").values_list("pk", flat=True))
    ids = ids[: args.deliveries]
    started = time.perf_counter()
    for pk in ids:
        outgoing_webhooks.deliver(pk)
    delivering = time.perf_counter() - started
    server.stop()
    ok = WebhookDelivery.objects.filter(pk__in=ids, status=DeliveryStatus.SUCCEEDED).count()

    print(f"sweep, no endpoint:       {args.due / without:10.0f} due journeys/s")
    print(f"sweep, 1 endpoint:        {args.due / with_endpoint:10.0f} due journeys/s")
    print(f"ratio (with / without):   {with_endpoint / without:10.2f}x the time")
    print(f"deliveries, one process:  {len(ids) / delivering:10.0f} /s ({ok}/{len(ids)} ok)")


if __name__ == "__main__":
    main()
