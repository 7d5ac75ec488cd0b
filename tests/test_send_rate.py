"""The shared send rate, and resending what never reached the ESP.

The worst sender here is no shopper (nothing is reachable from a request): it is the
cluster itself. A worker killed at any point, a slow worker whose claim went stale, and
several workers at once must never cause a second email, and must not lose one that the
ESP never saw. The multi-process proofs are in tests/integration/test_send_workers.py.
"""

import time
from datetime import timedelta

import pytest
from anymail.backends.test import EmailBackend as AnymailTestBackend
from django.core import mail
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from oscar_recovery.constants import MessageStatus
from oscar_recovery.models import RecoveryMessage, SendRateBucket
from oscar_recovery.sending import rate
from oscar_recovery.sending import send as sending
from oscar_recovery.sweep.stages import send_due
from tests import test_sending
from tests.support.backends import ScriptedBackend, in_another_session

pytestmark = pytest.mark.django_db
# The message fixtures of the sending tests.
step, message, scripted_backend = (
    test_sending.step,
    test_sending.message,
    test_sending.scripted_backend,
)


class PeekingBackend(AnymailTestBackend):
    """Records what the database says about each message at the moment the ESP gets it."""

    seen: list = []

    def send_messages(self, email_messages):
        PeekingBackend.seen.extend(
            RecoveryMessage.objects.values_list("status", "esp_call_started_at")
        )
        return super().send_messages(email_messages)


class OtherSessionBackend(AnymailTestBackend):
    """Reads the messages' ESP marks from another database session (another thread's
    connection, as another worker or the sweep would) at the moment the ESP gets an email."""

    seen: list = []

    def send_messages(self, email_messages):
        OtherSessionBackend.seen.extend(
            in_another_session(
                lambda: list(RecoveryMessage.objects.values_list("esp_call_started_at", flat=True))
            )
        )
        return super().send_messages(email_messages)


def stale_sending(message, **fields):
    long_ago = timezone.now() - timedelta(hours=1)
    RecoveryMessage.objects.filter(pk=message.pk).update(
        status=MessageStatus.SENDING, claimed_at=long_ago, attempts=1, **fields
    )
    return long_ago


# Resending what never reached the ESP


def test_the_esp_call_is_marked_before_the_esp_sees_the_email(message, settings):
    settings.EMAIL_BACKEND = "tests.test_send_rate.PeekingBackend"
    PeekingBackend.seen = []

    assert sending.send_message(message.pk) == MessageStatus.SENT

    ((status, started),) = PeekingBackend.seen
    assert status == MessageStatus.SENDING and started is not None
    message.refresh_from_db()
    assert message.esp_call_started_at == started


@pytest.mark.django_db(transaction=True)
def test_the_esp_mark_is_committed_for_every_session_before_the_esp_call(message, settings):
    settings.EMAIL_BACKEND = "tests.test_send_rate.OtherSessionBackend"
    OtherSessionBackend.seen = []

    with CaptureQueriesContext(connection) as queries:
        assert sending.send_message(message.pk) == MessageStatus.SENT

    # What a worker killed now would leave for the sweep: the mark, committed.
    (started,) = OtherSessionBackend.seen
    assert started is not None
    if connection.vendor == "postgresql":
        # The mark's commit skips the disk flush, in the same statement, for its own
        # transaction only: the session's setting is untouched.
        (mark,) = [
            q["sql"] for q in queries.captured_queries if 'esp_call_started_at" = ' in q["sql"]
        ]
        assert "set_config('synchronous_commit', 'off', true)" in mark
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            assert cursor.fetchone()[0] == "on"


def test_a_stale_message_that_never_reached_the_esp_is_sent_by_the_sweep(
    message, django_capture_on_commit_callbacks
):
    stale_sending(message)

    with django_capture_on_commit_callbacks(execute=True):
        result = send_due()

    assert result.interrupted == 0 and result.requeued == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and message.attempts == 2
    assert len(mail.outbox) == 1


def test_a_stale_message_whose_esp_call_started_is_failed_not_resent(
    message, django_capture_on_commit_callbacks
):
    stale_sending(message, esp_call_started_at=timezone.now() - timedelta(minutes=59))

    with django_capture_on_commit_callbacks(execute=True):
        result = send_due()

    assert result.interrupted == 1 and result.requeued == 0
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED and message.error == sending.INTERRUPTED
    assert mail.outbox == []


def test_a_message_that_keeps_stopping_its_worker_is_given_up(message, settings):
    settings.OSCAR_RECOVERY_SEND_MAX_RETRIES = 1
    stale_sending(message)

    assert sending.requeue_unsent() == []
    assert sending.fail_interrupted() == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert message.error == sending.INTERRUPTED_UNSENT


def test_a_recent_claim_is_left_to_its_worker(message):
    RecoveryMessage.objects.filter(pk=message.pk).update(
        status=MessageStatus.SENDING, claimed_at=timezone.now(), attempts=1
    )

    assert sending.requeue_unsent() == [] and sending.fail_interrupted() == 0


