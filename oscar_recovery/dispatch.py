"""Turning due campaign steps into messages.

For each active enrolment whose next step is due, the dispatcher creates that step's message
(one per journey and step: the database constraint makes a second attempt a no-op) and moves
the enrolment on to the following step, in the same transaction. Holdout journeys get their
message row too, marked skipped, so their would-be sends can be compared with real ones.
Due rows are claimed with ``SKIP LOCKED`` on PostgreSQL, so several workers can dispatch.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from . import app_settings
from .constants import EnrolmentStatus, JourneyStatus, MessageStatus, SkipReason
from .models import CampaignEnrolment, RecoveryMessage
from .utils import skip_locked
from .variants import choose_variant


def dispatch_due(now: datetime | None = None) -> list[int]:
    """Create every due message; returns the ids of the new messages to send."""
    now = now or timezone.now()
    created: list[int] = []
    batch_size = app_settings.SWEEP_BATCH_SIZE
    for _ in range(app_settings.SWEEP_MAX_BATCHES):
        claimed, new_ids = _dispatch_batch(now, batch_size)
        created.extend(new_ids)
        if claimed < batch_size:
            break
    return created


def _dispatch_batch(now: datetime, size: int) -> tuple[int, list[int]]:
    """Dispatch one batch; returns how many enrolments it claimed and the new message ids."""
    claimed, created = 0, []
    with transaction.atomic():
        due = CampaignEnrolment.objects.filter(
            status=EnrolmentStatus.ACTIVE,
            next_send_at__lte=now,
            journey__status=JourneyStatus.ABANDONED,
        ).select_related("journey", "next_step")
        for enrolment in skip_locked(due, of=("self",)).order_by("next_send_at")[:size]:
            claimed += 1
            message_id = _dispatch_one(enrolment, now)
            if message_id is not None:
                created.append(message_id)
    return claimed, created


def _dispatch_one(enrolment: CampaignEnrolment, now: datetime) -> int | None:
    journey, step = enrolment.journey, enrolment.next_step
    if step is None:
        _finish(enrolment)
        return None
    # The shopper came back and left again: steps count from the latest abandonment.
    due_at = (journey.abandoned_at or now) + step.delay
    if due_at > now:
        enrolment.next_send_at = due_at
        enrolment.save(update_fields=["next_send_at"])
        return None
    defaults = {
        "to_email": journey.email,
        "created_at": now,
        # Holdout journeys get a variant too, so each arm's holdout can be compared.
        "variant": choose_variant(step, journey.pk),
    }
    if enrolment.is_holdout:
        defaults.update(status=MessageStatus.SKIPPED, skip_reason=SkipReason.HOLDOUT)
    message, created = RecoveryMessage.objects.get_or_create(
        journey=journey, step=step, defaults=defaults
    )
    following = step.campaign.steps.filter(position__gt=step.position).order_by("position").first()
    if following is None:
        _finish(enrolment)
    else:
        enrolment.next_step = following
        enrolment.next_send_at = (journey.abandoned_at or now) + following.delay
        enrolment.save(update_fields=["next_step", "next_send_at"])
    if created and message.status == MessageStatus.QUEUED:
        return message.pk
    return None


def _finish(enrolment: CampaignEnrolment) -> None:
    enrolment.status = EnrolmentStatus.COMPLETED
    enrolment.next_step = None
    enrolment.next_send_at = None
    enrolment.save(update_fields=["status", "next_step", "next_send_at"])


def stop_enrolment(journey_id: int, reason: str) -> int:
    """An order (or staff) ends a journey's campaign: no further step will be dispatched."""
    return CampaignEnrolment.objects.filter(
        journey_id=journey_id, status__in=(EnrolmentStatus.ACTIVE, EnrolmentStatus.PAUSED)
    ).update(status=EnrolmentStatus.STOPPED, stop_reason=reason, next_send_at=None)
