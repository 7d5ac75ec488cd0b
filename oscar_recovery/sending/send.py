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

The token, the mark, the sweep's handling of stale rows and the error classification are
shared with the double opt-in confirmation emails (:mod:`oscar_recovery.sending.esp_call`).

Transient errors (network, ESP 5xx/429, SMTP 4xx) put the message back in the queue for the
Celery task to retry with backoff; permanent ones (refused address, ESP 4xx, a broken
template) mark it failed with the error. Skips are recorded with their reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.core.mail import get_connection
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from oscar_recovery import app_settings, signals
from oscar_recovery.constants import CampaignTrigger, EnrolmentStatus, MessageStatus, SkipReason
from oscar_recovery.contacts.addresses import safe_canonical_email
from oscar_recovery.handoff import publish_soon
from oscar_recovery.models import CampaignEnrolment, CartJourney, RecoveryMessage
from oscar_recovery.sending import esp_call
from oscar_recovery.sending.content import compose, email_batch, load_email_products_many
from oscar_recovery.sending.esp_call import INTERRUPTED as INTERRUPTED
from oscar_recovery.sending.esp_call import INTERRUPTED_BEFORE_ESP as INTERRUPTED_BEFORE_ESP
from oscar_recovery.sending.esp_call import INTERRUPTED_UNSENT as INTERRUPTED_UNSENT
from oscar_recovery.sending.esp_call import RateLimited, TransientSendError, is_transient
from oscar_recovery.sending.esp_call import describe_error as _describe
from oscar_recovery.sending.send_checks import why_not_send_many
from oscar_recovery.sending.vouchers import issue_voucher, journeys_holding_codes
from oscar_recovery.utils import get_logger, redact

logger = get_logger(__name__)


def claim(message_id: int, now: datetime) -> bool:
    """Take the message for sending; False when another worker has it or it is done."""
    claimed = RecoveryMessage.objects.filter(pk=message_id, status=MessageStatus.QUEUED).update(
        status=MessageStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1
    )
    return claimed == 1


def claim_many(message_ids: Sequence[int], now: datetime) -> list[int]:
    """:func:`claim` for many messages: those this call took, in id order. Each message is
    still taken by a conditional ``UPDATE .. WHERE status='queued'``, so of several workers
    one wins it; here it is one statement returning what it changed where the database can
    (PostgreSQL, which locks the rows in id order first so two workers never deadlock, and
    SQLite 3.35+, whose writers run one at a time), else one ``UPDATE`` per message in id
    order in one transaction."""
    ids = sorted(set(message_ids))
    connection = transaction.get_connection()
    returning = connection.vendor in ("postgresql", "sqlite") and (
        connection.features.can_return_rows_from_bulk_insert  # RETURNING: SQLite 3.35+
    )
    if not ids or not returning:
        with transaction.atomic():
            return [pk for pk in ids if claim(pk, now)]
    meta, quote = RecoveryMessage._meta, connection.ops.quote_name
    table = quote(meta.db_table)
    pk, status, claimed_at, attempts = (
        quote(meta.get_field(name).column) for name in ("id", "status", "claimed_at", "attempts")
    )
    marks = ", ".join(["%s"] * len(ids))
    rows = f"SELECT {pk} FROM {table} WHERE {pk} IN ({marks}) AND {status} = %s"
    if connection.vendor == "postgresql":
        rows += f" ORDER BY {pk} FOR UPDATE"
    sql = (
        f"UPDATE {table} SET {status} = %s, {claimed_at} = %s, {attempts} = {attempts} + 1 "
        f"WHERE {pk} IN ({rows}) AND {status} = %s RETURNING {pk}"
    )
    queued, sending = str(MessageStatus.QUEUED), str(MessageStatus.SENDING)
    claimed_at_value = connection.ops.adapt_datetimefield_value(now)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [sending, claimed_at_value, *ids, queued, queued])
        return sorted(row[0] for row in cursor.fetchall())