def test_a_slow_worker_whose_claim_was_queued_again_does_not_send(
    message, django_capture_on_commit_callbacks
):
    long_ago = timezone.now() - timedelta(hours=1)
    assert sending.claim(message.pk, long_ago)
    slow = RecoveryMessage.objects.get(pk=message.pk)  # the slow worker's copy, attempt 1
    with django_capture_on_commit_callbacks(execute=False):
        assert sending.requeue_unsent() == [message.pk]

    assert sending.start_esp_call(slow) is False
    assert sending.send_message(message.pk) == MessageStatus.SENT  # another worker, attempt 2
    sending._finish(slow, MessageStatus.SKIPPED)  # the slow worker's late outcome is ignored
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and len(mail.outbox) == 1
    assert sending.start_esp_call(slow) is False


def test_a_transient_error_after_the_mark_clears_it_for_the_retry(message, scripted_backend):
    scripted_backend.failures = [OSError("connection reset")]

    with pytest.raises(sending.TransientSendError):
        sending.send_message(message.pk)

    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED and message.esp_call_started_at is None
    assert sending.send_message(message.pk) == MessageStatus.SENT
    assert len(ScriptedBackend.failures) == 0 and len(mail.outbox) == 1


# The shared send rate


@pytest.mark.parametrize(
    ("value", "per_second"),
    [("14/s", 14), ("600/m", 10), (" 7200 / h ", 2), ("86400/d", 1), ("30/min", 0.5)],
)
def test_rates_parse(value, per_second):
    assert rate.parse_rate(value).per_second == pytest.approx(per_second)


@pytest.mark.parametrize("value", ["14", "0/s", "-1/s", "14/w", "fast", "1/s; drop table"])
def test_bad_rates_are_refused(value):
    with pytest.raises(ValueError):
        rate.parse_rate(value)


def test_a_bad_rate_fails_the_system_check(settings):
    settings.OSCAR_RECOVERY_SEND_RATE = "14 per second"
    with pytest.raises(SystemCheckError, match="E012"):
        call_command("check")


def test_the_bucket_spaces_tokens_evenly_without_a_burst():
    ten_per_second = rate.parse_rate("10/s")

    assert rate.take(ten_per_second, now=100.0) == 0  # a new bucket holds one token
    assert rate.take(ten_per_second, now=100.0) == pytest.approx(0.1)
    assert rate.take(ten_per_second, now=100.04) == pytest.approx(0.06)
    assert rate.take(ten_per_second, now=100.1) == 0
    # A long quiet spell refills one token, not a burst of them.
    assert rate.take(ten_per_second, now=500.0) == 0
    assert rate.take(ten_per_second, now=500.0) > 0
    # A worker whose clock is behind gets nothing extra and moves no clock back.
    assert rate.take(ten_per_second, now=400.0) > 0
    assert SendRateBucket.objects.get().refilled_at == 500.0


def test_acquire_sleeps_for_the_next_token_within_its_bound():
    fake_now = [1000.0]
    sleeps: list[float] = []

    def sleep(seconds):
        sleeps.append(seconds)
        fake_now[0] += seconds

    four_per_second = rate.parse_rate("4/s")
    kwargs = {"sleep": sleep, "clock": lambda: fake_now[0]}
    assert rate.acquire(four_per_second, max_wait=1, **kwargs) == 0 and sleeps == []
    assert rate.acquire(four_per_second, max_wait=1, **kwargs) == 0
    assert sleeps == [pytest.approx(0.25)]
    # Too long a wait: nothing taken, the wait is returned for a retry later.
    assert rate.acquire(four_per_second, max_wait=0.1, **kwargs) == pytest.approx(0.25)
    assert len(sleeps) == 1
    assert SendRateBucket.objects.get().tokens == pytest.approx(0)


def test_without_a_send_rate_no_bucket_is_used(message, settings):
    settings.OSCAR_RECOVERY_SEND_RATE = None
    assert sending.send_message(message.pk) == MessageStatus.SENT
    assert not SendRateBucket.objects.exists()


def test_a_send_takes_a_token_from_the_shared_bucket(message, settings):
    settings.OSCAR_RECOVERY_SEND_RATE = "14/s"
    assert sending.send_message(message.pk) == MessageStatus.SENT
    bucket = SendRateBucket.objects.get(name=rate.SEND_BUCKET)
    assert bucket.tokens < 1 and bucket.refilled_at > 0


def test_no_token_in_time_queues_the_message_again_without_spending_an_attempt(message, settings):
    settings.OSCAR_RECOVERY_SEND_RATE = "1/h"
    settings.OSCAR_RECOVERY_SEND_RATE_MAX_WAIT = 0
    SendRateBucket.objects.create(name=rate.SEND_BUCKET, tokens=0, refilled_at=time.time())

    with pytest.raises(sending.RateLimited) as raised:
        sending.send_message(message.pk)

    assert raised.value.countdown > 3000
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED and message.attempts == 0
    assert message.esp_call_started_at is None and mail.outbox == []
    # Inline mode (the sweep sends): it stays queued for a later sweep.
    assert sending.send_queued([message.pk]) == {MessageStatus.QUEUED: 1}
