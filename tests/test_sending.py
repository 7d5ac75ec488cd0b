"""Sending a queued recovery message: exactly once, skips recorded, ESP errors handled."""

import smtplib
from datetime import timedelta

import pytest
from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused
from django.core import mail
from django.utils import timezone
from oscar.core.loading import get_model

from oscar_recovery.campaigns.dispatch import dispatch_due
from oscar_recovery.campaigns.enrolment import enrol_journeys
from oscar_recovery.constants import JourneyStatus, MessageStatus, SkipReason
from oscar_recovery.models import Campaign, CampaignStep, CartJourney, RecoveryMessage, StepVariant
from oscar_recovery.sending import send as sending
from oscar_recovery.tasks import send_message as send_task
from tests.support.backends import ScriptedBackend
from tests.support.journeys import add_to_basket, guest_gateway

pytestmark = pytest.mark.django_db
StockRecord = get_model("partner", "StockRecord")


@pytest.fixture
def step():
    campaign = Campaign.objects.create(name="Default", is_active=True, holdout_percent=0)
    return CampaignStep.objects.create(
        campaign=campaign,
        position=1,
        delay=timedelta(hours=1),
        subject="{{ lines.0.title }} is waiting",
        preheader="Still yours",
    )


@pytest.fixture
def message(step, shopper, product):
    add_to_basket(shopper, product)
    guest_gateway(shopper, "guest@example.com")
    journey = CartJourney.objects.get()
    two_hours_ago = timezone.now() - timedelta(hours=2)
    CartJourney.objects.filter(pk=journey.pk).update(
        status=JourneyStatus.ABANDONED, abandoned_at=two_hours_ago, last_activity_at=two_hours_ago
    )
    enrol_journeys([journey.pk])
    (message_id,) = dispatch_due()
    return RecoveryMessage.objects.get(pk=message_id)


@pytest.fixture
def scripted_backend(settings):
    settings.EMAIL_BACKEND = "tests.support.backends.ScriptedBackend"
    ScriptedBackend.failures = []
    yield ScriptedBackend
    ScriptedBackend.failures = []


def test_a_queued_message_is_sent_once_with_its_record(message):
    assert sending.send_message(message.pk) == MessageStatus.SENT
    assert sending.send_message(message.pk) == MessageStatus.SENT  # a duplicate task

    assert len(mail.outbox) == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert message.sent_at is not None and message.attempts == 1
    assert message.to_email == "guest@example.com"
    # Django's test backend is no ESP: the Message-ID header we set identifies the email.
    assert message.esp_message_id == mail.outbox[0].extra_headers["Message-ID"]


def test_an_anymail_backend_s_message_id_is_recorded_for_its_webhooks(message, scripted_backend):
    sending.send_message(message.pk)
    message.refresh_from_db()
    # anymail's test backend numbers its messages; a real ESP returns its own id.
    assert message.esp_message_id == "0"


def test_the_email_carries_one_click_unsubscribe_and_tags_without_personal_data(message):
    sending.send_message(message.pk)
    email = mail.outbox[0]

    assert email.subject == "Winter coat is waiting"
    assert email.extra_headers["List-Unsubscribe"].startswith("<https://")
    assert email.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert email.alternatives[0][1] == "text/html"
    assert "oscar-recovery" in email.tags
    assert email.metadata["campaign"] == str(message.step.campaign_id)
    assert email.metadata["variant"] == "A"
    flat = repr(email.metadata) + repr(email.tags)
    assert "guest@example.com" not in flat and "restore" not in flat


def test_a_message_another_worker_claimed_is_left_alone(message):
    assert sending.claim(message.pk, timezone.now())
    assert sending.send_message(message.pk) == MessageStatus.SENDING
    assert mail.outbox == []


def test_an_order_since_the_journey_began_skips_the_message_with_its_reason(message):
    CartJourney.objects.filter(pk=message.journey_id).update(status=JourneyStatus.CONVERTED)

    assert sending.send_message(message.pk) == MessageStatus.SKIPPED
    message.refresh_from_db()
    assert message.skip_reason == SkipReason.JOURNEY_ENDED
    assert mail.outbox == []


