"""The double opt-in confirmation emails follow the recovery emails' ESP-call rules (see
tests/test_send_rate.py): they take from the same send-rate bucket, commit the start of
their ESP call first, and a row a dead worker left "sending" is sent again only when it
never reached the ESP, and at most ``SEND_MAX_RETRIES`` claims."""

import time
from datetime import timedelta

import pytest
from anymail.backends.test import EmailBackend as AnymailTestBackend
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from oscar_recovery import tasks
from oscar_recovery.constants import ConfirmationStatus
from oscar_recovery.models import ConsentConfirmation, SendRateBucket
from oscar_recovery.privacy import confirmation, confirmation_requests
from oscar_recovery.sending import esp_call, rate
from oscar_recovery.sweep.stages import send_due
from tests import test_double_opt_in, test_sending
from tests.support.backends import in_another_session
from tests.test_double_opt_in import VICTIM, consent_on, journey_for

pytestmark = pytest.mark.django_db
# The double opt-in tests' consent basis (autouse: double opt-in applies under it), and the
# sending tests' scripted ESP.
consent_basis = test_double_opt_in.consent_basis
scripted_backend = test_sending.scripted_backend


class OtherSessionBackend(AnymailTestBackend):
    """Reads the confirmations' status and ESP mark from another database session (another
    thread's connection, as the sweep would) at the moment the ESP gets an email."""

    seen: list = []

    def send_messages(self, email_messages):
        OtherSessionBackend.seen.extend(
            in_another_session(
                lambda: list(
                    ConsentConfirmation.objects.values_list("status", "esp_call_started_at")
                )
            )
        )
        return super().send_messages(email_messages)


class WorkerKilled(BaseException):
    """A worker process dying: nothing in the send path catches it."""


@pytest.fixture
def queued():
    """A confirmation row recorded and queued; its hand-over (after commit) never runs here."""
    consent_on(journey_for())
    row = ConsentConfirmation.objects.get()
    assert row.status == ConfirmationStatus.QUEUED and mail.outbox == []
    return row


@pytest.fixture
def empty_bucket(settings):
    """The recovery emails' bucket, just emptied, at a rate that refills nothing soon."""
    settings.OSCAR_RECOVERY_SEND_RATE = "1/h"
    settings.OSCAR_RECOVERY_SEND_RATE_MAX_WAIT = 0
    return SendRateBucket.objects.create(name=rate.SEND_BUCKET, tokens=0, refilled_at=time.time())


def stale_sending(row, **fields):
    long_ago = timezone.now() - timedelta(hours=1)
    ConsentConfirmation.objects.filter(pk=row.pk).update(
        status=ConfirmationStatus.SENDING, claimed_at=long_ago, attempts=1, **fields
    )


# The shared send rate


def test_a_confirmation_takes_a_token_from_the_recovery_emails_bucket(queued, settings):
    settings.OSCAR_RECOVERY_SEND_RATE = "14/s"

    assert confirmation.send_confirmation(queued.pk) == ConfirmationStatus.SENT

    bucket = SendRateBucket.objects.get()
    assert bucket.name == rate.SEND_BUCKET and bucket.tokens < 1


def test_no_token_in_time_queues_the_confirmation_again_without_spending_an_attempt(
    queued, empty_bucket
):
    with pytest.raises(esp_call.RateLimited) as raised:
        confirmation.send_confirmation(queued.pk)

    assert raised.value.countdown > 3000
    queued.refresh_from_db()
    assert queued.status == ConfirmationStatus.QUEUED and queued.attempts == 0
    assert queued.esp_call_started_at is None and mail.outbox == []
    # Inline mode (the sweep sends): it stays queued for a later sweep, nothing spent.
    assert confirmation.send_queued() == 0
    queued.refresh_from_db()
    assert queued.status == ConfirmationStatus.QUEUED and queued.attempts == 0


def test_the_inline_sweep_stops_at_the_first_missing_token(queued, empty_bucket, monkeypatch):
    consent_on(journey_for(email="second@example.com"))
    takes = []
    monkeypatch.setattr(
        esp_call, "take_send_token", lambda take=esp_call.take_send_token: takes.append(1) or take()
    )

    assert confirmation.send_queued() == 0

    assert len(takes) == 1  # the second would have waited alike
    statuses = ConsentConfirmation.objects.values_list("status", "attempts")
    assert sorted(statuses) == [(ConfirmationStatus.QUEUED, 0)] * 2


def test_the_task_retries_a_rate_limited_confirmation_when_the_token_is_due(
    queued, empty_bucket, monkeypatch
):
    retried = []
    retry_send = tasks._retry_send

    def token_due_on_retry(task, exc, **options):
        retried.append(exc)
        SendRateBucket.objects.update(tokens=1)  # the countdown has passed
        return retry_send(task, exc, **options)

    monkeypatch.setattr(tasks, "_retry_send", token_due_on_retry)

    assert tasks.send_consent_confirmation.delay(queued.pk).get() == ConfirmationStatus.SENT

    ((exc,),) = [retried]
    assert isinstance(exc, esp_call.RateLimited) and exc.countdown > 3000
    queued.refresh_from_db()
    assert queued.status == ConfirmationStatus.SENT and queued.attempts == 1  # one counted
    assert [m.to for m in mail.outbox] == [[VICTIM]]


# Resending what never reached the ESP


