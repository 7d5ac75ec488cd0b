"""What a capture write leaves for after the request, in one outbox row.

A shop request pays for at most two statements of ours (see
:mod:`oscar_recovery.capture.scope`): the journey's own row, and this hand-off. Everything
else the write caused is done by :func:`run` from the outbox
(:mod:`oscar_recovery.handoff.outbox`), exactly once, in one transaction, seconds later
(Celery) or in the next sweep (inline mode):

- the ``email_captured`` timeline event and :data:`oscar_recovery.signals.email_captured`;
- what follows a consent decision written on the journey
  (:func:`oscar_recovery.privacy.consent.decision_recorded`: ledger, suppression of a
  "no thanks", the double opt-in request) and a ticked ads consent box
  (:mod:`oscar_recovery.privacy.ads_consent`);
- what follows an order (:func:`record_order`): the ended journey's events, restored copies
  ended, :data:`~oscar_recovery.signals.journey_ended` (attribution, stopped enrolments)
  and :data:`~oscar_recovery.signals.order_recorded` (browse journeys, the recommender).

What stays immediate is what a send must never miss: the journey's own consent fields (a
"no thanks" stops its emails at once), its address and its end (an ordered journey is
converted in the checkout's own statement; every send also checks the address's orders).
Sends to the same address from other journeys read the ledger, which follows within that
delay, and also the address's journeys' own refusals
(:func:`oscar_recovery.privacy.consent.latest_decisions`).
"""

from __future__ import annotations

from datetime import datetime

from django.utils.dateparse import parse_datetime
from oscar.core.loading import get_model

from oscar_recovery import signals
from oscar_recovery.constants import ConsentSource, JourneyEventKind
from oscar_recovery.handoff import outbox
from oscar_recovery.journeys import status
from oscar_recovery.models import CartJourney, CartJourneyEvent, HandOff
from oscar_recovery.privacy import ads_consent, consent

#: The outbox task names (:data:`oscar_recovery.handoff.outbox.HANDLERS`).
TASK = "journey_followups"
ORDER_TASK = "order_followups"

Order = get_model("order", "Order")


def record(
    journey_id: int,
    *,
    at: datetime,
    email_source: str = "",
    decision: consent.Recorded | None = None,
    ads_decision: ads_consent.Decision | None = None,
    client: str = "",
) -> None:
    """Record, in the caller's transaction, what follows a write of journey ``journey_id``
    at ``at``: ``email_source`` when the address changed, ``decision`` when a consent
    decision was written with the journey's address (and ``client``, the rate-limit key of
    the browser that gave it). Nothing is recorded when nothing follows. Should the journey's
    address change again before the handler runs, only the timeline events are written
    for this one."""
    if not email_source and decision is None and ads_decision is None:
        return
    # Never the address, nor its hash: the outbox is no place for personal data (erasure
    # would have to find it). The journey's own capture time tells whether it still has it.
    payload = {"journey": journey_id, "at": at.isoformat(), "client": client}
    if email_source:
        payload["email_source"] = str(email_source)
    if decision is not None:
        payload["decision"] = {
            "basis": str(decision.basis),
            "text": str(decision.text),
            "given": bool(decision.given),
            "source": str(decision.source),
            "refusal": bool(decision.refusal),
        }
    if ads_decision is not None:
        payload["ads"] = {
            "text": ads_decision.text,
            "language": ads_decision.language,
            "given": ads_decision.given,
        }
    outbox.record(TASK, payload, now=at)


