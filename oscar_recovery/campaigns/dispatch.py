"""Turning due campaign steps into messages.

An address nobody has shown to be theirs gets at most the first step of a campaign: the
later steps wait, re-checked every ``OSCAR_RECOVERY_UNVERIFIED_RECHECK``, until the
address is verified (:mod:`oscar_recovery.contacts.verification`) or the journey ends.

For each active enrolment whose next step is due, the dispatcher creates that step's message
(one per journey and step: the database constraint makes a second attempt a no-op) and moves
the enrolment on to the following step, in the same transaction. Holdout journeys get their
message row too, marked skipped, so their would-be sends can be compared with real ones.
Due rows are claimed in batches with ``SKIP LOCKED`` on PostgreSQL, so several workers can
dispatch; a batch's messages are one INSERT and its enrolments one UPDATE per kind of move
(:func:`advance`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import (
    Case,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy

from oscar_recovery import app_settings
from oscar_recovery.campaigns.variants import choose_variant
from oscar_recovery.constants import EnrolmentStatus, JourneyStatus, MessageStatus, SkipReason
from oscar_recovery.contacts.verification import verified_addresses
from oscar_recovery.models import CampaignEnrolment, CampaignStep, CartJourney, RecoveryMessage
from oscar_recovery.privacy.hashing import normalise_email
from oscar_recovery.privacy.suppression import is_suppressed
from oscar_recovery.sending.send import enqueue
from oscar_recovery.utils import insert_select, skip_locked


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


#: The fields :func:`advance` reads of a claimed enrolment and its journey.
_PLANNED_FIELDS = (
    "campaign_id",
    "is_holdout",
    "status",
    "next_step_id",
    "next_send_at",
    "journey__email",
    "journey__abandoned_at",
)


def _dispatch_batch(now: datetime, size: int) -> tuple[int, list[int]]:
    """Dispatch one batch; returns how many enrolments it claimed and the new message ids."""
    with transaction.atomic():
        due = CampaignEnrolment.objects.filter(
            status=EnrolmentStatus.ACTIVE,
            next_send_at__lte=now,
            journey__status=JourneyStatus.ABANDONED,
        ).select_related("journey")
        # Only what planning reads: a journey row carries its basket's lines and more.
        due = due.only(*_PLANNED_FIELDS)
        enrolments = list(skip_locked(due, of=("self",)).order_by("next_send_at")[:size])
        created = advance(enrolments, now)
    return len(enrolments), created


# --- One batch, set-based --------------------------------------------------------------
#
# A batch of claimed enrolments is planned in Python (:class:`Plan`: what each enrolment
# does now) and written in a fixed number of statements: the messages in one INSERT, the
# enrolments that move on, wait or finish in one UPDATE each. A step kind added later (a
# wait, a split) plans its enrolments in :func:`_plan`; a check made before every message
# (a flow filter, a cross-flow window, quiet hours) is one more entry of
# :data:`BATCH_CHECKS`, asked once per batch.


@dataclass
class Plan:
    """What one batch's enrolments do now, filled by :func:`_plan` and the checks."""

    now: datetime
    #: Enrolments whose step is sent now (a message row, queued or skipped).
    sends: list[CampaignEnrolment] = field(default_factory=list)
    #: When they are looked at again -> enrolments that wait, their step unchanged.
    waits: dict[datetime, list[int]] = field(default_factory=lambda: defaultdict(list))
    #: Step id -> enrolments whose step is not due yet (it counts from the latest
    #: abandonment): looked at again when it is.
    not_due: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    #: Enrolments with no step left.
    finished: list[int] = field(default_factory=list)


