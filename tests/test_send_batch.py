"""Sending a batch of messages: the same outcome per message as one at a time, with
the work (checks, products, recommendations) done once per batch."""

import threading
from datetime import timedelta
from unittest.mock import patch

import pytest
from anymail.backends.test import EmailBackend as AnymailTestBackend
from anymail.exceptions import AnymailAPIError
from django.core import mail
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from oscar.test import factories

from oscar_recovery.constants import EmailSource, JourneyStatus, MessageStatus, SkipReason
from oscar_recovery.models import Campaign, CampaignStep, CartJourney, RecoveryMessage
from oscar_recovery.privacy.suppression import suppress
from oscar_recovery.sending import send as sending
from oscar_recovery.sending.send_checks import why_not_send, why_not_send_many
from oscar_recovery.sweep.stages import send_due
from oscar_recovery.tasks import send_messages as send_messages_task
from tests.support.backends import ScriptedBackend, in_another_session

pytestmark = pytest.mark.django_db


@pytest.fixture
def step():
    campaign = Campaign.objects.create(name="Batch", is_active=True, holdout_percent=0)
    return CampaignStep.objects.create(
        campaign=campaign, position=1, delay=timedelta(hours=1), subject="Your basket"
    )


@pytest.fixture
def scripted_backend(settings):
    settings.EMAIL_BACKEND = "tests.support.backends.ScriptedBackend"
    ScriptedBackend.failures = []
    yield ScriptedBackend
    ScriptedBackend.failures = []


def queued(step, product, email, **fields) -> RecoveryMessage:
    now = timezone.now()
    fields.setdefault("status", JourneyStatus.ABANDONED)
    journey = CartJourney.objects.create(
        email=email,
        email_source=EmailSource.CHECKOUT,
        abandoned_at=now - timedelta(hours=2),
        created_at=now - timedelta(hours=3),
        last_activity_at=now - timedelta(hours=2),
        lines=[{"product_id": product.pk, "quantity": 1}],
        num_items=1,
        **fields,
    )
    return RecoveryMessage.objects.create(journey=journey, step=step, to_email=email)


def loaded(ids):
    return list(
        RecoveryMessage.objects.select_related("journey__enrolment", "step__campaign")
        .filter(pk__in=ids)
        .order_by("pk")
    )


def test_batch_checks_give_each_message_the_reason_it_gets_alone(settings, step, product):
    settings.OSCAR_RECOVERY_LAWFUL_BASIS = "soft_opt_in"
    settings.OSCAR_RECOVERY_ADDRESS_COOLDOWN = timedelta(days=1)
    fine = queued(step, product, "fine@example.com")
    ordered = queued(step, product, "Buyer@Example.com")
    factories.create_order(guest_email="buyer@example.com")
    suppressed = queued(step, product, "gone@example.com")
    suppress("GONE@example.com")
    cooled = queued(step, product, "cool@example.com")
    earlier = queued(step, product, "COOL@example.com")
    RecoveryMessage.objects.filter(pk=earlier.pk).update(
        status=MessageStatus.SENT, sent_at=timezone.now() - timedelta(hours=1)
    )
    older = queued(step, product, "same@example.com", visitor_id="v1")
    queued(step, product, "same@example.com", visitor_id="v1")  # newer, same browser
    CartJourney.objects.filter(pk=older.journey_id).update(
        created_at=timezone.now() - timedelta(hours=5)
    )
    stranger = queued(step, product, "same@example.com", visitor_id="v2")
    CartJourney.objects.filter(pk=stranger.journey_id).update(
        created_at=timezone.now() - timedelta(hours=5)
    )
    ended = queued(step, product, "ended@example.com", status=JourneyStatus.CONVERTED)
    messages = loaded(
        [fine.pk, ordered.pk, suppressed.pk, cooled.pk, older.pk, stranger.pk, ended.pk]
    )
    now = timezone.now()

    reasons = why_not_send_many(messages, now)

    assert reasons == {
        ordered.pk: SkipReason.ORDER_PLACED,
        suppressed.pk: SkipReason.SUPPRESSED,
        cooled.pk: SkipReason.COOLDOWN,
        older.pk: SkipReason.NEWER_JOURNEY,
        ended.pk: SkipReason.JOURNEY_ENDED,
    }
    assert {m.pk: why_not_send(m, now) for m in messages if why_not_send(m, now)} == reasons