@pytest.mark.django_db(transaction=True)
def test_the_esp_mark_is_committed_for_every_session_before_the_confirmation_goes(
    settings, monkeypatch
):
    monkeypatch.setattr(confirmation_requests, "publish", lambda pk: None)  # sent below instead
    consent_on(journey_for())
    row = ConsentConfirmation.objects.get()
    settings.EMAIL_BACKEND = "tests.test_confirmation_send_rate.OtherSessionBackend"
    OtherSessionBackend.seen = []

    with CaptureQueriesContext(connection) as queries:
        assert confirmation.send_confirmation(row.pk) == ConfirmationStatus.SENT

    # What a worker killed now would leave for the sweep: the mark, committed.
    ((status, started),) = OtherSessionBackend.seen
    assert status == ConfirmationStatus.SENDING and started is not None
    row.refresh_from_db()
    assert row.esp_call_started_at == started
    if connection.vendor == "postgresql":
        # As the recovery emails' mark: committed without waiting for the disk.
        (mark,) = [
            q["sql"] for q in queries.captured_queries if 'esp_call_started_at" = ' in q["sql"]
        ]
        assert "set_config('synchronous_commit', 'off', true)" in mark


@pytest.mark.parametrize("mode", ["celery", "inline"])
def test_a_stale_confirmation_that_never_reached_the_esp_is_sent_again_once(
    queued, settings, mode, django_capture_on_commit_callbacks
):
    settings.OSCAR_RECOVERY_TASK_MODE = mode
    stale_sending(queued)

    with django_capture_on_commit_callbacks(execute=True):
        result = send_due()
    with django_capture_on_commit_callbacks(execute=True):
        again = send_due(timezone.now() + timedelta(hours=2))

    assert result.interrupted == 0 and result.requeued == 1
    assert again.interrupted == 0 and again.requeued == 0
    queued.refresh_from_db()
    assert queued.status == ConfirmationStatus.SENT and queued.attempts == 2
    assert [m.to for m in mail.outbox] == [[VICTIM]]


def test_a_stale_confirmation_whose_esp_call_started_is_failed_not_resent(
    queued, django_capture_on_commit_callbacks
):
    stale_sending(queued, esp_call_started_at=timezone.now() - timedelta(minutes=59))

    with django_capture_on_commit_callbacks(execute=True):
        result = send_due()

    assert result.interrupted == 1 and result.requeued == 0
    queued.refresh_from_db()
    assert queued.status == ConfirmationStatus.FAILED and queued.error == esp_call.INTERRUPTED
    # A redelivered task finds it failed.
    assert confirmation.send_confirmation(queued.pk) == ConfirmationStatus.FAILED
    assert mail.outbox == []


def test_a_confirmation_that_keeps_stopping_its_worker_is_given_up(queued, settings, monkeypatch):
    settings.OSCAR_RECOVERY_SEND_MAX_RETRIES = 3

    def killed(journey):
        raise WorkerKilled  # after the claim, before the ESP call

    monkeypatch.setattr(confirmation, "compose", killed)
    outcomes = []
    for claim in range(1, 4):
        with pytest.raises(WorkerKilled):
            confirmation.send_confirmation(queued.pk)
        later = timezone.now() + timedelta(hours=claim)
        requeued = confirmation.requeue_stale(later)
        outcomes.append((requeued, confirmation.fail_interrupted(later)))

    assert outcomes == [([queued.pk], 0), ([queued.pk], 0), ([], 1)]
    queued.refresh_from_db()
    assert queued.status == ConfirmationStatus.FAILED and queued.attempts == 3
    assert queued.error == esp_call.INTERRUPTED_UNSENT
    assert confirmation.send_confirmation(queued.pk) == ConfirmationStatus.FAILED
    assert mail.outbox == []


def test_a_recent_claim_is_left_to_its_worker(queued):
    ConsentConfirmation.objects.filter(pk=queued.pk).update(
        status=ConfirmationStatus.SENDING, claimed_at=timezone.now(), attempts=1
    )

    assert confirmation.requeue_stale() == [] and confirmation.fail_interrupted() == 0
    queued.refresh_from_db()
    assert queued.status == ConfirmationStatus.SENDING


def test_a_slow_worker_whose_claim_was_taken_back_neither_sends_nor_overwrites(
    queued, monkeypatch, django_capture_on_commit_callbacks
):
    checks = confirmation.why_not_send
    slow = []

    def sweep_meanwhile(row):
        # The slow worker holds claim 1 past SENDING_STALE_AFTER: the sweep queues it again.
        slow.append(row)
        with django_capture_on_commit_callbacks(execute=False):
            assert confirmation.requeue_stale(timezone.now() + timedelta(hours=1)) == [row.pk]
        return checks(row)

    monkeypatch.setattr(confirmation, "why_not_send", sweep_meanwhile)
    assert confirmation.send_confirmation(queued.pk) == ConfirmationStatus.QUEUED
    assert mail.outbox == []

    def late_word_meanwhile(row):
        # Claim 2 is under way when the slow worker's late outcome for claim 1 lands.
        confirmation._finish(slow[0], ConfirmationStatus.SKIPPED, error="late")
        return checks(row)

    monkeypatch.setattr(confirmation, "why_not_send", late_word_meanwhile)
    assert confirmation.send_confirmation(queued.pk) == ConfirmationStatus.SENT
    queued.refresh_from_db()
    assert queued.status == ConfirmationStatus.SENT and queued.attempts == 2
    assert len(mail.outbox) == 1


def test_a_transient_error_after_the_mark_clears_it_for_the_retry(queued, scripted_backend):
    scripted_backend.failures = [OSError("connection reset")]

    with pytest.raises(esp_call.TransientSendError):
        confirmation.send_confirmation(queued.pk)

    queued.refresh_from_db()
    assert queued.status == ConfirmationStatus.QUEUED and queued.esp_call_started_at is None
    assert "connection reset" in queued.error
    assert confirmation.send_confirmation(queued.pk) == ConfirmationStatus.SENT
    assert len(mail.outbox) == 1
