"""Integration tier: real PostgreSQL, real Redis, a real Celery worker process.

Runs in the tox postgres envs; under CI=true an unreachable service fails these tests.
"""

import threading
import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection, connections, transaction
from django.utils import timezone

from oscar_recovery import signals
from oscar_recovery.constants import JourneyEventKind, JourneyStatus
from oscar_recovery.models import CartJourney, CartJourneyEvent
from oscar_recovery.sweep.stages import run_sweep
from tests.support.factories import journey_row, make_journey
from tests.support.workers import (
    STUCK_AFTER,
    publishing_to,
    start_worker,
    stop_workers,
    wait_until,
    worker_env,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_runs_on_postgresql():
    assert connection.vendor == "postgresql"


def test_two_sweeps_racing_process_each_journey_exactly_once(settings):
    settings.OSCAR_RECOVERY_SWEEP_BATCH_SIZE = 50
    CartJourney.objects.bulk_create(
        [journey_row(quiet_for=timedelta(hours=1)) for _ in range(2000)]
    )
    handed_off: list[int] = []
    lock = threading.Lock()
    # Each sweep's first batch waits, its rows locked, for the other's first batch: both
    # take part whichever thread the machine runs first (one could otherwise sweep all
    # 2000 before the other starts), and the other must skip the locked rows to get there.
    both_started = threading.Barrier(2, timeout=STUCK_AFTER)
    started: set[int] = set()

    def receiver(sender, journey_ids, **kwargs):
        with lock:
            handed_off.extend(journey_ids)
            first = threading.get_ident() not in started
            started.add(threading.get_ident())
        if first:
            both_started.wait()

    signals.journeys_abandoned.connect(receiver)
    barrier = threading.Barrier(2)
    results = []

    def sweeper():
        try:
            barrier.wait()
            results.append(run_sweep())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sweeper) for _ in range(2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(STUCK_AFTER)
    finally:
        signals.journeys_abandoned.disconnect(receiver)

    assert len(results) == 2
    assert [r.errors for r in results] == [[], []]
    assert sum(r.abandoned for r in results) == 2000
    assert all(r.abandoned > 0 for r in results), "both sweeps should have shared the work"
    assert len(handed_off) == len(set(handed_off)) == 2000
    assert CartJourney.objects.filter(status=JourneyStatus.ABANDONED).count() == 2000
    assert CartJourneyEvent.objects.filter(kind=JourneyEventKind.ABANDONED).count() == 2000


def test_enrolment_and_dispatch_racing_write_each_enrolment_and_step_once(settings):
    """Two enrolments of the same journeys, then two dispatchers, each pair at once: the
    set-based statements leave one enrolment per journey and one message per journey and
    step, and every enrolment moved on exactly once."""
    from oscar_recovery.campaigns.dispatch import dispatch_due
    from oscar_recovery.campaigns.enrolment import enrol_journeys
    from oscar_recovery.models import Campaign, CampaignEnrolment, CampaignStep, RecoveryMessage

    settings.OSCAR_RECOVERY_SWEEP_BATCH_SIZE = 40
    campaign = Campaign.objects.create(name="Default", is_active=True, holdout_percent=10)
    for position, hours in ((1, 0), (2, 24)):
        CampaignStep.objects.create(
            campaign=campaign, position=position, delay=timedelta(hours=hours), subject="Hi"
        )
    CartJourney.objects.bulk_create(
        [
            journey_row(
                quiet_for=timedelta(hours=1),
                status=JourneyStatus.ABANDONED,
                email=f"racer{n}@example.com",
            )
            for n in range(400)
        ]
    )
    ids = list(CartJourney.objects.values_list("pk", flat=True))

    def race(work) -> list:
        barrier = threading.Barrier(2, timeout=STUCK_AFTER)
        results, errors = [], []

        def run():
            try:
                barrier.wait()
                results.append(work())
            except BaseException as exc:
                errors.append(exc)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(STUCK_AFTER)
        assert errors == [] and len(results) == 2
        return results

    enrolled = race(lambda: enrol_journeys(ids))
    assert sum(enrolled) == 400 == CampaignEnrolment.objects.count()
    created = race(dispatch_due)
    new_ids = [pk for ids_ in created for pk in ids_]
    assert len(new_ids) == len(set(new_ids))
    assert RecoveryMessage.objects.count() == 400
    assert RecoveryMessage.objects.filter(status="queued").count() == len(new_ids)
    assert set(CampaignEnrolment.objects.values_list("next_step__position", flat=True)) == {2}


@pytest.fixture
def celery_worker_process(tmp_path):
    """A real ``celery worker`` process on Redis, using this test run's PostgreSQL database,
    on a queue of its own to which this process publishes meanwhile. Yields the queue and
    the :class:`~tests.support.workers.Worker`; its emails are written as files to
    ``tmp_path / "mail"``."""
    queue = f"oscar_recovery_test_{uuid.uuid4().hex[:8]}"
    env = worker_env(
        settings.DATABASES["default"]["NAME"],
        OSCAR_RECOVERY_CELERY_QUEUE=queue,
        OSCAR_RECOVERY_TEST_EMAIL_DIR=str(tmp_path / "mail"),
    )
    with publishing_to(queue):
        worker = start_worker(queue, env, tmp_path / "worker.log", loglevel="INFO")
        try:
            yield queue, worker
        finally:
            stop_workers([worker])


def test_a_sweep_enqueued_by_the_app_is_executed_by_a_real_worker(celery_worker_process):
    from oscar_recovery.tasks import sweep

    queue, worker = celery_worker_process
    journey = make_journey(quiet_for=timedelta(hours=1))

    async_result = sweep.apply_async(queue=queue)
    try:
        outcome = async_result.get(timeout=90)
    except Exception:
        print(worker.output())
        raise

    assert outcome["abandoned"] == 1 and outcome["batches"] == 1
    journey.refresh_from_db()
    assert journey.status == JourneyStatus.ABANDONED
    assert async_result.state == "SUCCESS"  # get() returned once the result was stored


def test_the_recovery_story_through_a_real_worker(celery_worker_process, tmp_path, country):
    """The end-to-end story of tests/test_recovery_flow.py, with every send task going
    through Redis to a separate worker process writing to PostgreSQL."""
    import email
    import email.policy
    import re
    from urllib.parse import urlsplit

    import time_machine
    from django.test import Client
    from django.urls import reverse
    from django.utils import timezone
    from oscar.test import factories

    from oscar_recovery.campaigns.install import install_defaults
    from oscar_recovery.constants import MessageStatus
    from oscar_recovery.models import Campaign, RecoveryMessage
    from tests.conftest import BROWSER_UA
    from tests.support.journeys import add_to_basket, guest_gateway, place_order, shipping_address

    _queue, worker = celery_worker_process
    campaign = install_defaults(activate=True)
    Campaign.objects.filter(pk=campaign.pk).update(holdout_percent=0)
    product = factories.create_product(title="Winter coat", price="40.00", num_in_stock=10)
    shopper = Client(HTTP_USER_AGENT=BROWSER_UA)
    add_to_basket(shopper, product)
    guest_gateway(shopper, "guest@example.com")
    start = timezone.now()

    with time_machine.travel(start + timedelta(hours=1), tick=False):
        run_sweep()
    with time_machine.travel(start + timedelta(hours=2, minutes=1), tick=False):
        assert run_sweep().dispatched == 1
    wait_until(
        lambda: RecoveryMessage.objects.filter(status=MessageStatus.SENT).exists(),
        "the worker to send the email",
        worker.output,
    )
    mail_files = list((tmp_path / "mail").glob("*.log"))
    assert len(mail_files) == 1
    # Parse rather than grep: Django 6 may pick quoted-printable or base64 for the body.
    sent_email = email.message_from_string(mail_files[0].read_text(), policy=email.policy.default)
    assert sent_email["To"] == "guest@example.com"
    assert sent_email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = sent_email.get_body(preferencelist=("plain",)).get_content()
    url = re.search(r"https?://\S+/recovery/restore/[^/\s]+/", text).group(0)

    browser = Client(HTTP_USER_AGENT=BROWSER_UA)
    assert browser.get(urlsplit(url).path).status_code == 303
    assert "Winter coat" in browser.get(reverse("basket:summary")).content.decode()
    guest_gateway(browser, "guest@example.com")
    shipping_address(browser, country)
    place_order(browser)

    with time_machine.travel(start + timedelta(days=4), tick=False):
        assert run_sweep().dispatched == 0
    assert RecoveryMessage.objects.count() == 1
    # The link copied the lines into the opener's own basket: that basket's journey
    # holds the order, and the emailed journey ended merged into it.
    journey = CartJourney.objects.get(order__isnull=False)
    emailed = CartJourney.objects.get(pk=RecoveryMessage.objects.get().journey_id)
    assert emailed.status == JourneyStatus.MERGED and emailed.merged_into == journey
    assert journey.status == JourneyStatus.RECOVERED


@pytest.mark.parametrize("sweep_step", ["enqueue", "fail_interrupted"])
def test_the_sweep_never_deadlocks_with_a_worker_holding_its_batch(settings, sweep_step):
    """A worker claims its batch, and writes the batch's outcomes, one message at a time in
    id order within one transaction; the sweep, handing the same messages over again or
    failing them as interrupted, must take their row locks in that order too. Taking them
    in the order its plan met them (here: the first message's newer row version lies after
    the second's) let each wait for the other, and PostgreSQL aborted one of them."""
    from oscar_recovery.models import Campaign, CampaignStep, RecoveryMessage
    from oscar_recovery.sending import send as sending

    settings.OSCAR_RECOVERY_TASK_MODE = "inline"  # nothing published: only the locks matter
    campaign = Campaign.objects.create(name="Default")
    step = CampaignStep.objects.create(
        campaign=campaign, position=1, delay=timedelta(0), subject="Still thinking?"
    )
    first, second = (
        RecoveryMessage.objects.create(
            journey=make_journey(quiet_for=timedelta(hours=2)), step=step
        )
        for _ in range(2)
    )
    if sweep_step == "fail_interrupted":  # claimed long ago, ESP calls started: "in flight"
        an_hour_ago = timezone.now() - timedelta(hours=1)
        RecoveryMessage.objects.update(
            status="sending", attempts=1, claimed_at=an_hour_ago, esp_call_started_at=an_hour_ago
        )
    RecoveryMessage.objects.filter(pk=first.pk).update(error="moved")  # a row version after
    held = threading.Event()
    errors: list[BaseException] = []

    def worker_holds(message) -> None:
        if sweep_step == "enqueue":
            assert sending.claim(message.pk, timezone.now())
        else:
            message.attempts = 1
            sending._finish(message, "sent", error="")

    def sweep_waits() -> bool:
        # pg_locks is the whole server's: count only waits of this database's sessions
        # (other test runs may share the server; a wait for a transaction names no database).
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_locks JOIN pg_stat_activity USING (pid) "
                "WHERE NOT granted AND datname = current_database()"
            )
            return cursor.fetchone()[0] > 0

    def worker() -> None:
        try:
            with transaction.atomic():
                worker_holds(first)
                held.set()
                wait_until(sweep_waits, "the sweep to wait for the first row")
                worker_holds(second)
        except BaseException as exc:
            errors.append(exc)
        finally:
            held.set()
            connections.close_all()

    def sweep() -> None:
        try:
            held.wait(STUCK_AFTER)
            if sweep_step == "enqueue":
                sending.enqueue([first.pk, second.pk])
            else:
                sending.fail_interrupted()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker), threading.Thread(target=sweep)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(STUCK_AFTER)

    assert errors == []
    # The worker's writes stand; the sweep went after them.
    expected = "sending" if sweep_step == "enqueue" else "sent"
    assert set(RecoveryMessage.objects.values_list("status", flat=True)) == {expected}
    if sweep_step == "enqueue":
        assert not RecoveryMessage.objects.filter(enqueued_at__isnull=True).exists()
