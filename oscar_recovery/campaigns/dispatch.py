"""Turning due campaign steps into messages.

An address nobody has shown to be theirs gets at most the first step of a campaign: the
later steps wait, re-checked every ``OSCAR_RECOVERY_UNVERIFIED_RECHECK``, until the
address is verified (:mod:`oscar_recovery.contacts.verification`) or the journey ends.

For each active enrolment whose next step is due, the dispatcher creates that step's message
(one per journey and step: the database constraint makes a second attempt a no-op) and moves
the enrolment on to the following step, in the same transaction. Holdout journeys get their
message row too, marked skipped, so their would-be sends can be compared with real ones.
Due rows are claimed with ``SKIP LOCKED`` on PostgreSQL, so several workers can dispatch.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Min
from django.utils import timezone
from django.utils.translation import gettext_lazy

from oscar_recovery import app_settings
from oscar_recovery.campaigns.variants import choose_variant
from oscar_recovery.constants import EnrolmentStatus, JourneyStatus, MessageStatus, SkipReason
from oscar_recovery.contacts.verification import verified_addresses
from oscar_recovery.models import CampaignEnrolment, CampaignStep, RecoveryMessage
from oscar_recovery.privacy.hashing import normalise_email
from oscar_recovery.privacy.suppression import is_suppressed
from oscar_recovery.sending.send import enqueue
from oscar_recovery.utils import skip_locked


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
        enrolments = list(skip_locked(due, of=("self",)).order_by("next_send_at")[:size])
        held = _held_until_verified(enrolments)
        for enrolment in enrolments:
            claimed += 1
            if enrolment.pk in held:
                enrolment.next_send_at = now + app_settings.UNVERIFIED_RECHECK
                enrolment.save(update_fields=["next_send_at"])
                continue
            message_id = _dispatch_one(enrolment, now)
            if message_id is not None:
                created.append(message_id)
    return claimed, created


def _held_until_verified(enrolments: list[CampaignEnrolment]) -> set[int]:
    """The enrolments whose next step must wait: it is not their campaign's first step and
    nobody has shown the journey's address to be theirs
    (:mod:`oscar_recovery.contacts.verification`). Holdout enrolments wait alike, so both
    arms stay comparable. Two queries for the batch at most (plus the look-up's)."""
    later = [e for e in enrolments if e.next_step_id is not None and e.journey.email]
    if not later:
        return set()
    firsts = dict(
        CampaignStep.objects.filter(campaign_id__in={e.campaign_id for e in later})
        .values("campaign_id")
        .annotate(first=Min("position"))
        .values_list("campaign_id", "first")
    )
    later = [e for e in later if e.next_step.position > firsts.get(e.campaign_id, 0)]
    if not later:
        return set()
    verified = verified_addresses(e.journey.email for e in later)
    return {e.pk for e in later if normalise_email(e.journey.email) not in verified}


def _dispatch_one(enrolment: CampaignEnrolment, now: datetime, force: bool = False) -> int | None:
    journey, step = enrolment.journey, enrolment.next_step
    if step is None:
        _finish(enrolment)
        return None
    # The shopper came back and left again: steps count from the latest abandonment.
    due_at = (journey.abandoned_at or now) + step.delay
    if due_at > now and not force:
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


# --- Staff actions (dashboard) ----------------------------------------------------------


class EnrolmentActionError(Exception):
    """A staff action that does not apply to the enrolment as it is now."""


def _locked_enrolment(enrolment_id: int) -> CampaignEnrolment:
    return (
        CampaignEnrolment.objects.select_for_update(of=("self",))
        .select_related("journey", "next_step", "next_step__campaign")
        .get(pk=enrolment_id)
    )


def send_next_step_now(enrolment_id: int, now: datetime | None = None) -> int:
    """Staff: send the enrolment's next step now instead of at its delay. The email still
    passes every send-time check (suppression, cooldown, orders since). Returns the id of
    the new message."""
    now = now or timezone.now()
    with transaction.atomic():
        enrolment = _locked_enrolment(enrolment_id)
        if enrolment.status != EnrolmentStatus.ACTIVE:
            raise EnrolmentActionError(
                gettext_lazy("Only an active enrolment can send its next step.")
            )
        if enrolment.is_holdout:
            raise EnrolmentActionError(gettext_lazy("Holdout journeys are never emailed."))
        if enrolment.next_step is None:
            raise EnrolmentActionError(gettext_lazy("Every step of the campaign has been sent."))
        if enrolment.journey.status != JourneyStatus.ABANDONED:
            raise EnrolmentActionError(
                gettext_lazy("Only an abandoned basket can be sent a reminder.")
            )
        if is_suppressed(enrolment.journey.email):
            raise EnrolmentActionError(
                gettext_lazy("This address unsubscribed, bounced or complained.")
            )
        message_id = _dispatch_one(enrolment, now, force=True)
        if message_id is None:
            raise EnrolmentActionError(gettext_lazy("This step was already sent to this basket."))
        enqueue([message_id], now)
    return message_id


def pause_enrolment(enrolment_id: int) -> CampaignEnrolment:
    """Staff: hold the sequence; nothing is sent until it is resumed."""
    with transaction.atomic():
        enrolment = _locked_enrolment(enrolment_id)
        if enrolment.status != EnrolmentStatus.ACTIVE:
            raise EnrolmentActionError(gettext_lazy("Only an active enrolment can be paused."))
        enrolment.status = EnrolmentStatus.PAUSED
        enrolment.save(update_fields=["status"])
    return enrolment


def resume_enrolment(enrolment_id: int, now: datetime | None = None) -> CampaignEnrolment:
    """Staff: continue a paused sequence. A step that fell due while paused goes out with
    the next dispatch; later steps keep their delays from the abandonment."""
    now = now or timezone.now()
    with transaction.atomic():
        enrolment = _locked_enrolment(enrolment_id)
        if enrolment.status != EnrolmentStatus.PAUSED:
            raise EnrolmentActionError(gettext_lazy("Only a paused enrolment can be resumed."))
        enrolment.status = EnrolmentStatus.ACTIVE
        if enrolment.next_step is None:
            enrolment.next_send_at = None
        else:
            abandoned_at = enrolment.journey.abandoned_at or now
            enrolment.next_send_at = max(now, abandoned_at + enrolment.next_step.delay)
        enrolment.save(update_fields=["status", "next_send_at"])
    return enrolment


def stop_enrolment_by_staff(enrolment_id: int) -> CampaignEnrolment:
    """Staff: end the sequence for good."""
    with transaction.atomic():
        enrolment = _locked_enrolment(enrolment_id)
        if enrolment.status not in (EnrolmentStatus.ACTIVE, EnrolmentStatus.PAUSED):
            raise EnrolmentActionError(
                gettext_lazy("Only an active or paused enrolment can be stopped.")
            )
        stop_enrolment(enrolment.journey_id, STAFF_STOP_REASON)
        enrolment.refresh_from_db()
    return enrolment


STAFF_STOP_REASON = "staff"


def allowed_actions(enrolment: CampaignEnrolment) -> list[str]:
    """The staff actions that apply to the enrolment now (the dashboard shows only these)."""
    if enrolment.status == EnrolmentStatus.PAUSED:
        return ["resume", "stop"]
    if enrolment.status != EnrolmentStatus.ACTIVE:
        return []
    actions = ["pause", "stop"]
    # An address that unsubscribed since the last step would only be skipped: no offer.
    if (
        enrolment.next_step_id
        and not enrolment.is_holdout
        and enrolment.journey.status == JourneyStatus.ABANDONED
        and not is_suppressed(enrolment.journey.email)
    ):
        actions.insert(0, "send_now")
    return actions
