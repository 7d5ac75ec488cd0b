"""Sending one recovery message, exactly once.

The guarantee comes from the database, not from luck:

- one row per journey and step (``recovery_message_once``), created by the dispatcher;
- an atomic claim, ``UPDATE .. SET status='sending' WHERE status='queued'``: of any number of
  workers, retries or duplicated tasks, one wins and the others find nothing to do;
- a message is only ever handed to the ESP while claimed, and the moment its ESP call
  starts is committed first (``esp_call_started_at``, only by the current claimant). A
  worker that dies mid-send leaves it "sending"; the sweep later queues it again if that
  mark is missing (it never reached the ESP), and otherwise marks it failed
  (``interrupted``) rather than sending again, since the ESP may already have accepted it:
  a lost email beats a duplicate;
- ``OSCAR_RECOVERY_SEND_RATE`` is taken, one token per ESP call, from a bucket every worker
  shares (:mod:`oscar_recovery.sending.rate`).

Transient errors (network, ESP 5xx/429, SMTP 4xx) put the message back in the queue for the
Celery task to retry with backoff; permanent ones (refused address, ESP 4xx, a broken
template) mark it failed with the error. Skips are recorded with their reason.
"""

from __future__ import annotations

import smtplib
from datetime import datetime

from anymail.exceptions import AnymailAPIError, AnymailError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from oscar_recovery import app_settings, signals
from oscar_recovery.constants import CampaignTrigger, EnrolmentStatus, MessageStatus, SkipReason
from oscar_recovery.handoff import publish_soon
from oscar_recovery.models import CampaignEnrolment, CartJourney, RecoveryMessage
from oscar_recovery.sending import rate
from oscar_recovery.sending.content import compose, load_email_products
from oscar_recovery.sending.send_checks import why_not_send
from oscar_recovery.sending.vouchers import issue_voucher
from oscar_recovery.utils import get_logger, redact

logger = get_logger(__name__)

#: Why a message left "sending" without a known outcome.
INTERRUPTED = "interrupted: the worker stopped mid-send; not resent, to avoid a duplicate"
#: Left on a message queued again because its worker stopped before the ESP call.
INTERRUPTED_BEFORE_ESP = "interrupted before the ESP call: queued again"
#: Why a message that never reached the ESP was given up after its workers kept stopping.
INTERRUPTED_UNSENT = "interrupted: the worker stopped before the ESP call, too many times"


class TransientSendError(Exception):
    """The ESP could not take the message now; it is queued again and worth retrying."""


class RateLimited(TransientSendError):
    """No send-rate token came within ``OSCAR_RECOVERY_SEND_RATE_MAX_WAIT``: the message is
    queued again (this attempt not counted); retry after ``countdown`` seconds."""

    def __init__(self, countdown: float) -> None:
        super().__init__(f"send rate reached; next token in {countdown:.2f}s")
        self.countdown = countdown


def is_transient(exc: BaseException) -> bool:
    """Whether a send error is worth retrying (the same email may go through later)."""
    if isinstance(exc, AnymailAPIError):
        status = exc.status_code
        return status is None or status >= 500 or status in (408, 429)
    if isinstance(exc, AnymailError):
        return False  # refused or invalid recipients, unsupported features: retrying won't help
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return False
    return isinstance(exc, (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, OSError))


def claim(message_id: int, now: datetime) -> bool:
    """Take the message for sending; False when another worker has it or it is done."""
    claimed = RecoveryMessage.objects.filter(pk=message_id, status=MessageStatus.QUEUED).update(
        status=MessageStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1
    )
    return claimed == 1


def send_message(message_id: int, now: datetime | None = None) -> str:
    """Send one queued message if it may still go out. Returns its resulting status.

    Raises :class:`TransientSendError` after putting the message back in the queue, for the
    caller (the Celery task) to retry later.
    """
    now = now or timezone.now()
    if not claim(message_id, now):
        current = RecoveryMessage.objects.filter(pk=message_id).values_list("status", flat=True)
        return current[0] if current else ""
    message = RecoveryMessage.objects.select_related(
        "journey__user", "journey__enrolment", "journey__basket", "step__campaign", "variant"
    ).get(pk=message_id)
    reason = why_not_send(message, now)
    products = load_email_products(message.journey) if reason is None else None
    if reason is None and not products.lines:
        browsing = message.step.campaign.trigger == CampaignTrigger.BROWSE_ABANDONED
        if not browsing:
            reason = SkipReason.BASKET_EMPTY
        elif not products.viewed:
            reason = SkipReason.NOTHING_VIEWED
    if reason is not None:
        _finish(message, MessageStatus.SKIPPED, skip_reason=reason)
        if reason in ENDS_ENROLMENT:
            _stop_enrolment(message.journey_id, reason)
        return MessageStatus.SKIPPED
    try:
        voucher = issue_voucher(message, now)
        email = compose(message, products, voucher)
    except Exception as exc:
        return _failed_attempt(message, exc)
    if not start_esp_call(message):
        current = RecoveryMessage.objects.filter(pk=message_id).values_list("status", flat=True)
        return current[0] if current else ""
    try:
        email.send()
    except Exception as exc:
        return _failed_attempt(message, exc)
    _finish(
        message,
        MessageStatus.SENT,
        sent_at=now,
        to_email=message.journey.email,
        esp_message_id=_esp_message_id(email),
        error="",
    )
    _announce_sent(message)
    return MessageStatus.SENT


