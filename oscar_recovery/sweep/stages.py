"""The sweep: marks quiet journeys abandoned, expires stale ones, and hands them on.

Each stage claims due rows in batches with ``SELECT .. FOR UPDATE SKIP LOCKED`` (on
PostgreSQL), so several workers can sweep at once and no journey is processed twice; its cost
follows the number of due journeys through partial indexes, not the size of the table.
On SQLite, transactions are serialised by the database itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from oscar_recovery import app_settings, handoff, outgoing_webhooks, signals
from oscar_recovery.campaigns import dispatch
from oscar_recovery.constants import JourneyStatus, MessageStatus
from oscar_recovery.contacts import facts, identity
from oscar_recovery.journeys import followups, status
from oscar_recovery.models import CartJourney
from oscar_recovery.privacy import confirmation
from oscar_recovery.segments import refresh as segments
from oscar_recovery.sending import send as sending
from oscar_recovery.sweep import browse
from oscar_recovery.sweep.announce import announce
from oscar_recovery.utils import get_logger, skip_locked

logger = get_logger(__name__)


@dataclass
class SweepResult:
    abandoned: int = 0
    expired: int = 0
    batches: int = 0
    #: Recovery messages created for due campaign steps and handed to Celery.
    dispatched: int = 0
    #: Queued messages whose task never ran, handed over again.
    requeued: int = 0
    #: Messages whose worker died mid-send, marked failed (never resent).
    interrupted: int = 0
    errors: list[str] = field(default_factory=list)
    #: Browse journeys opened for signed-in shoppers who viewed products and went quiet.
    browse_abandoned: int = 0
    #: Inline mode (no Celery): messages the sweep sent itself.
    sent: int = 0
    #: Outbox hand-offs published again (Celery) or done by the sweep (inline).
    handed_over: int = 0
    #: Journeys linked to their contact (new, or whose account or address changed).
    linked: int = 0
    #: Contacts that entered and left segments.
    segment_entries: int = 0
    segment_exits: int = 0
    #: What shop requests left for after them, done by the sweep before any worker did.
    followed_up: int = 0

    def __str__(self) -> str:
        return (
            f"{self.abandoned} abandoned, {self.expired} expired in {self.batches} batch(es); "
            f"{self.dispatched} emails dispatched, {self.requeued} requeued, "
            f"{self.interrupted} interrupted"
        )

    def as_dict(self) -> dict:
        return {
            "abandoned": self.abandoned,
            "expired": self.expired,
            "batches": self.batches,
            "dispatched": self.dispatched,
            "requeued": self.requeued,
            "interrupted": self.interrupted,
            "browse_abandoned": self.browse_abandoned,
            "sent": self.sent,
            "handed_over": self.handed_over,
            "linked": self.linked,
            "segment_entries": self.segment_entries,
            "segment_exits": self.segment_exits,
            "followed_up": self.followed_up,
        }


def _claim_batch(from_status: str, cutoff: datetime, batch_size: int) -> list[int]:
    queryset = CartJourney.objects.filter(status=from_status, last_activity_at__lt=cutoff)
    if from_status == JourneyStatus.ACTIVE:
        # An empty basket (a captured email with nothing in it yet) is not abandoned,
        # unless its shopper viewed products: then it is browse abandonment.
        queryset = queryset.filter(Q(num_items__gt=0) | (Q(num_viewed__gt=0) & ~Q(email="")))
    return list(skip_locked(queryset).order_by().values_list("pk", flat=True)[:batch_size])


@dataclass(frozen=True)
class Transition:
    """One stage of the sweep: journeys quiet for ``quiet_setting`` move on."""

    to_status: str  # its from-status, timestamp and event: journeys.status.QUIET_STEPS
    quiet_setting: str  # name in app_settings, read at run time
    signal: object
    counter: str  # SweepResult field to add to

    @property
    def from_status(self) -> str:
        return status.QUIET_STEPS[self.to_status].from_status


ABANDON = Transition(
    JourneyStatus.ABANDONED, "ABANDON_AFTER", signals.journeys_abandoned, "abandoned"
)
EXPIRE = Transition(JourneyStatus.EXPIRED, "EXPIRE_AFTER", signals.journeys_expired, "expired")


def _transition_batch(
    stage: Transition, cutoff: datetime, now: datetime, size: int, errors: list[str]
) -> list[int]:
    with transaction.atomic():
        ids = _claim_batch(stage.from_status, cutoff, size)
        if not ids:
            return []
        # The WHERE repeats the claim's conditions: a shopper who came back between the
        # claim and now (SQLite has no row locks) stays active.
        ids = status.mark_quiet(
            CartJourney.objects.filter(pk__in=ids, last_activity_at__lt=cutoff),
            stage.to_status,
            now=now,
        )
        if ids:
            announce(stage.signal, ids, stage.counter, errors)
    return ids


def run_transition(
    stage: Transition, now: datetime | None = None, result: SweepResult | None = None
) -> SweepResult:
    """Move every due journey through ``stage``, batch by batch, and announce each batch."""
    now = now or timezone.now()
    result = result or SweepResult()
    cutoff = now - getattr(app_settings, stage.quiet_setting)
    batch_size = app_settings.SWEEP_BATCH_SIZE
    for _ in range(app_settings.SWEEP_MAX_BATCHES):
        ids = _transition_batch(stage, cutoff, now, batch_size, result.errors)
        if not ids:
            break
        result.batches += 1
        setattr(result, stage.counter, getattr(result, stage.counter) + len(ids))
        if len(ids) < batch_size:
            break
    return result


def mark_abandoned(now: datetime | None = None, result: SweepResult | None = None) -> SweepResult:
    return run_transition(ABANDON, now, result)


def expire_stale(now: datetime | None = None, result: SweepResult | None = None) -> SweepResult:
    return run_transition(EXPIRE, now, result)


def run_sweep(now: datetime | None = None) -> SweepResult:
    """One full sweep. Safe to run from several workers at once."""
    now = now or timezone.now()
    result = SweepResult()
    follow_up_requests(now, result)
    mark_abandoned(now, result)  # enrols the newly abandoned (journeys_abandoned receiver)
    try:
        result.browse_abandoned += len(browse.abandon_browsing(now))
    except Exception as exc:  # browse abandonment must not hold up the basket emails
        logger.exception("Browse abandonment failed")
        result.errors.append(repr(exc))
    expire_stale(now, result)
    send_due(now, result)
    link_contacts(now, result)
    refresh_segments(now, result)
    hand_over(now, result)
    return result


def follow_up_requests(
    now: datetime | None = None, result: SweepResult | None = None
) -> SweepResult:
    """First, finish what shop requests left for after them and no worker has done yet
    (:mod:`oscar_recovery.journeys.followups`): an order's follow-ups end the journeys it
    ends (a restored original among them) before the sweep could email them. Each is done
    once, whoever does it; a failure is logged and the rest go on."""
    now = now or timezone.now()
    result = result or SweepResult()
    try:
        result.followed_up += followups.run_pending(app_settings.SWEEP_BATCH_SIZE)
    except Exception as exc:
        logger.exception("Following up shop requests failed")
        result.errors.append(repr(exc))
    return result


def link_contacts(now: datetime | None = None, result: SweepResult | None = None) -> SweepResult:
    """Link journeys to their contacts (:mod:`oscar_recovery.contacts.identity`) and refresh
    the facts of the contacts that changed (:mod:`oscar_recovery.contacts.facts`). After the
    emails: an upgrade's backlog of unlinked journeys never holds them up, and a failure
    here is logged and retried by the next sweep."""
    now = now or timezone.now()
    result = result or SweepResult()
    try:
        linked = identity.link_journeys(now)
        result.linked += linked.journeys
        facts.refresh_changed(linked.touched, now)
    except Exception as exc:
        logger.exception("Linking contacts failed")
        result.errors.append(repr(exc))
    return result


def refresh_segments(now: datetime | None = None, result: SweepResult | None = None) -> SweepResult:
    """Bring segment memberships up to date (:mod:`oscar_recovery.segments.refresh`) from
    the facts :func:`link_contacts` just refreshed. After the emails; a failure is logged,
    recorded and retried by the next sweep."""
    now = now or timezone.now()
    result = result or SweepResult()
    try:
        refreshed = segments.refresh_all(now)
        result.segment_entries += sum(o.entered for o in refreshed.outcomes)
        result.segment_exits += sum(o.exited for o in refreshed.outcomes)
        result.errors.extend(refreshed.errors)
    except Exception as exc:
        logger.exception("Refreshing segments failed")
        result.errors.append(repr(exc))
    return result


def hand_over(now: datetime | None = None, result: SweepResult | None = None) -> SweepResult:
    """The outbox's housekeeping. With Celery: hand-offs whose task never ran are published
    again. Without: the sweep does them itself (alerts, webhook events and deliveries,
    recommendation updates), straight away."""
    now = now or timezone.now()
    result = result or SweepResult()
    inline = not handoff.uses_celery()
    try:
        result.handed_over += handoff.flush(now, everything=inline)
        if inline:
            outgoing_webhooks.deliver_due(now)
    except Exception as exc:  # the outbox keeps its rows: the next sweep tries again
        logger.exception("Outbox housekeeping failed")
        result.errors.append(repr(exc))
    return result


def send_due(now: datetime | None = None, result: SweepResult | None = None) -> SweepResult:
    """The email half of the sweep: due steps become messages handed to Celery (or, without
    Celery, sent here); messages and double opt-in confirmations stuck queued, or stuck
    sending before their ESP call, are handed over again; those stuck sending with their
    ESP call started are marked failed."""
    now = now or timezone.now()
    result = result or SweepResult()
    result.interrupted += sending.fail_interrupted(now) + confirmation.fail_interrupted(now)
    unsent, stale = sending.requeue_unsent(now), sending.requeue_stale(now)
    result.requeued += len(unsent) + len(stale)
    result.requeued += len(confirmation.requeue_stale(now))
    new_ids = dispatch.dispatch_due(now)
    sending.enqueue(new_ids, now)
    result.dispatched += len(new_ids)
    if not handoff.uses_celery():
        # No worker will: the sweep (run by cron) sends them itself.
        # Those whose worker died before their ESP call go alone (see requeue_unsent).
        alone = sending.send_queued(unsent, now, batch_size=sending.ALONE)
        rest = sending.send_queued([*stale, *new_ids], now)
        result.sent += alone.get(MessageStatus.SENT, 0) + rest.get(MessageStatus.SENT, 0)
        confirmation.send_queued(now)
    return result
