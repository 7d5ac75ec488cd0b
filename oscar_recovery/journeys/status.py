"""Every change of a journey's status, in one place.

Capture, the sweep, browse abandonment and attribution move journeys only through the
functions here, so the life of a journey reads from one table:

=============  ==========  ===========================  ====================================
from           to          when (function)              also writes
=============  ==========  ===========================  ====================================
(new row)      active      a basket is saved            ``created_at`` etc. (the caller's
                           (:func:`on_activity`)        insert), ``last_activity_at``
open           active      shopper activity             ``last_activity_at``; ended
                           (:func:`record_activity`,    journeys are left alone
                           :func:`reactivate`)
active         abandoned   quiet for ``ABANDON_AFTER``  ``abandoned_at``, an ``abandoned``
                           (:func:`mark_quiet`)         event per journey
abandoned      expired     quiet for ``EXPIRE_AFTER``   ``expired_at``, an ``expired`` event
                           (:func:`mark_quiet`)         per journey
(new row)      abandoned   browse abandonment           ``abandoned_at`` (the caller inserts
                           (:func:`born_abandoned`)     the rows and their events)
open           converted   an order is placed           ``ended_at``, ``order``, an
                           (:func:`convert`,            ``order_placed`` event (capture's
                           :func:`convert_all`)         after the request)
open           merged      a guest basket merged on     ``ended_at``, ``merged_into``, a
                           login (:func:`merge_into`);  ``merged_in`` event on the other
                           a restored copy ordered
                           (:func:`merge_all_into`)
converted      recovered   the order is credited to a   nothing else (attribution saves its
                           click (:func:`recover`)      own fields with the status)
=============  ==========  ===========================  ====================================

"Open" and "ended" are :meth:`JourneyStatus.open_statuses` and
:meth:`JourneyStatus.ended_statuses`: ended is for good. The instance functions refuse any
other transition (:class:`InvalidTransition`: a bug, never a shopper's doing); the set-based
ones take a QuerySet and filter it to the statuses they may move, so a batch stays one UPDATE.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet

from oscar_recovery.constants import JourneyEventKind, JourneyStatus
from oscar_recovery.models import CartJourney, CartJourneyEvent


class InvalidTransition(ValueError):
    """A journey was asked to move where the table above does not allow."""


@dataclass(frozen=True)
class QuietStep:
    """A sweep transition: journeys in ``from_status`` that went quiet move on."""

    from_status: str
    timestamp_field: str
    event_kind: str


#: The sweep's transitions, by the status they lead to.
QUIET_STEPS: dict[str, QuietStep] = {
    JourneyStatus.ABANDONED: QuietStep(
        JourneyStatus.ACTIVE, "abandoned_at", JourneyEventKind.ABANDONED
    ),
    JourneyStatus.EXPIRED: QuietStep(
        JourneyStatus.ABANDONED, "expired_at", JourneyEventKind.EXPIRED
    ),
}


def _require(journey: CartJourney, allowed: tuple[str, ...], to_status: str) -> None:
    if journey.status not in allowed:
        raise InvalidTransition(f"journey {journey.pk}: {journey.status} -> {to_status}")


# -- activity -----------------------------------------------------------------------------


def on_activity(now: datetime) -> dict[str, object]:
    """The fields shopper activity writes (status active, last activity ``now``): for a new
    row or an upsert's update fields. The caller makes sure the row is not ended (a journey
    linked to an open basket never is)."""
    return {"status": JourneyStatus.ACTIVE, "last_activity_at": now}


def record_activity(queryset: QuerySet[CartJourney], *, now: datetime, **fields) -> int:
    """Open journeys of ``queryset`` become active, with ``fields`` written alongside, in one
    UPDATE; ended journeys are left alone. Returns how many rows changed."""
    return queryset.open().update(**fields, **on_activity(now))


def reactivate(journey: CartJourney, *, now: datetime) -> None:
    """``journey`` becomes active at ``now``, in memory: the caller saves it with the other
    fields it changes. Used when a merge moves or continues a journey on login."""
    journey.status = JourneyStatus.ACTIVE
    journey.last_activity_at = now


# -- the sweep ----------------------------------------------------------------------------


def mark_quiet(queryset: QuerySet[CartJourney], to_status: str, *, now: datetime) -> list[int]:
    """Move the journeys of ``queryset`` still in the step's ``from_status`` to ``to_status``
    (abandoned or expired) in one UPDATE, stamp the step's timestamp with ``now`` and add one
    event per journey moved. Returns the ids moved, in id order.

    Call it inside the transaction that claimed the rows: the UPDATE re-checks the status,
    so a journey another writer moved meanwhile is not moved again.
    """
    step = QUIET_STEPS[to_status]
    queryset.filter(status=step.from_status).update(status=to_status, **{step.timestamp_field: now})
    ids = list(
        queryset.filter(status=to_status, **{step.timestamp_field: now})
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    CartJourneyEvent.objects.bulk_create(
        [CartJourneyEvent(journey_id=pk, kind=step.event_kind, created_at=now) for pk in ids]
    )
    return ids


def born_abandoned(now: datetime) -> dict[str, object]:
    """The status fields of a journey created already abandoned (browse abandonment: the
    shopper went quiet before it was written)."""
    return {"status": JourneyStatus.ABANDONED, "abandoned_at": now}


# -- endings ------------------------------------------------------------------------------


def convert(
    journey: CartJourney,
    order,
    *,
    now: datetime,
    update_fields: Sequence[str] | None = ("status", "ended_at", "order"),
) -> None:
    """An open journey ends in ``order``: converted at ``now``, saved (only
    ``update_fields``; None saves every field, for callers that changed more) and an
    ``order_placed`` event recorded. Attribution may make it recovered later (:func:`recover`).
    """
    _require(journey, JourneyStatus.open_statuses(), JourneyStatus.CONVERTED)
    journey.status = JourneyStatus.CONVERTED
    journey.ended_at = now
    journey.order = order
    journey.save(update_fields=update_fields)
    order_placed_event(journey, order, now).save()


def order_placed_event(journey: CartJourney, order, at: datetime) -> CartJourneyEvent:
    """The ``order_placed`` event of ``journey`` ended by ``order`` at ``at`` (unsaved)."""
    return CartJourneyEvent(
        journey=journey,
        kind=JourneyEventKind.ORDER_PLACED,
        created_at=at,
        data={"order_number": order.number},
    )


def convert_all(queryset: QuerySet[CartJourney], order, *, now: datetime, **fields) -> int:
    """The open journeys of ``queryset`` end in ``order``: converted at ``now``, in one
    UPDATE with ``fields`` written alongside. Returns how many ended. Their ``order_placed``
    events are the caller's (capture writes them after the request, with the order's other
    follow-ups: :mod:`oscar_recovery.journeys.followups`)."""
    return queryset.open().update(
        status=JourneyStatus.CONVERTED, ended_at=now, order=order, **fields
    )


def merge_into(guest: CartJourney, continuing: CartJourney, *, now: datetime, **data) -> None:
    """An open guest journey ends merged into ``continuing`` at ``now``; a ``merged_in``
    event on ``continuing`` records it (``data`` joins the event's data)."""
    _require(guest, JourneyStatus.open_statuses(), JourneyStatus.MERGED)
    guest.status = JourneyStatus.MERGED
    guest.merged_into = continuing
    guest.ended_at = now
    guest.save(update_fields=["status", "merged_into", "ended_at"])
    CartJourneyEvent.objects.create(
        journey=continuing,
        kind=JourneyEventKind.MERGED_IN,
        created_at=now,
        data={"journey": guest.pk, **data},
    )


def merge_all_into(
    journeys: QuerySet[CartJourney], continuing: CartJourney, *, now: datetime, **data
) -> list[int]:
    """The open journeys of ``journeys`` end merged into ``continuing`` at ``now``, in one
    UPDATE, with a ``merged_in`` event each on ``continuing`` (``data`` joins the events'
    data). Returns the ids it merged."""
    merged = list(journeys.open().exclude(pk=continuing.pk).values_list("pk", flat=True))
    if not merged:
        return merged
    CartJourney.objects.filter(pk__in=merged).update(
        status=JourneyStatus.MERGED, merged_into=continuing, ended_at=now
    )
    CartJourneyEvent.objects.bulk_create(
        CartJourneyEvent(
            journey=continuing,
            kind=JourneyEventKind.MERGED_IN,
            created_at=now,
            data={"journey": pk, **data},
        )
        for pk in merged
    )
    return merged


def recover(journey: CartJourney) -> None:
    """A converted journey's order is credited to a recovery email: recovered, in memory;
    attribution saves it with the credit. Asking again is harmless."""
    _require(journey, (JourneyStatus.CONVERTED, JourneyStatus.RECOVERED), JourneyStatus.RECOVERED)
    journey.status = JourneyStatus.RECOVERED