class StepBook:
    """The steps of the batch's campaigns, in order, with their variants: two queries a
    batch, however many enrolments and steps."""

    def __init__(self, campaign_ids: set[int]) -> None:
        self.steps: dict[int, list[CampaignStep]] = defaultdict(list)
        for step in (
            CampaignStep.objects.filter(campaign_id__in=campaign_ids)
            .order_by("campaign_id", "position")
            .prefetch_related("variants")
        ):
            self.steps[step.campaign_id].append(step)
        self.by_id = {step.pk: step for steps in self.steps.values() for step in steps}

    def first_position(self, campaign_id: int) -> int:
        steps = self.steps.get(campaign_id)
        return steps[0].position if steps else 0

    def step(self, step_id: int) -> CampaignStep:
        return self.by_id[step_id]

    def following(self, step: CampaignStep) -> CampaignStep | None:
        return next((s for s in self.steps[step.campaign_id] if s.position > step.position), None)


def advance(enrolments: list[CampaignEnrolment], now: datetime, force: bool = False) -> list[int]:
    """Move claimed (locked) enrolments on: each due step becomes its message, written with
    the batch's others in one INSERT (the one-message-per-journey-and-step constraint makes
    a repeat a no-op), and each enrolment moves to its following step or completes. An
    enrolment whose address must be verified first, or whose step is not due from the
    latest abandonment, waits (``force``, the staff's "send now", skips the delay). Returns
    the ids of the new messages to send (holdout rows are created skipped)."""
    if not enrolments:
        return []
    book = StepBook({e.campaign_id for e in enrolments})
    plan = Plan(now)
    # Staff sending a step now have looked at this enrolment: no check holds it back.
    checks = () if force else BATCH_CHECKS
    held = set().union(*(check(enrolments, book, now) for check in checks))
    for enrolment in enrolments:
        if enrolment.pk in held:
            plan.waits[now + app_settings.UNVERIFIED_RECHECK].append(enrolment.pk)
        else:
            _plan(enrolment, book, plan, force)
    created = _write_messages(plan.sends, book, now)
    _move_on(plan, book)
    return created


def _plan(enrolment: CampaignEnrolment, book: StepBook, plan: Plan, force: bool) -> None:
    """What ``enrolment`` does now; the place a new step kind plans its own."""
    if enrolment.next_step_id is None:
        plan.finished.append(enrolment.pk)
        return
    step = book.step(enrolment.next_step_id)
    # The shopper came back and left again: steps count from the latest abandonment.
    due_at = (enrolment.journey.abandoned_at or plan.now) + step.delay
    if due_at > plan.now and not force:
        plan.not_due[step.pk].append(enrolment.pk)
        return
    plan.sends.append(enrolment)


def _held_until_verified(
    enrolments: list[CampaignEnrolment], book: StepBook, now: datetime
) -> set[int]:
    """The enrolments whose next step must wait: it is not their campaign's first step and
    nobody has shown the journey's address to be theirs
    (:mod:`oscar_recovery.contacts.verification`). Holdout enrolments wait alike, so both
    arms stay comparable. The look-up's queries for the batch, none when every step is a
    first one."""
    later = [
        e
        for e in enrolments
        if e.next_step_id is not None
        and e.journey.email
        and book.step(e.next_step_id).position > book.first_position(e.campaign_id)
    ]
    if not later:
        return set()
    verified = verified_addresses(e.journey.email for e in later)
    return {e.pk for e in later if normalise_email(e.journey.email) not in verified}


#: Checks asked once per batch before any message is written: each returns the ids of the
#: enrolments that must wait (re-checked after ``OSCAR_RECOVERY_UNVERIFIED_RECHECK``).
BATCH_CHECKS: list[Callable[[list[CampaignEnrolment], StepBook, datetime], set[int]]] = [
    _held_until_verified,
]


#: The message columns :func:`_write_messages` fills, by field name; the others are NULL.
MESSAGE_COLUMNS = (
    "journey",
    "step",
    "status",
    "skip_reason",
    "error",
    "to_email",
    "esp_message_id",
    "attempts",
    "voucher_code",
    "created_at",
)