def run_pending(limit: int) -> int:
    """Do up to ``limit`` follow-ups no worker has done yet, oldest first; returns how many
    were done now. Safe beside workers doing the same rows (:func:`outbox.run` takes each
    row once): one a worker is doing is waited for, so when this returns every follow-up
    it saw is done; a row that keeps failing is left to the outbox's own retries."""
    pending = (
        HandOff.objects.filter(
            task__in=(TASK, ORDER_TASK),
            done_at__isnull=True,
            attempts__lt=outbox.MAX_ATTEMPTS,
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(outbox.run(pk, wait=True) for pk in list(pending))


def run(payload: dict) -> None:
    """The outbox handler: do what :func:`record` noted, in that order (the address first:
    a decision covers the address it was given with)."""
    journey = CartJourney.objects.filter(pk=payload["journey"]).first()
    if journey is None:  # erased meanwhile
        return
    at = parse_datetime(payload["at"])
    email = journey.email
    if journey.email_captured_at is not None and journey.email_captured_at > at:
        # The address changed again since (its own follow-up says so); what was given with
        # the one before is only history now: the journey dropped its consent.
        email = None
    if payload.get("email_source"):
        CartJourneyEvent.objects.create(
            journey=journey,
            kind=JourneyEventKind.EMAIL_CAPTURED,
            created_at=at,
            data={"source": payload["email_source"]},
        )
        if email is not None:
            signals.email_captured.send(
                sender=CartJourney, journey=journey, email=email, source=payload["email_source"]
            )
    if payload.get("decision") and email is not None:
        decision = consent.Recorded(**payload["decision"])
        consent.decision_recorded(
            journey, decision, email=email, at=at, client=payload.get("client", "")
        )
    # A standing ads consent is not recorded again at every visit to the gateway.
    if payload.get("ads") and email and not ads_consent.is_granted(email):
        ads_consent.record(
            email,
            ads_consent.Decision(**payload["ads"]),
            source=ConsentSource.CHECKOUT,
            contact_id=journey.contact_id,
            evidence={"journey": journey.pk},
        )


def record_order(order, *, at: datetime, frozen_at: datetime | None = None) -> None:
    """Record, in the caller's transaction, what follows ``order`` placed at ``at`` (its
    basket frozen at ``frozen_at`` in the same request, when it was)."""
    payload = {"order": order.pk, "at": at.isoformat()}
    if frozen_at is not None:
        payload["frozen_at"] = frozen_at.isoformat()
    outbox.record(ORDER_TASK, payload, now=at)


def run_order(payload: dict) -> None:
    """The outbox handler of :func:`record_order`."""
    order = Order.objects.filter(pk=payload["order"]).select_related("user").first()
    if order is None:
        return
    at = parse_datetime(payload["at"])
    # Only the basket's journey has this order yet: browse journeys end below.
    journey = CartJourney.objects.filter(order=order).first()
    if journey is not None:
        events = []
        if payload.get("frozen_at"):
            events.append(
                CartJourneyEvent(
                    journey=journey,
                    kind=JourneyEventKind.BASKET_FROZEN,
                    created_at=parse_datetime(payload["frozen_at"]),
                )
            )
        events.append(status.order_placed_event(journey, order, at))
        CartJourneyEvent.objects.bulk_create(events)
        _end_restored_copies(journey, order.basket_id, at)
        signals.journey_ended.send(sender=CartJourney, journey=journey, order=order)
    signals.order_recorded.send(sender=CartJourney, order=order, at=at)


def _end_restored_copies(journey: CartJourney, basket_id: int, now: datetime) -> None:
    """The ordered basket holds lines a restore link copied in (``copied_to`` on the link
    journey's "restored" event): the link's journey ends merged into this one, so its click
    is credited and it sends nothing more. Only a journey of the same address: an order by
    someone a link was forwarded to never ends the sender's journey. No identity moves; the
    order is placed."""
    if not journey.email:
        return
    restored_from = CartJourneyEvent.objects.filter(
        kind=JourneyEventKind.RESTORED, data__copied_to=basket_id
    ).values_list("journey_id", flat=True)
    copied_from = (
        CartJourney.objects.filter(pk__in=list(restored_from))
        .for_email(journey.email)
        .open()
        .exclude(pk=journey.pk)
    )
    status.merge_all_into(copied_from, journey, now=now, restored=True)
