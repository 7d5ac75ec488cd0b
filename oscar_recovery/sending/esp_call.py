"""The ESP call, one rule set for every email to a shopper that goes through it: recovery
messages (:mod:`oscar_recovery.sending.send`) and double opt-in confirmations
(:mod:`oscar_recovery.privacy.confirmation`).

Both keep a row per email with a ``status`` (``queued → sending → sent/failed/…``), an
``attempts`` count raised by each claim, a ``claimed_at`` and an ``esp_call_started_at``.
What they share, here:

- the send rate: one token from the shared bucket (``OSCAR_RECOVERY_SEND_RATE``) per ESP
  call; no token within ``OSCAR_RECOVERY_SEND_RATE_MAX_WAIT`` gives the claim back unused
  (queued, the attempt not counted) and raises :class:`RateLimited` (:func:`start`);
- the committed mark of the ESP call's start, written only by the current claimant
  (:func:`start`), and what the sweep does with a row left "sending" by a worker that died:
  resend it when unmarked (:func:`requeue_unsent`), fail it as interrupted when marked or
  when it used up its claims (:func:`fail_interrupted`);
- which errors are worth retrying (:func:`is_transient`) and how an error is recorded
  (:func:`error_text`).

Kept free of the send paths' own imports, so the privacy package can import it at module
level (``send`` reaches ``privacy.confirmation`` through the send-time checks).
"""

from __future__ import annotations

import smtplib

from anymail.exceptions import AnymailAPIError, AnymailError
from django.db import transaction
from django.db.models import BooleanField, F, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from oscar_recovery import app_settings
from oscar_recovery.sending import rate
from oscar_recovery.utils import get_logger, redact

logger = get_logger(__name__)

#: Why an email left "sending" without a known outcome.
INTERRUPTED = "interrupted: the worker stopped mid-send; not resent, to avoid a duplicate"
#: Left on an email queued again because its worker stopped before the ESP call.
INTERRUPTED_BEFORE_ESP = "interrupted before the ESP call: queued again"
#: Why an email that never reached the ESP was given up after its workers kept stopping.
INTERRUPTED_UNSENT = "interrupted: the worker stopped before the ESP call, too many times"


class TransientSendError(Exception):
    """The ESP could not take the email now; it is queued again and worth retrying."""