#: Skip reasons no later step can get past: the enrolment stops with the reason, so the
#: dashboard says "Stopped" (not "Active, next: step 3") and offers no "Send now". Reasons
#: that can pass (a cooldown, consent not yet given or confirmed, an emptied basket) leave
#: the later steps to be checked on their own.
ENDS_ENROLMENT = frozenset(
    {
        SkipReason.SUPPRESSED,
        SkipReason.CONSENT_REFUSED,
        SkipReason.NO_EMAIL,
        SkipReason.BOT,
        SkipReason.STAFF,
        SkipReason.ORDER_PLACED,
        SkipReason.JOURNEY_ENDED,
        SkipReason.NEWER_JOURNEY,
    }
)


def _stop_enrolment(journey_id: int, reason: str) -> None:
    CampaignEnrolment.objects.filter(
        journey_id=journey_id, status__in=(EnrolmentStatus.ACTIVE, EnrolmentStatus.PAUSED)
    ).update(status=EnrolmentStatus.STOPPED, stop_reason=reason, next_send_at=None)


def start_esp_call(message: RecoveryMessage) -> bool:
    """Right before the ESP call: take a send-rate token (may sleep, bounded), then record,
    committed, that the call starts. False when the claim was lost meanwhile (the sweep
    queued the message again): the caller must not send.

    Raises :class:`RateLimited` after putting the message back in the queue when no token
    came in time. The mark is a single ``UPDATE`` in autocommit, as the task and the sweep
    run it, so it is committed before the ESP sees anything; it matches only this claim
    (status "sending" and this claim's attempt number) and only the first time.
    """
    _take_send_token(message)
    marked = RecoveryMessage.objects.filter(
        pk=message.pk,
        status=MessageStatus.SENDING,
        attempts=message.attempts,
        esp_call_started_at__isnull=True,
    ).update(esp_call_started_at=timezone.now())
    if not marked:
        logger.warning("Recovery message %s: claim lost before the ESP call", message.pk)
    return marked == 1


def _take_send_token(message: RecoveryMessage) -> None:
    if app_settings.SEND_RATE is None:
        return  # unlimited: not even a query
    limit = rate.parse_rate(app_settings.SEND_RATE)
    wait = rate.acquire(limit, app_settings.SEND_RATE_MAX_WAIT.total_seconds())
    if wait:
        # Waiting for a token is not a failed attempt: give back the one the claim counted.
        _finish(
            message,
            MessageStatus.QUEUED,
            attempts=F("attempts") - 1,
            enqueued_at=timezone.now(),
            esp_call_started_at=None,
        )
        raise RateLimited(wait)


def _announce_sent(message: RecoveryMessage) -> None:
    # The email is gone: a failing receiver must not make the task look failed and retry.
    for receiver, response in signals.email_sent.send_robust(sender=CartJourney, message=message):
        if isinstance(response, Exception):
            logger.error("email_sent receiver %r failed: %r", receiver, response)


def _esp_message_id(email) -> str:
    # anymail reports the ESP's id (what its tracking webhooks refer to); other backends
    # keep the Message-ID header we set.
    status = getattr(email, "anymail_status", None)
    esp_id = getattr(status, "message_id", None) if status is not None else None
    if esp_id is not None and esp_id != "":
        return str(esp_id)[:255]
    return str(email.extra_headers.get("Message-ID", ""))[:255]


def _failed_attempt(message: RecoveryMessage, exc: Exception) -> str:
    # ESPs and SMTP servers quote the recipient; the address is on the journey already.
    error = redact(f"{type(exc).__name__}: {_describe(exc)}")[:2000]
    if is_transient(exc) and message.attempts < app_settings.SEND_MAX_RETRIES:
        logger.warning("Recovery message %s will be retried: %s", message.pk, error)
        # The task's retry is this message's next hand-over.
        _finish(
            message,
            MessageStatus.QUEUED,
            error=error,
            enqueued_at=timezone.now(),
            esp_call_started_at=None,  # that call ended with an answer: the next is new
        )
        raise TransientSendError(error) from exc
    logger.error("Recovery message %s failed: %s", message.pk, error, exc_info=exc)
    _finish(message, MessageStatus.FAILED, error=error)
    return MessageStatus.FAILED