@pytest.mark.parametrize("free_shipping_from", [None, "100.00"])
def test_a_batch_costs_the_same_queries_whatever_its_size(
    settings, step, product, other_product, free_shipping_from
):
    settings.OSCAR_RECOVERY_LAWFUL_BASIS = "soft_opt_in"
    # With a threshold each email also looks for products that close the gap: once per
    # batch for alike baskets, as the products' links and images are worked out once.
    settings.OSCAR_RECOVERY_FREE_SHIPPING_THRESHOLD = free_shipping_from
    for i in range(3):
        factories.create_product(title=f"Closer {i}", price=f"{60 + i}.00", num_in_stock=10)
    small = [queued(step, product, f"s{i}@example.com").pk for i in range(2)]
    large = [queued(step, other_product, f"l{i}@example.com").pk for i in range(6)]
    sending.send_batch([queued(step, product, "warm@example.com").pk])  # warms the caches

    with CaptureQueriesContext(connection) as two:
        sending.send_batch(small)
    with CaptureQueriesContext(connection) as six:
        sending.send_batch(large)

    assert len(mail.outbox) == 9
    # Only the per-message claim, the committed ESP-call mark and the status write
    # grow with the batch.
    # Per message only the committed ESP-call mark and what the call answered,
    # committed at once; the claim is one statement for the batch.
    updates = [q["sql"] for q in six.captured_queries if q["sql"].startswith("UPDATE")]
    assert len(updates) == 2 * 6 + 1
    assert len(six) - len(two) == 4 * 2


@pytest.mark.django_db(transaction=True)
def test_workers_claiming_overlapping_batches_at_once_take_each_message_once(step, product):
    if connection.vendor != "postgresql":
        # The in-memory SQLite test database (shared cache) refuses a second writer at once
        # ("table is locked") instead of waiting for it, as a file database would.
        pytest.skip("concurrent writers need PostgreSQL here (the postgres envs run it)")
    ids = [queued(step, product, f"c{i}@example.com").pk for i in range(40)]
    batches = [ids[:30], ids[10:], ids[::-1], ids[5:35]]
    taken: list[list[int]] = []
    start = threading.Barrier(len(batches))

    def worker(batch):
        try:
            start.wait()
            taken.append(sending.claim_many(batch, timezone.now()))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    claimed = [pk for batch in taken for pk in batch]
    assert len(taken) == len(batches)
    assert sorted(claimed) == ids  # every message once, by one worker
    assert set(RecoveryMessage.objects.values_list("status", "attempts").distinct()) == {
        (MessageStatus.SENDING, 1)
    }


def test_one_address_gets_one_email_of_a_batch_under_the_cooldown(settings, step, product):
    settings.OSCAR_RECOVERY_LAWFUL_BASIS = "soft_opt_in"
    settings.OSCAR_RECOVERY_ADDRESS_COOLDOWN = timedelta(days=1)
    first = queued(step, product, "twice@example.com")
    second = queued(step, product, "Twice@example.com")

    result = sending.send_batch([first.pk, second.pk])

    assert result.statuses == {first.pk: MessageStatus.SENT, second.pk: MessageStatus.SKIPPED}
    assert RecoveryMessage.objects.get(pk=second.pk).skip_reason == SkipReason.COOLDOWN
    assert len(mail.outbox) == 1


def test_a_transient_error_requeues_that_message_only(settings, step, product, scripted_backend):
    settings.OSCAR_RECOVERY_LAWFUL_BASIS = "soft_opt_in"
    ids = [queued(step, product, f"t{i}@example.com").pk for i in range(3)]
    scripted_backend.failures = [AnymailAPIError("busy", status_code=503)]

    result = sending.send_batch(ids)

    assert result.retry == [ids[0]]
    statuses = dict(RecoveryMessage.objects.filter(pk__in=ids).values_list("pk", "status"))
    assert statuses == {
        ids[0]: MessageStatus.QUEUED,
        ids[1]: MessageStatus.SENT,
        ids[2]: MessageStatus.SENT,
    }
    assert len(mail.outbox) == 2