def _write_messages(sends: list[CampaignEnrolment], book: StepBook, now: datetime) -> list[int]:
    """One message row per enrolment and its step, in one ``INSERT .. SELECT`` from the
    enrolments and their journeys (holdout rows skipped), then one UPDATE per A/B variant
    drawn. Returns the ids of the queued ones inserted now, in the enrolments' order."""
    if not sends:
        return []
    holdout = Q(is_holdout=True)
    rows = (
        CampaignEnrolment.objects.filter(pk__in=[e.pk for e in sends])
        .order_by("pk")
        .values_list(
            "journey_id",
            "next_step_id",
            Case(
                When(holdout, then=Value(MessageStatus.SKIPPED)),
                default=Value(MessageStatus.QUEUED),
            ),
            Case(When(holdout, then=Value(SkipReason.HOLDOUT)), default=Value("")),
            Value(""),
            "journey__email",
            Value(""),
            Value(0),
            Value(""),
            Value(now, output_field=DateTimeField()),
        )
    )
    inserted = insert_select(
        RecoveryMessage, MESSAGE_COLUMNS, rows, returning=("id", "journey", "step", "status")
    )
    # Holdout journeys get a variant too, so each arm's holdout can be compared.
    variants: dict[int, list[int]] = defaultdict(list)
    for pk, journey_id, step_id, _ in inserted:
        variant = choose_variant(book.step(step_id), journey_id)
        if variant is not None:
            variants[variant.pk].append(pk)
    for variant_id, ids in variants.items():
        RecoveryMessage.objects.filter(pk__in=ids).update(variant_id=variant_id)
    order = {e.journey_id: n for n, e in enumerate(sends)}
    return [
        pk
        for pk, journey_id, _, status in sorted(inserted, key=lambda row: order[row[1]])
        if status == MessageStatus.QUEUED
    ]


def _from_abandonment(now: datetime, delay: timedelta) -> ExpressionWrapper:
    """``delay`` after the enrolment's journey was last abandoned (``now`` if never), in
    SQL: what an UPDATE of many enrolments sets each one's ``next_send_at`` to."""
    abandoned = CartJourney.objects.filter(pk=OuterRef("journey_id")).values("abandoned_at")[:1]
    at = Value(now, output_field=DateTimeField())
    return ExpressionWrapper(
        Coalesce(Subquery(abandoned, output_field=DateTimeField()), at)
        + Value(delay, output_field=DurationField()),
        output_field=DateTimeField(),
    )


def _move_on(plan: Plan, book: StepBook) -> None:
    """The batch's enrolments written in one UPDATE per kind of move and step: those sent
    move to their following step (due its delay after the abandonment) or complete; the
    others keep their step, waiting for its delay or a fixed time."""
    finished = list(plan.finished)
    moved: dict[int, list[int]] = defaultdict(list)
    for enrolment in plan.sends:
        following = book.following(book.step(enrolment.next_step_id))
        if following is None:
            finished.append(enrolment.pk)
        else:
            moved[following.pk].append(enrolment.pk)
    enrolments = CampaignEnrolment.objects
    if finished:
        enrolments.filter(pk__in=finished).update(
            status=EnrolmentStatus.COMPLETED, next_step=None, next_send_at=None
        )
    for step_id, ids in moved.items():
        following = book.step(step_id)
        enrolments.filter(pk__in=ids).update(
            next_step=following, next_send_at=_from_abandonment(plan.now, following.delay)
        )
    for step_id, ids in plan.not_due.items():
        delay = book.step(step_id).delay
        enrolments.filter(pk__in=ids).update(next_send_at=_from_abandonment(plan.now, delay))
    for at, ids in plan.waits.items():
        enrolments.filter(pk__in=ids).update(next_send_at=at)


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
        created = advance([enrolment], now, force=True)
        if not created:
            raise EnrolmentActionError(gettext_lazy("This step was already sent to this basket."))
        enqueue(created, now)
    return created[0]


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