def _describe(exc: Exception) -> str:
    try:
        return str(exc)
    except Exception:  # some ESP errors cannot describe themselves without a response
        return repr(exc.args)


def _finish(message: RecoveryMessage, status: str, **fields) -> None:
    """Leave the "sending" state; only the claimant may (this claim's attempt number), so
    a row the sweep queued again and another worker claimed is never overwritten."""
    RecoveryMessage.objects.filter(
        pk=message.pk, status=MessageStatus.SENDING, attempts=message.attempts
    ).update(status=status, **fields)


def _stale_sending(now: datetime):
    return RecoveryMessage.objects.filter(
        status=MessageStatus.SENDING, claimed_at__lt=now - app_settings.SENDING_STALE_AFTER
    )


def fail_interrupted(now: datetime | None = None) -> int:
    """Messages claimed so long ago that their worker must have died mid-send, and whose
    ESP call had started: failed (``interrupted``), never resent. Also those that never
    reached the ESP but used up ``OSCAR_RECOVERY_SEND_MAX_RETRIES`` claims (a message that
    keeps killing its worker must not loop forever). Returns how many."""
    now = now or timezone.now()
    in_flight = _stale_sending(now).filter(esp_call_started_at__isnull=False)
    exhausted = _stale_sending(now).filter(
        esp_call_started_at__isnull=True, attempts__gte=app_settings.SEND_MAX_RETRIES
    )
    return in_flight.update(status=MessageStatus.FAILED, error=INTERRUPTED) + exhausted.update(
        status=MessageStatus.FAILED, error=INTERRUPTED_UNSENT
    )


def requeue_unsent(now: datetime | None = None) -> list[int]:
    """Messages left "sending" past ``OSCAR_RECOVERY_SENDING_STALE_AFTER`` whose ESP call
    never started: their worker died before the ESP saw them, so they are queued and
    handed over again. Each row moves by its own conditional ``UPDATE`` (still sending,
    still unmarked), so a slow worker that marks it meanwhile keeps it, and one that marks
    it later finds its claim gone and does not send. Returns the ids queued again."""
    now = now or timezone.now()
    candidates = list(
        _stale_sending(now)
        .filter(esp_call_started_at__isnull=True, attempts__lt=app_settings.SEND_MAX_RETRIES)
        .values_list("pk", "attempts")[: app_settings.SWEEP_BATCH_SIZE]
    )
    requeued = [
        pk
        for pk, attempts in candidates
        if RecoveryMessage.objects.filter(
            pk=pk,
            status=MessageStatus.SENDING,
            attempts=attempts,
            esp_call_started_at__isnull=True,
        ).update(status=MessageStatus.QUEUED, error=INTERRUPTED_BEFORE_ESP)
    ]
    enqueue(requeued, now)
    return requeued


def enqueue(message_ids: list[int], now: datetime | None = None) -> None:
    """Hand messages to Celery once the transaction that created them commits, without
    waiting for the broker. A broker that is down only delays them: they stay queued and
    the sweep hands them over again. Without Celery (inline mode) nothing is published:
    the sweep sends them itself (:func:`send_queued`)."""
    if not message_ids:
        return
    now = now or timezone.now()
    RecoveryMessage.objects.filter(pk__in=message_ids).update(enqueued_at=now)
    arg_lists = [(pk,) for pk in message_ids]
    transaction.on_commit(lambda: publish_soon("oscar_recovery.send_message", arg_lists))


def send_queued(message_ids: list[int], now: datetime | None = None) -> dict[str, int]:
    """Inline mode: send messages here, one after the other (the sweep run by cron). The
    claim in :func:`send_message` keeps each to one send, whoever else tries; a transient
    failure leaves the message queued for a later sweep. Returns counts by status."""
    counts: dict[str, int] = {}
    for pk in message_ids:
        try:
            status = send_message(pk, now)
        except TransientSendError:
            status = MessageStatus.QUEUED
        counts[status] = counts.get(status, 0) + 1
    return counts


def requeue_stale(now: datetime | None = None) -> list[int]:
    """Queued messages whose task never ran (broker down, task lost): queue them again."""
    now = now or timezone.now()
    cutoff = now - app_settings.QUEUED_STALE_AFTER
    stale = list(
        RecoveryMessage.objects.filter(status=MessageStatus.QUEUED)
        .filter(Q(enqueued_at__lt=cutoff) | Q(enqueued_at__isnull=True, created_at__lt=cutoff))
        .values_list("pk", flat=True)[: app_settings.SWEEP_BATCH_SIZE]
    )
    enqueue(stale, now)
    return stale
