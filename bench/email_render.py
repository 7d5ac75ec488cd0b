"""Recovery emails rendered and sent per second on one core, against Oscar's own order
confirmation email, measured in one run (alternating rounds, so machine noise hits both).

    .venv/bin/python -m bench.email_render [--emails 300] [--rounds 4] [--postgres]

On a SQLite file by default (in WAL mode, as the sandbox runs it); ``--postgres`` runs on
the local PostgreSQL instead, in a database of its own (``oscar_recovery_bench_email``,
flushed first), as a shop at scale does.

Each recovery email has 5 basket lines and 4 recommendations (below the free-shipping
threshold, so the gap block shows), a restore link, an unsubscribe link, the CSS inlined,
the text part, and is sent to Django's in-memory backend. Figures:

- ``render+send``: from the loaded products to the sent email: context (formatting, links,
  tokens), templates, CSS inlining, sending (what the goal is about);
- ``build+send``: loading the products (lines and recommendations, priced by the strategy),
  then as render+send;
- ``pipeline``: the whole ``sending.send_batch`` (claims, the send-time checks, products and
  recommendations, voucher-less sends, status writes) over batches of ``--batch`` queued
  messages (``SEND_BATCH_SIZE``, as the Celery task ``oscar_recovery.send_messages`` gets them);
- ``oscar``: Oscar's ``OrderDispatcher.send_order_placed_email_for_user`` for a 5-line order.

Goals: >= 200 recovery emails per second per core; pipeline / oscar >= 1.0.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import timedelta
from decimal import Decimal


def setup(db_path: str, emails: int, postgres: bool = False):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    os.environ["BENCH_SQLITE"] = db_path
    if postgres:
        from bench.postgres import ensure_database, use_database

        use_database("oscar_recovery_bench_email")
        ensure_database()
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    if postgres:
        call_command("migrate", verbosity=0)
        call_command("flush", interactive=False, verbosity=0)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.OSCAR_RECOVERY_FREE_SHIPPING_THRESHOLD = Decimal("500.00")
    settings.OSCAR_RECOVERY_ADDRESS_COOLDOWN = timedelta(0)
    # Journeys are built below in bulk; capture would create them one by one.
    settings.OSCAR_RECOVERY_CAPTURE_ENABLED = False
    call_command("migrate", verbosity=0, run_syncdb=True)

    from django.utils import timezone
    from oscar.core.loading import get_model
    from oscar.test import factories

    from oscar_recovery.capture.snapshot import take_snapshot
    from oscar_recovery.constants import EmailSource, JourneyStatus
    from oscar_recovery.models import Campaign, CampaignStep, CartJourney, RecoveryMessage

    ProductRecommendation = get_model("catalogue", "ProductRecommendation")
    in_basket = [
        factories.create_product(title=f"Basket product {i}", price="12.00", num_in_stock=10**6)
        for i in range(5)
    ]
    for rank, i in enumerate(range(4)):
        extra = factories.create_product(title=f"Extra {i}", price="30.00", num_in_stock=10**6)
        ProductRecommendation.objects.create(
            primary=in_basket[0], recommendation=extra, ranking=rank
        )

    campaign = Campaign.objects.create(name="Bench", is_active=True, holdout_percent=0)
    step = CampaignStep.objects.create(
        campaign=campaign, position=1, delay=timedelta(hours=1), subject="Your basket"
    )
    now = timezone.now()
    journeys, baskets = [], []
    for i in range(emails * 2 + 1):
        basket = factories.create_basket(empty=True)
        for product in in_basket:
            basket.add_product(product, 1)
        baskets.append(basket)
        journeys.append(
            CartJourney(
                basket=basket,
                # One address each: only the newest journey per address is emailed.
                email=f"shopper{i}@example.com",
                email_source=EmailSource.CHECKOUT,
                status=JourneyStatus.ABANDONED,
                abandoned_at=now - timedelta(hours=2),
                created_at=now - timedelta(hours=3),
                last_activity_at=now - timedelta(hours=2),
                **take_snapshot(basket).as_journey_fields(),
            )
        )
    CartJourney.objects.bulk_create(journeys)
    messages = RecoveryMessage.objects.bulk_create(
        [
            RecoveryMessage(journey=journey, step=step, to_email=journey.email)
            for journey in journeys
        ]
    )
    order = factories.create_order(basket=baskets[-1], guest_email="shopper@example.com")
    return messages, order


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--emails", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--postgres", action="store_true", help="run on the local PostgreSQL")
    args = parser.parse_args()
    per_round = max(1, args.emails // args.rounds)
    with tempfile.TemporaryDirectory() as tmp:
        messages, order = setup(f"{tmp}/bench.sqlite3", per_round * args.rounds, args.postgres)
        from django.core import mail
        from oscar.core.loading import get_class

        from oscar_recovery.models import RecoveryMessage
        from oscar_recovery.sending import send as sending
        from oscar_recovery.sending.content import compose, load_email_products

        OrderDispatcher = get_class("order.utils", "OrderDispatcher")
        pipeline_ids = [m.pk for m in messages[: per_round * args.rounds]]
        compose_messages = list(
            RecoveryMessage.objects.select_related("journey__basket", "step__campaign", "variant")
            .filter(pk__in=[m.pk for m in messages[per_round * args.rounds :]])
            .order_by("pk")
        )
        products = load_email_products(compose_messages[0].journey)
        assert len(products.lines) == 5
        sample = compose(compose_messages[0], products)
        html = sample.alternatives[0][0]
        assert "Extra 0" in html, "recommendations missing"
        size_kb = len(html.encode()) / 1024
        rates: dict[str, list[float]] = {
            "render+send": [],
            "build+send": [],
            "pipeline": [],
            "oscar": [],
        }
        dispatcher = OrderDispatcher()
        context = {"order": order, "lines": order.lines.all(), "user": None}

        def timed(label: str, func) -> None:
            start = time.perf_counter()
            for _ in range(per_round):
                func()
            rates[label].append(per_round / (time.perf_counter() - start))

        def pipeline(round_: int) -> None:
            ids = pipeline_ids[round_ * per_round : (round_ + 1) * per_round]
            start = time.perf_counter()
            for i in range(0, len(ids), args.batch):
                sending.send_batch(ids[i : i + args.batch])
            rates["pipeline"].append(per_round / (time.perf_counter() - start))

        compose_iter = iter(compose_messages)
        loaded = iter([(m, load_email_products(m.journey)) for m in compose_messages])

        def render_and_send() -> None:
            compose(*next(loaded)).send()

        def build_and_send() -> None:
            message = next(compose_iter)
            compose(message, load_email_products(message.journey)).send()

        for round_ in range(args.rounds):
            timed("render+send", render_and_send)
            timed("build+send", build_and_send)
            pipeline(round_)
            timed("oscar", lambda: dispatcher.send_order_placed_email_for_user(order, context))
            mail.outbox.clear()
        sent = RecoveryMessage.objects.filter(status="sent").count()
        assert sent == per_round * args.rounds, f"only {sent} sent"

    median = {label: statistics.median(values) for label, values in rates.items()}
    print(f"HTML size with CSS inlined: {size_kb:.1f} KB")
    for label, value in median.items():
        print(f"{label:>13}: {value:8.1f} emails/s (median of {args.rounds} rounds)")
    for label in ("render+send", "build+send", "pipeline"):
        print(f"{label} / oscar order confirmation: {median[label] / median['oscar']:.2f}")


if __name__ == "__main__":
    main()
