"""The real send path on PostgreSQL and Redis: sweep -> enrol -> dispatch -> sent, through 1,
2 and 4 Celery worker processes.

    .venv/bin/python -m bench.send_path [--journeys 10000] [--workers 1,2,4] [--reuse]

Seeds its own database, oscar_recovery_bench_send (OSCAR_RECOVERY_PG_HOST/PORT/USER as for
the tests), with ``--journeys`` quiet, identified baskets (one distinct address each, two
lines of real Oscar products with stock and prices) and the default campaign, active, no
holdout, its first step due at abandonment. Then, for each worker count N:

1. every journey is put back to active and quiet, with no enrolment, message or event;
2. N ``celery worker`` processes start (``--pool=solo``, one process each) on a queue of
   this run, on the bench's Redis database (``--redis``, not the tests' index 15), with the
   bench settings and an ESP that takes every email instantly (``bench.mail``); the clock
   starts once all of them answer a ping;
3. one sweep (``run_sweep``, what the ``recovery_sweep`` command and the
   ``oscar_recovery.sweep`` task run) marks them abandoned, enrols them, dispatches the due
   step and hands the messages to Celery; the workers send them;
4. the clock stops when every message is ``sent`` in the database (polled).

Prints, per N: the sweep's time, the time until all were sent, emails per second end to end
and of the sending phase alone (after the sweep returned), and both as a ratio to N=1; with
the CPU count and the load average, because on a shared machine the ratios mean more than
the rates. Drives only public entry points, so it keeps measuring when the pipeline changes.

Reading the scaling: each worker waits on PostgreSQL for most of a send (about twenty
queries), so more workers overlap those waits, until the CPUs are busy; with PostgreSQL,
Redis and the workers on one 2-core machine that is at about 2 busy processes, and what is
left is the sweep, which runs alone before the first email goes out. On a machine shared with
other work, more processes also take a larger share of it: compare ratios within one run,
at similar load averages.
"""

from __future__ import annotations

import argparse
import atexit
import os
import signal
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from bench.postgres import ensure_database, use_database
from tests.support.workers import Worker, start_worker, stop_workers, worker_env

use_database("oscar_recovery_bench_send")

#: The bench's own Redis database: the test suite uses index 15.
DEFAULT_REDIS = "redis://127.0.0.1:6379/12"
PRODUCTS = 20
QUIET_FOR_HOURS = 2


@dataclass
class Round:
    workers: int
    sweep_s: float
    total_s: float
    sent: int
    load: float

    @property
    def rate(self) -> float:
        return self.sent / self.total_s

    @property
    def send_rate(self) -> float:
        return self.sent / max(self.total_s - self.sweep_s, 1e-9)


# -- Seeding ---------------------------------------------------------------------------------


def seed(journeys: int) -> None:
    """A flushed database with products, the default campaign and ``journeys`` baskets."""
    from datetime import timedelta
    from decimal import Decimal

    from django.core.management import call_command
    from oscar.test import factories

    from oscar_recovery.campaigns.install import install_defaults
    from oscar_recovery.constants import EmailSource
    from oscar_recovery.models import Campaign, CampaignStep, CartJourney
    from tests.support.factories import journey_row

    call_command("flush", interactive=False, verbosity=0)
    products = [
        factories.create_product(title=f"Product {n}", price=f"{10 + n}.00", num_in_stock=10**7)
        for n in range(PRODUCTS)
    ]
    campaign = install_defaults(activate=True)
    Campaign.objects.filter(pk=campaign.pk).update(holdout_percent=0)
    CampaignStep.objects.filter(campaign=campaign, position=1).update(delay=timedelta(0))

    rows = []
    for n in range(journeys):
        pair = (products[n % PRODUCTS], products[(n * 7 + 3) % PRODUCTS])
        lines = [
            {
                "product_id": product.pk,
                "title": product.title,
                "upc": product.upc,
                "quantity": 1,
                "unit_price": str(product.stockrecords.first().price),
                "line_total": str(product.stockrecords.first().price),
            }
            for product in pair
        ]
        rows.append(
            journey_row(
                quiet_for=timedelta(hours=QUIET_FOR_HOURS),
                email=f"shopper{n}@example.com",
                email_source=EmailSource.CHECKOUT,
                language="en-gb",
                lines=lines,
                num_lines=2,
                num_items=2,
                total=sum(Decimal(line["line_total"]) for line in lines),
            )
        )
    CartJourney.objects.bulk_create(rows, batch_size=1000)