def test_the_task_retries_the_transient_message_alone_and_never_resends_the_others(
    settings, step, product, scripted_backend
):
    settings.OSCAR_RECOVERY_LAWFUL_BASIS = "soft_opt_in"
    ids = [queued(step, product, f"r{i}@example.com").pk for i in range(3)]
    scripted_backend.failures = [AnymailAPIError("busy", status_code=503)]

    assert send_messages_task.delay(ids).get() == {MessageStatus.SENT: 1}

    assert len(mail.outbox) == 3
    assert sorted(m.to[0] for m in mail.outbox) == [f"r{i}@example.com" for i in range(3)]
    assert RecoveryMessage.objects.get(pk=ids[0]).attempts == 2


def test_a_message_claimed_elsewhere_is_left_out_of_the_batch(settings, step, product):
    settings.OSCAR_RECOVERY_LAWFUL_BASIS = "soft_opt_in"
    taken = queued(step, product, "taken@example.com")
    free = queued(step, product, "free@example.com")
    assert sending.claim(taken.pk, timezone.now())

    result = sending.send_batch([taken.pk, free.pk, free.pk])

    assert result.statuses == {taken.pk: MessageStatus.SENDING, free.pk: MessageStatus.SENT}
    assert [m.to for m in mail.outbox] == [["free@example.com"]]


def test_enqueue_hands_messages_over_in_batches(
    settings, step, product, django_capture_on_commit_callbacks
):
    settings.OSCAR_RECOVERY_LAWFUL_BASIS = "soft_opt_in"
    settings.OSCAR_RECOVERY_SEND_BATCH_SIZE = 2
    ids = [queued(step, product, f"e{i}@example.com").pk for i in range(5)]

    with django_capture_on_commit_callbacks(execute=True):
        sending.enqueue(ids)

    assert RecoveryMessage.objects.filter(status=MessageStatus.SENT).count() == 5
    assert len(mail.outbox) == 5


def test_email_sent_webhooks_cost_the_same_queries_whatever_the_batch_size(
    settings, step, product, other_product, django_capture_on_commit_callbacks
):
    from oscar_recovery.constants import WebhookEvent
    from oscar_recovery.models import WebhookDelivery, WebhookEndpoint

    settings.OSCAR_RECOVERY_LAWFUL_BASIS = "soft_opt_in"
    settings.OSCAR_RECOVERY_TASK_MODE = "inline"  # deliveries are recorded, not attempted
    WebhookEndpoint.objects.create(
        name="Sent",
        url="https://hooks.example.com/",
        secret="s" * 32,
        events=[WebhookEvent.EMAIL_SENT],
    )
    small = [queued(step, product, f"s{i}@example.com").pk for i in range(2)]
    large = [queued(step, other_product, f"l{i}@example.com").pk for i in range(6)]

    def webhook_queries(ids) -> int:
        with (
            CaptureQueriesContext(connection) as queries,
            django_capture_on_commit_callbacks(execute=True),
        ):
            sending.send_batch(ids)
        return sum("webhook" in q["sql"] for q in queries.captured_queries)

    assert webhook_queries(small) == webhook_queries(large)
    payloads = WebhookDelivery.objects.values_list("payload", flat=True)
    assert sorted(p["data"]["email"]["message_id"] for p in payloads) == sorted(small + large)
    assert {p["type"] for p in payloads} == {WebhookEvent.EMAIL_SENT}


class RefusingBackend(AnymailTestBackend):
    """Refuses one address for good (an ESP 400); takes the others."""

    def send_messages(self, email_messages):
        if email_messages[0].to == ["o2@example.com"]:
            raise AnymailAPIError("refused", status_code=400)
        return super().send_messages(email_messages)