def send_message(message_id: int, now: datetime | None = None) -> str:
    """Send one queued message if it may still go out. Returns its resulting status.

    Raises :class:`TransientSendError` after putting the message back in the queue, for the
    caller (the Celery task) to retry later.
    """
    result = send_batch([message_id], now)
    if message_id in result.retry:
        if result.rate_limited is not None:
            raise result.rate_limited
        raise TransientSendError(result.errors[message_id])
    return result.statuses.get(message_id, "")


@dataclass
class BatchResult:
    """What :func:`send_batch` did: each message's resulting status, and the messages put
    back in the queue after a transient error (``retry``, with their ``errors``)."""

    statuses: dict[int, str] = field(default_factory=dict)
    retry: list[int] = field(default_factory=list)
    errors: dict[int, str] = field(default_factory=dict)
    #: Set when no send-rate token came in time (its ``countdown`` says when to retry).
    rate_limited: RateLimited | None = None

    def record(self, message_id: int, status: str, error: str = "") -> None:
        """A message's outcome; queued again means it is to be retried, with ``error``."""
        self.statuses[message_id] = status
        if status == MessageStatus.QUEUED:
            self.retry.append(message_id)
            self.errors[message_id] = error


def send_batch(message_ids: Sequence[int], now: datetime | None = None) -> BatchResult:
    """Send the queued messages among ``message_ids`` that may still go out, as a batch.

    Exactly once as for one message: each is claimed by an atomic ``UPDATE .. WHERE
    status='queued'`` (:func:`claim_many`: one statement for the batch, rows taken in id
    order so two workers never deadlock), and only claimed messages are checked and sent.
    The work is per batch: the send-time checks are a few set-based queries
    (:func:`why_not_send_many`), the products and recommendations are loaded once
    (:func:`load_email_products_many`), each product's links and image are worked out once
    (:func:`~oscar_recovery.sending.content.email_batch`), and the emails go through one
    connection to the email backend. Right before each ESP call a send-rate token is taken
    and the call's start is committed (:func:`start_esp_call`); what the call answered is
    committed right after it (:func:`_finish_at_once`), and the outcomes decided before any
    call (skips, messages given back) in one transaction at the end. A worker dying
    mid-batch thus leaves "sending" only the message whose call was in flight, failed later
    as ``interrupted`` (the ESP may have taken it), and those it had not reached, which go
    back to the queue, so none is sent twice. When no token comes in time, the message and
    the rest of the batch go back to the queue unsent. One address gets at most
    one email of a batch while ``ADDRESS_COOLDOWN`` is set (the others are skipped, as they
    would be one after the other). A transient error of one message requeues that message
    only (``BatchResult.retry``); the others' outcomes stand.
    """
    now = now or timezone.now()
    result = BatchResult()
    ids = sorted(set(message_ids))
    claimed = claim_many(ids, now)
    others = set(ids) - set(claimed)
    if others:
        result.statuses.update(
            RecoveryMessage.objects.filter(pk__in=others).values_list("pk", "status")
        )
    if not claimed:
        return result
    messages = list(
        RecoveryMessage.objects.select_related(
            "journey__user", "journey__enrolment", "journey__basket", "step__campaign", "variant"
        )
        .filter(pk__in=claimed)
        .order_by("pk")
    )
    reasons = why_not_send_many(messages, now)
    outgoing = [m for m in messages if m.pk not in reasons]
    loaded = dict(
        zip(
            [m.pk for m in outgoing],
            load_email_products_many([m.journey for m in outgoing]),
            strict=True,
        )
    )
    holding = journeys_holding_codes([m.journey_id for m in outgoing]) if outgoing else set()
    finishes: list[tuple[RecoveryMessage, str, dict]] = []
    sent: list[RecoveryMessage] = []
    emailed: set[str] = set()
    rate_limited = ""
    stopped: list[tuple[int, str]] = []
    connection = _open_connection() if outgoing else None
    try:
        # Each product's links and image, and the guests' greetings, once for the batch.
        with email_batch([m.journey for m in outgoing]):
            for message in messages:
                reason = reasons.get(message.pk)
                products = loaded.get(message.pk)
                if reason is None:
                    reason = _why_not_show(message, products)
                address = safe_canonical_email(message.journey.email)
                if (
                    reason is None
                    and app_settings.ADDRESS_COOLDOWN
                    and address
                    and address in emailed
                ):
                    reason = SkipReason.COOLDOWN  # this batch's earlier email to the address
                if reason is not None:
                    finishes.append((message, MessageStatus.SKIPPED, {"skip_reason": reason}))
                    result.statuses[message.pk] = MessageStatus.SKIPPED
                    if reason in ENDS_ENROLMENT:
                        stopped.append((message.journey_id, reason))
                    continue
                if rate_limited:
                    # No token came in time: the rest of the batch waits in the queue too.
                    finishes.append((message, MessageStatus.QUEUED, _unclaimed()))
                    result.record(message.pk, MessageStatus.QUEUED, rate_limited)
                    continue
                try:
                    voucher = issue_voucher(
                        message, now, journey_holds_codes=message.journey_id in holding
                    )
                    email = compose(message, products, voucher)
                    email.connection = connection
                except Exception as exc:
                    status, fields = _failed_outcome(message, exc)
                    finishes.append((message, status, fields))
                    result.record(message.pk, status, fields.get("error", ""))
                    continue
                try:
                    marked = start_esp_call(message)
                except RateLimited as exc:  # start_esp_call queued this one again
                    rate_limited, result.rate_limited = str(exc), exc
                    result.record(message.pk, MessageStatus.QUEUED, rate_limited)
                    continue
                if not marked:  # the sweep took the claim back: another attempt owns it now
                    continue
                try:
                    email.send()
                except Exception as exc:
                    status, fields = _failed_outcome(message, exc)
                    _finish_at_once(message, status, **fields)
                    result.record(message.pk, status, fields.get("error", ""))
                    continue
                emailed.add(address)
                _finish_at_once(
                    message,
                    MessageStatus.SENT,
                    sent_at=now,
                    to_email=message.journey.email,
                    esp_message_id=_esp_message_id(email),
                    error="",
                )
                result.statuses[message.pk] = MessageStatus.SENT
                sent.append(message)
    finally:
        if connection is not None:
            _close_connection(connection)
        with transaction.atomic():  # one commit for the outcomes decided before any ESP call
            for message, status, fields in finishes:
                _finish(message, status, **fields)
            for journey_id, reason in stopped:
                _stop_enrolment(journey_id, reason)
    _announce_sent(sent)
    return result