class RateLimited(TransientSendError):
    """No send-rate token came within ``OSCAR_RECOVERY_SEND_RATE_MAX_WAIT``: the email is
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


def describe_error(exc: BaseException) -> str:
    """``str(exc)``, or its arguments when it cannot describe itself."""
    try:
        return str(exc)
    except Exception:  # some ESP errors cannot describe themselves without a response
        return repr(exc.args)


def error_text(exc: BaseException) -> str:
    """How a send error is stored on its row: type and description, redacted (ESPs and
    SMTP servers quote the recipient), at most 2,000 characters."""
    return redact(f"{type(exc).__name__}: {describe_error(exc)}")[:2000]


def take_send_token() -> float:
    """Take one token from the shared send-rate bucket, sleeping for it up to
    ``OSCAR_RECOVERY_SEND_RATE_MAX_WAIT``. Returns 0 once taken (or with no rate set: then
    not even a query), else, nothing taken, the seconds until the next token is due."""
    if app_settings.SEND_RATE is None:
        return 0.0
    limit = rate.parse_rate(app_settings.SEND_RATE)
    return rate.acquire(limit, app_settings.SEND_RATE_MAX_WAIT.total_seconds())


def start(claim: QuerySet, *, queued: str, label: str) -> bool:
    """Right before the ESP call: take a send-rate token, then record, committed, that the
    call starts. ``claim`` matches exactly the caller's claim of one row (its pk, status
    "sending" and this claim's attempt number), so both writes below touch the row only
    while the claim holds. False when the claim was lost meanwhile (the sweep queued the
    row again): the caller must not send. ``label`` names the row in the log.

    Raises :class:`RateLimited` after giving the claim back (status ``queued``, the attempt
    not counted) when no token came in time. The mark is committed on its own (the tasks and
    the sweep run outside a transaction), so before the ESP sees anything, and it is
    written only the first time. It has to outlive the worker, not the database server, so
    it does not wait for the disk (:func:`without_flush`): once committed every other
    session sees it, and a killed worker cannot take it back.
    """
    wait = take_send_token()
    if wait:
        # Waiting for a token is not a failed attempt: give back the one the claim counted.
        claim.update(
            status=queued,
            attempts=F("attempts") - 1,
            enqueued_at=timezone.now(),
            esp_call_started_at=None,
        )
        raise RateLimited(wait)
    mark = claim.filter(esp_call_started_at__isnull=True)
    marked = without_flush(mark).update(esp_call_started_at=timezone.now())
    if not marked:
        logger.warning("%s: claim lost before the ESP call", label)
    return marked == 1


#: True, and lets the transaction of the statement it is part of commit without waiting
#: for the disk (PostgreSQL; see :func:`without_flush`).
_NO_FLUSH = RawSQL("set_config('synchronous_commit', 'off', true) = 'off'", (), BooleanField())


def without_flush(queryset: QuerySet) -> QuerySet:
    """``queryset`` such that an ``update()`` of it, run outside a transaction, commits
    without waiting for its WAL record to reach the disk, on PostgreSQL: the statement sets
    ``synchronous_commit`` off for its own transaction only (``set_config(.., true)``), in
    the same round trip. Inside a transaction, and elsewhere, ``queryset`` as it is.

    One ESP mark per email made each send wait for a disk flush, which cost more than
    rendering the email. Without the wait the commit is still atomic and at once visible to
    every session, and it survives the worker's death, which is what the mark guards
    against; only a crash of the database server within ``wal_writer_delay`` (200 ms by
    default) could lose it, and the batch's final status commit, which does wait, flushes
    it with everything before it. SQLite has no per-transaction switch: there the
    database's own ``PRAGMA synchronous`` decides (``NORMAL`` in WAL mode, as the sandbox
    runs, commits without a flush too)."""
    connection = transaction.get_connection(queryset.db)
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return queryset
    return queryset.filter(_NO_FLUSH)


def fail_interrupted(stale: QuerySet, *, failed: str) -> int:
    """Of ``stale`` (rows left "sending" past ``OSCAR_RECOVERY_SENDING_STALE_AFTER``): fail
    those whose ESP call had started (:data:`INTERRUPTED`), never resent, since the ESP may
    have taken them; and those that never reached the ESP but used up
    ``OSCAR_RECOVERY_SEND_MAX_RETRIES`` claims (:data:`INTERRUPTED_UNSENT`), so a row that
    keeps killing its worker cannot loop forever. Returns how many."""
    in_flight = stale.filter(esp_call_started_at__isnull=False)
    exhausted = stale.filter(
        esp_call_started_at__isnull=True, attempts__gte=app_settings.SEND_MAX_RETRIES
    )
    return in_flight.update(status=failed, error=INTERRUPTED) + exhausted.update(
        status=failed, error=INTERRUPTED_UNSENT
    )


def requeue_unsent(stale: QuerySet, *, sending: str, queued: str, **fields) -> list[int]:
    """Of ``stale`` (rows left ``sending`` past ``OSCAR_RECOVERY_SENDING_STALE_AFTER``), those
    whose ESP call never started and with claims left: their worker died before the ESP saw
    them, so they are set ``queued`` again (with ``fields``), for the caller to hand over.
    Each row moves by its own conditional ``UPDATE`` (still sending, same claim, still
    unmarked), so a slow worker that marks it meanwhile keeps it, and one that marks it
    later finds its claim gone and does not send. At most ``OSCAR_RECOVERY_SWEEP_BATCH_SIZE``
    rows a call. Returns the ids queued again."""
    candidates = list(
        stale.filter(
            esp_call_started_at__isnull=True, attempts__lt=app_settings.SEND_MAX_RETRIES
        ).values_list("pk", "attempts")[: app_settings.SWEEP_BATCH_SIZE]
    )
    return [
        pk
        for pk, attempts in candidates
        if stale.model.objects.filter(
            pk=pk, status=sending, attempts=attempts, esp_call_started_at__isnull=True
        ).update(status=queued, error=INTERRUPTED_BEFORE_ESP, **fields)
    ]