def test_a_batch_writes_each_outcome_only_over_its_own_claim(settings, step, product):
    settings.OSCAR_RECOVERY_LAWFUL_BASIS = "soft_opt_in"
    settings.EMAIL_BACKEND = "tests.test_send_batch.RefusingBackend"
    # Three go out and one is refused for good; the fifth's worker stalled after its ESP
    # mark long enough for the sweep to fail it as interrupted: that row is the sweep's now.
    ids = [queued(step, product, f"o{i}@example.com").pk for i in range(5)]
    stalled = ids[4]
    start_esp_call = sending.start_esp_call

    def stalled_after_the_mark(message):
        marked = start_esp_call(message)
        if message.pk == stalled:
            long_ago = timezone.now() - timedelta(hours=1)
            RecoveryMessage.objects.filter(pk=stalled).update(claimed_at=long_ago)
            sending.fail_interrupted()
        return marked

    with patch.object(sending, "start_esp_call", stalled_after_the_mark):
        result = sending.send_batch(ids)

    rows = dict(RecoveryMessage.objects.values_list("pk", "status"))
    assert [rows[pk] for pk in ids] == ["sent", "sent", "failed", "sent", "failed"]
    assert RecoveryMessage.objects.get(pk=stalled).error == sending.INTERRUPTED
    assert result.statuses[ids[2]] == MessageStatus.FAILED
    assert "refused" in RecoveryMessage.objects.get(pk=ids[2]).error
    esp_ids = list(
        RecoveryMessage.objects.filter(status="sent").values_list("esp_message_id", flat=True)
    )
    assert len(set(esp_ids)) == 3 and "" not in esp_ids  # each its own, from one UPDATE


class PeekingAtTheThirdBackend(AnymailTestBackend):
    """What another session (a sweep, were this worker killed now) reads of the batch at the
    moment the ESP gets its third email."""

    calls = 0
    seen: list = []

    def send_messages(self, email_messages):
        type(self).calls += 1
        if type(self).calls == 3:
            type(self).seen = in_another_session(
                lambda: list(
                    RecoveryMessage.objects.order_by("pk").values_list(
                        "status", "esp_message_id", "esp_call_started_at"
                    )
                )
            )
        return super().send_messages(email_messages)


@pytest.mark.django_db(transaction=True)
def test_emails_the_esp_took_are_recorded_before_the_next_call(settings, step, product):
    settings.OSCAR_RECOVERY_LAWFUL_BASIS = "soft_opt_in"
    settings.EMAIL_BACKEND = "tests.test_send_batch.PeekingAtTheThirdBackend"
    PeekingAtTheThirdBackend.calls, PeekingAtTheThirdBackend.seen = 0, []
    ids = [queued(step, product, f"k{i}@example.com").pk for i in range(4)]

    sending.send_batch(ids)

    # A worker killed during the third call leaves the first two recorded as sent, with
    # the ESP's ids their tracking events refer to, and only the third one in flight.
    first, second, third, fourth = PeekingAtTheThirdBackend.seen
    for status, esp_id, _started in (first, second):
        assert status == MessageStatus.SENT and esp_id
    assert third[0] == MessageStatus.SENDING and third[2] is not None
    assert fourth[0] == MessageStatus.SENDING and fourth[2] is None  # not reached: resent


@pytest.mark.parametrize("mode", ["celery", "inline"])
def test_messages_a_dead_worker_never_sent_go_back_one_per_batch(
    settings, step, product, mode, django_capture_on_commit_callbacks
):
    # One of them may be what killed the worker: sent together again, it would use up its
    # batch-mates' claims along with its own.
    settings.OSCAR_RECOVERY_LAWFUL_BASIS = "soft_opt_in"
    settings.OSCAR_RECOVERY_TASK_MODE = mode
    ids = [queued(step, product, f"d{i}@example.com").pk for i in range(3)]
    RecoveryMessage.objects.filter(pk__in=ids).update(
        status=MessageStatus.SENDING, claimed_at=timezone.now() - timedelta(hours=1), attempts=1
    )
    batches: list[list[int]] = []
    send_batch = sending.send_batch

    def recording(message_ids, now=None):
        batches.append(sorted(message_ids))
        return send_batch(message_ids, now)

    with (
        patch.object(sending, "send_batch", recording),
        django_capture_on_commit_callbacks(execute=True),
    ):
        send_due()

    assert sorted(batches) == [[pk] for pk in ids]
    assert set(RecoveryMessage.objects.values_list("status", flat=True)) == {MessageStatus.SENT}