def seeded(journeys: int) -> bool:
    from oscar_recovery.models import Campaign, CartJourney

    return (
        CartJourney.objects.count() == journeys
        and Campaign.objects.filter(is_active=True).count() == 1
    )


def reset() -> None:
    """Every journey active and quiet again, as before its first sweep."""
    from datetime import timedelta

    from django.db import connection, transaction
    from django.utils import timezone

    from oscar_recovery.constants import JourneyStatus
    from oscar_recovery.models import (
        CampaignEnrolment,
        CartJourney,
        CartJourneyEvent,
        RecoveryMessage,
    )

    with transaction.atomic():
        RecoveryMessage.objects.all().delete()
        CampaignEnrolment.objects.all().delete()
        CartJourneyEvent.objects.all().delete()
        CartJourney.objects.update(
            status=JourneyStatus.ACTIVE,
            abandoned_at=None,
            last_activity_at=timezone.now() - timedelta(hours=QUIET_FOR_HOURS),
        )
    with connection.cursor() as cursor:  # every round starts from the same physical state
        for table in ("cartjourney", "campaignenrolment", "recoverymessage", "cartjourneyevent"):
            cursor.execute(f"VACUUM ANALYZE oscar_recovery_{table}")


# -- Workers ---------------------------------------------------------------------------------


class Workers:
    """N ``celery worker`` processes on one queue; stopped on exit whatever happens."""

    def __init__(self, count: int, queue: str, env: dict, logdir: Path) -> None:
        token = uuid.uuid4().hex[:6]
        self.names = [f"bench{i}-{token}@localhost" for i in range(1, count + 1)]
        self.logs = [logdir / f"worker-{i}.log" for i in range(1, count + 1)]
        self.processes: list[Worker] = []
        atexit.register(self.stop)
        for name, log in zip(self.names, self.logs, strict=True):
            self.processes.append(start_worker(queue, env, log, name=name))

    def wait_ready(self, app, timeout: float = 120) -> None:
        """Until every worker answers a ping (Django set up, consuming the queue)."""
        waiting = set(self.names)
        deadline = time.monotonic() + timeout
        while waiting:
            self.check_alive()
            if time.monotonic() > deadline:
                raise SystemExit(f"workers not ready after {timeout:.0f}s: {sorted(waiting)}")
            for reply in app.control.ping(destination=sorted(waiting), timeout=0.5) or []:
                waiting -= set(reply)

    def check_alive(self) -> None:
        for worker in self.processes:
            if not worker.alive():
                raise SystemExit(
                    f"a worker exited ({worker.process.returncode}):\n{worker.log.read_text()}"
                )

    def stop(self) -> None:
        """SIGTERM (warm shutdown), then SIGKILL for any still running after 20 s."""
        stop_workers(self.processes, timeout=20)
        self.processes = []


# -- One round -------------------------------------------------------------------------------


def wait_until_sent(expected: int, workers: Workers, timeout: float) -> int:
    """Poll the database until every message is sent; fail on any other final status."""
    from django.db.models import Count

    from oscar_recovery.constants import MessageStatus
    from oscar_recovery.models import RecoveryMessage

    deadline = time.monotonic() + timeout
    while True:
        counts = dict(
            RecoveryMessage.objects.values_list("status").annotate(n=Count("pk")).order_by()
        )
        if counts.get(MessageStatus.SENT, 0) >= expected:
            return counts[MessageStatus.SENT]
        others = {
            status: n
            for status, n in counts.items()
            if status not in (MessageStatus.SENT, MessageStatus.QUEUED, MessageStatus.SENDING)
        }
        if others:
            raise SystemExit(f"messages that will never be sent: {others}")
        workers.check_alive()
        if time.monotonic() > deadline:
            raise SystemExit(f"not all sent after {timeout:.0f}s: {counts}")
        time.sleep(0.2)