def test_products_no_longer_for_sale_are_dropped_and_nothing_left_means_skip(message, product):
    StockRecord.objects.filter(product=product).update(num_in_stock=0)

    assert sending.send_message(message.pk) == MessageStatus.SKIPPED
    message.refresh_from_db()
    assert message.skip_reason == SkipReason.BASKET_EMPTY


def test_a_transient_esp_error_requeues_and_the_task_retries_until_sent(message, scripted_backend):
    scripted_backend.failures = [AnymailAPIError("busy", status_code=503), OSError("reset")]

    assert send_task.delay(message.pk).get() == MessageStatus.SENT

    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and message.attempts == 3
    assert len(mail.outbox) == 1


def test_a_transient_error_leaves_the_message_queued_for_later(message, scripted_backend):
    scripted_backend.failures = [smtplib.SMTPServerDisconnected("gone")]

    with pytest.raises(sending.TransientSendError):
        sending.send_message(message.pk)
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED
    assert "SMTPServerDisconnected" in message.error


def test_a_permanent_esp_error_fails_the_message(message, scripted_backend):
    scripted_backend.failures = [AnymailRecipientsRefused("no such mailbox")]

    assert sending.send_message(message.pk) == MessageStatus.FAILED
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED and "no such mailbox" in message.error


def test_transient_errors_past_the_retry_budget_fail_the_message(
    message, scripted_backend, settings
):
    settings.OSCAR_RECOVERY_SEND_MAX_RETRIES = 2
    scripted_backend.failures = [OSError("down")] * 5

    with pytest.raises(sending.TransientSendError):
        sending.send_message(message.pk)
    assert sending.send_message(message.pk) == MessageStatus.FAILED
    assert mail.outbox == []


def test_a_message_stuck_sending_is_marked_interrupted_and_never_resent(message):
    long_ago = timezone.now() - timedelta(hours=1)
    RecoveryMessage.objects.filter(pk=message.pk).update(
        status=MessageStatus.SENDING, claimed_at=long_ago, attempts=1, esp_call_started_at=long_ago
    )

    assert sending.requeue_unsent() == []
    assert sending.fail_interrupted() == 1
    assert sending.send_message(message.pk) == MessageStatus.FAILED
    message.refresh_from_db()
    assert message.error == sending.INTERRUPTED
    assert mail.outbox == []


def test_a_message_whose_task_was_lost_is_handed_over_again(
    message, django_capture_on_commit_callbacks
):
    RecoveryMessage.objects.filter(pk=message.pk).update(
        enqueued_at=timezone.now() - timedelta(hours=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert sending.requeue_stale() == [message.pk]

    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert sending.requeue_stale() == []


def test_an_unreachable_broker_leaves_the_message_queued(
    message, celery_eager, django_capture_on_commit_callbacks
):
    conf = celery_eager.conf
    saved = conf.broker_url
    conf.task_always_eager = False
    conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens there
    conf.task_publish_retry = False
    try:
        with django_capture_on_commit_callbacks(execute=True):
            sending.enqueue([message.pk])
    finally:
        conf.broker_url = saved
        conf.task_publish_retry = True
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED and message.enqueued_at is not None


def test_a_variant_journey_gets_the_variant_subject(step, shopper, product):
    StepVariant.objects.create(step=step, label="B", subject="Come back for it", weight=100)
    add_to_basket(shopper, product)
    guest_gateway(shopper, "guest@example.com")
    two_hours_ago = timezone.now() - timedelta(hours=2)
    CartJourney.objects.update(
        status=JourneyStatus.ABANDONED, abandoned_at=two_hours_ago, last_activity_at=two_hours_ago
    )
    enrol_journeys(list(CartJourney.objects.values_list("pk", flat=True)))
    (message_id,) = dispatch_due()

    sending.send_message(message_id)
    assert mail.outbox[0].subject == "Come back for it"
    assert mail.outbox[0].metadata["variant"] == "B"
    assert RecoveryMessage.objects.get().variant.label == "B"