def _unclaimed() -> dict:
    """The fields that give a claim back unused: queued again, the attempt not counted."""
    return {"attempts": F("attempts") - 1, "enqueued_at": timezone.now()}


def _why_not_show(message: RecoveryMessage, products) -> SkipReason | None:
    """Nothing left to show: every line (or viewed product) is gone or out of stock."""
    if products.lines:
        return None
    if message.step.campaign.trigger != CampaignTrigger.BROWSE_ABANDONED:
        return SkipReason.BASKET_EMPTY
    if not products.viewed:
        return SkipReason.NOTHING_VIEWED
    return None


def _open_connection():
    """One connection to the email backend for the batch. A backend that cannot connect
    now is left closed: each send then tries on its own and records its own error."""
    connection = get_connection()
    try:
        connection.open()
    except Exception as exc:
        logger.warning("Email backend did not open a connection: %s", redact(_describe(exc)))
    return connection


def _close_connection(connection) -> None:
    try:
        connection.close()
    except Exception as exc:  # the emails are gone; a failing goodbye changes nothing
        logger.warning("Email backend did not close cleanly: %s", redact(_describe(exc)))


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
    came in time. The mark is committed on its own (the task and the sweep run outside a
    transaction), so before the ESP sees anything; it matches only this claim
    (status "sending" and this claim's attempt number) and only the first time.

    The mark has to outlive the worker, not the database server, so it does not wait for
    the disk (:func:`oscar_recovery.sending.esp_call.without_flush`): once committed every
    other session sees it, and a killed worker cannot take it back.
    """
    this_claim = RecoveryMessage.objects.filter(
        pk=message.pk, status=MessageStatus.SENDING, attempts=message.attempts
    )
    return esp_call.start(
        this_claim, queued=MessageStatus.QUEUED, label=f"Recovery message {message.pk}"
    )


def _announce_sent(messages: list[RecoveryMessage]) -> None:
    """``emails_sent`` for the batch, then ``email_sent`` for each message."""
    if not messages:
        return
    # The emails are gone: a failing receiver must not make the task look failed and retry.
    responses = signals.emails_sent.send_robust(sender=CartJourney, messages=messages)
    for message in messages:
        responses += signals.email_sent.send_robust(sender=CartJourney, message=message)
    for receiver, response in responses:
        if isinstance(response, Exception):
            logger.error("Receiver %r of a sent email failed: %r", receiver, response)


def _esp_message_id(email) -> str:
    # anymail reports the ESP's id (what its tracking webhooks refer to); other backends
    # keep the Message-ID header we set.
    status = getattr(email, "anymail_status", None)
    esp_id = getattr(status, "message_id", None) if status is not None else None
    if esp_id is not None and esp_id != "":
        return str(esp_id)[:255]
    return str(email.extra_headers.get("Message-ID", ""))[:255]


def _failed_outcome(message: RecoveryMessage, exc: Exception) -> tuple[str, dict]:
    """The status and fields a failed send leaves: queued again (transient, retries left)
    or failed."""
    error = esp_call.error_text(exc)  # redacted: ESPs and SMTP servers quote the recipient
    if is_transient(exc) and message.attempts < app_settings.SEND_MAX_RETRIES:
        logger.warning("Recovery message %s will be retried: %s", message.pk, error)
        # The task's retry is this message's next hand-over.
        # That call ended with an answer: the next one is new (no ESP mark).
        return MessageStatus.QUEUED, {
            "error": error,
            "enqueued_at": timezone.now(),
            "esp_call_started_at": None,
        }
    logger.error("Recovery message %s failed: %s", message.pk, error, exc_info=exc)
    return MessageStatus.FAILED, {"error": error}


def _finish(message: RecoveryMessage, status: str, **fields) -> None:
    """Leave the "sending" state; only the claimant may (this claim's attempt number), so
    a row the sweep queued again and another worker claimed is never overwritten."""
    _claim_of(message).update(status=status, **fields)


def _finish_at_once(message: RecoveryMessage, status: str, **fields) -> None:
    """:func:`_finish` for what the ESP call answered, committed at once (without waiting
    for the disk, as the mark: :func:`~oscar_recovery.sending.esp_call.without_flush`), not
    with the rest of the batch: a worker that dies later in its batch must not leave an
    email the ESP took looking interrupted (failed, and without the ESP's message id that
    its tracking events refer to)."""
    esp_call.without_flush(_claim_of(message)).update(status=status, **fields)


def _claim_of(message: RecoveryMessage):
    return RecoveryMessage.objects.filter(
        pk=message.pk, status=MessageStatus.SENDING, attempts=message.attempts
    )


def _stale_sending(now: datetime):
    return RecoveryMessage.objects.filter(
        status=MessageStatus.SENDING, claimed_at__lt=now - app_settings.SENDING_STALE_AFTER
    )


def fail_interrupted(now: datetime | None = None) -> int:
    """Messages claimed so long ago that their worker must have died mid-send, and whose
    ESP call had started: failed (``interrupted``), never resent. Also those that never
    reached the ESP but used up ``OSCAR_RECOVERY_SEND_MAX_RETRIES`` claims (a message that
    keeps killing its worker must not loop forever). Returns how many. Their rows are
    locked in id order first, as a worker's batch locks them (:func:`_lock_in_id_order`)."""
    now = now or timezone.now()
    with transaction.atomic():
        stale = _lock_in_id_order(
            _stale_sending(now).filter(
                Q(esp_call_started_at__isnull=False)
                | Q(attempts__gte=app_settings.SEND_MAX_RETRIES)
            )
        )
        return esp_call.fail_interrupted(
            _stale_sending(now).filter(pk__in=stale), failed=MessageStatus.FAILED
        )


def _lock_in_id_order(messages) -> list[int]:
    """Row-lock ``messages`` in id order (in the caller's transaction); returns their ids.

    A worker claims its batch in id order (:func:`claim_many`) and writes its outcomes one
    message at a time in id order. A multi-row ``UPDATE`` locks rows in whatever order its
    plan meets them (the physical order, on a scan of the table, where a row's newest
    version may lie after a later id's), so the sweep updating some of the same messages
    could hold one the worker waits for while waiting for one the worker holds: PostgreSQL
    then aborts one of them, the sweep or the worker's whole batch. Locking in id order
    first makes the sweep wait its turn instead."""
    return list(messages.select_for_update().order_by("pk").values_list("pk", flat=True))


def requeue_unsent(now: datetime | None = None) -> list[int]:
    """Messages left "sending" past ``OSCAR_RECOVERY_SENDING_STALE_AFTER`` whose ESP call
    never started: their worker died before the ESP saw them, so they are queued and
    handed over again. Each row moves by its own conditional ``UPDATE`` (still sending,
    still unmarked), so a slow worker that marks it meanwhile keeps it, and one that marks
    it later finds its claim gone and does not send. Returns the ids queued again.

    Each goes back as a batch of its own (:data:`ALONE`): one of them may be what killed
    the worker, and sent with the others again it would use up their claims too."""
    now = now or timezone.now()
    requeued = esp_call.requeue_unsent(
        _stale_sending(now), sending=MessageStatus.SENDING, queued=MessageStatus.QUEUED
    )
    enqueue(requeued, now, batch_size=ALONE)
    return requeued


#: The batch size for messages whose worker died before their ESP call (see
#: :func:`requeue_unsent`).
ALONE = 1


def enqueue(
    message_ids: list[int], now: datetime | None = None, *, batch_size: int | None = None
) -> None:
    """Hand messages to Celery once the transaction that created them commits, without
    waiting for the broker, in tasks of ``batch_size`` messages (``SEND_BATCH_SIZE`` by
    default). A broker that is down only delays them: they stay queued and the sweep hands
    them over again. Without Celery (inline mode) nothing is published: the sweep sends
    them itself (:func:`send_queued`)."""
    if not message_ids:
        return
    now = now or timezone.now()
    with transaction.atomic():  # locks in the workers' order (see _lock_in_id_order)
        locked = _lock_in_id_order(RecoveryMessage.objects.filter(pk__in=message_ids))
        RecoveryMessage.objects.filter(pk__in=locked).update(enqueued_at=now)
    # Batches: the task sends them together (:func:`send_batch`), each claimed on its own.
    size = batch_size or app_settings.SEND_BATCH_SIZE
    arg_lists = [(message_ids[i : i + size],) for i in range(0, len(message_ids), size)]
    transaction.on_commit(lambda: publish_soon("oscar_recovery.send_messages", arg_lists))


def send_queued(
    message_ids: list[int], now: datetime | None = None, *, batch_size: int | None = None
) -> dict[str, int]:
    """Inline mode: send messages here, in batches of ``batch_size`` (``SEND_BATCH_SIZE`` by
    default; the sweep run by cron). The claim in :func:`send_batch` keeps each to one send,
    whoever else tries; a transient failure leaves the message queued for a later sweep.
    Returns counts by status."""
    counts: dict[str, int] = {}
    size = batch_size or app_settings.SEND_BATCH_SIZE
    for i in range(0, len(message_ids), size):
        for status in send_batch(message_ids[i : i + size], now).statuses.values():
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