def run_round(n: int, journeys: int, app, env: dict, logdir: Path, timeout: float) -> Round:
    from oscar_recovery.sweep.stages import run_sweep

    reset()
    workers = Workers(n, env["OSCAR_RECOVERY_CELERY_QUEUE"], env, logdir)
    try:
        workers.wait_ready(app)
        load = os.getloadavg()[0]
        start = time.perf_counter()
        result = run_sweep()
        sweep_s = time.perf_counter() - start
        if result.dispatched != journeys or result.errors:
            raise SystemExit(f"the sweep dispatched {result.dispatched}: {result.errors}")
        sent = wait_until_sent(journeys, workers, timeout)
        total_s = time.perf_counter() - start
    finally:
        workers.stop()
    return Round(n, sweep_s, total_s, sent, load)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--journeys", type=int, default=10_000)
    parser.add_argument("--workers", default="1,2,4", help="worker counts, comma-separated")
    parser.add_argument("--reuse", action="store_true", help="keep the seeded database")
    parser.add_argument("--redis", default=DEFAULT_REDIS, help="broker and result backend")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per round")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    # A bench stopped with SIGTERM still stops its workers (atexit runs on SystemExit).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    queue = f"oscar_recovery_bench_{uuid.uuid4().hex[:8]}"
    os.environ["OSCAR_RECOVERY_REDIS_URL"] = args.redis
    os.environ["OSCAR_RECOVERY_CELERY_QUEUE"] = queue  # where the sweep's tasks go
    ensure_database()
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from tests.support.celery_app import app

    app.set_current()  # the sweep publishes through the bench's broker
    call_command("migrate", verbosity=0)
    if not (args.reuse and seeded(args.journeys)):
        start = time.perf_counter()
        seed(args.journeys)
        print(f"seeded {args.journeys:,} journeys in {time.perf_counter() - start:.1f}s")

    env = worker_env(
        settings.DATABASES["default"]["NAME"],
        "bench.settings",
        BENCH_EMAIL_BACKEND="bench.mail.EmailBackend",
    )
    rounds = []
    with tempfile.TemporaryDirectory(prefix="bench_send_path_") as logdir:
        for n in counts:
            rounds.append(run_round(n, args.journeys, app, env, Path(logdir), args.timeout))
            r = rounds[-1]
            print(
                f"{n} worker(s): sweep {r.sweep_s:.1f}s, all sent after {r.total_s:.1f}s "
                f"(load {r.load:.1f})",
                flush=True,
            )
    app.control.purge()

    base = rounds[0]
    print(
        f"\n{args.journeys:,} emails, sweep -> enrol -> dispatch -> sent; "
        f"{os.cpu_count()} CPUs (shared with PostgreSQL, Redis and this process)"
    )
    print(
        f"{'workers':>7}{'sweep s':>9}{'total s':>9}{'emails/s':>10}{'x N=' + str(base.workers):>8}"
        f"{'send-phase/s':>14}{'x N=' + str(base.workers):>8}{'per worker':>12}"
    )
    for r in rounds:
        print(
            f"{r.workers:>7}{r.sweep_s:>9.1f}{r.total_s:>9.1f}{r.rate:>10.1f}"
            f"{r.rate / base.rate:>8.2f}{r.send_rate:>14.1f}{r.send_rate / base.send_rate:>8.2f}"
            f"{r.send_rate / r.workers:>12.1f}"
        )


if __name__ == "__main__":
    main()
