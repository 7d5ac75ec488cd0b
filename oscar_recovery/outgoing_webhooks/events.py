"""Raising events: the payloads (schema in README "Outgoing webhooks"), one
:class:`~oscar_recovery.models.WebhookDelivery` per subscribed endpoint, recorded in the
transaction that raised the event and handed to Celery once it commits. The functions the
app's receivers call are guarded there, so an event can never break a checkout or sweep."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import datetime

from django.db import transaction
from django.urls import NoReverseMatch
from django.utils import timezone

from oscar_recovery import app_settings, handoff
from oscar_recovery.adapter import get_adapter
from oscar_recovery.constants import CheckoutStep, WebhookEvent
from oscar_recovery.models import CartJourney, RecoveryMessage, WebhookDelivery, WebhookEndpoint
from oscar_recovery.outgoing_webhooks.delivery import deliver, enqueue
from oscar_recovery.utils import never_raises

#: The payload's ``schema_version``. Adding fields keeps it; renaming or removing bumps it.
SCHEMA_VERSION = 1


# Payloads


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _step_slug(value: int) -> str:
    try:
        return CheckoutStep(value).slug
    except ValueError:
        return str(value)


def basket_data(journey: CartJourney) -> dict:
    """The basket as the journey saw it. No personal data."""
    return {
        "journey_id": journey.pk,
        "status": journey.status,
        "currency": journey.currency,
        "total": str(journey.total),
        "num_lines": journey.num_lines,
        "num_items": journey.num_items,
        "furthest_step": _step_slug(journey.furthest_step),
        "created_at": _iso(journey.created_at),
        "last_activity_at": _iso(journey.last_activity_at),
        "abandoned_at": _iso(journey.abandoned_at),
        "lines": [
            {
                "product_id": line.get("product_id"),
                "title": line.get("title", ""),
                "upc": line.get("upc", ""),
                "quantity": line.get("quantity", 0),
                "unit_price": line.get("unit_price"),
                "line_total": line.get("line_total"),
            }
            for line in journey.lines or []
        ],
        "staff_url": _staff_url(journey),
    }


def _staff_url(journey: CartJourney) -> str:
    try:
        return get_adapter().staff_journey_url(journey)
    except NoReverseMatch:
        return ""


def customer_data(journey: CartJourney, personal: bool) -> dict:
    """Who the shopper is, as far as known. Addresses, names and account ids only for
    endpoints opted into personal data."""
    data = {
        "registered": journey.user_id is not None,
        "has_email": bool(journey.email),
        "email_source": journey.email_source or None,
        "language": journey.language or None,
    }
    if personal:
        user = journey.user if journey.user_id else None
        data["email"] = journey.email or None
        data["user_id"] = journey.user_id
        data["name"] = (user.get_full_name() if user is not None else "") or None
    return data


def message_data(message: RecoveryMessage) -> dict:
    step = message.step
    return {
        "message_id": message.pk,
        "campaign": {"id": step.campaign_id, "name": step.campaign.name},
        "step": step.position,
        "variant": message.variant.label if message.variant_id else None,
        "status": message.status,
        "sent_at": _iso(message.sent_at),
        "clicked_at": _iso(message.clicked_at),
        "has_voucher": bool(message.voucher_code),
    }


def journey_event_data(journey: CartJourney, personal: bool, **extra) -> dict:
    return {"basket": basket_data(journey), "customer": customer_data(journey, personal), **extra}


def envelope(event: str, event_id: uuid.UUID, created_at: datetime, data: dict) -> dict:
    return {
        "id": str(event_id),
        "type": str(event),
        "schema_version": SCHEMA_VERSION,
        "created_at": created_at.isoformat(),
        "data": data,
    }


# Emitting


#: Builds an event's ``data`` for endpoints with (True) or without (False) personal data.
DataBuilder = Callable[[bool], dict]


def subscribed_endpoints(event: str) -> list[WebhookEndpoint]:
    return [e for e in WebhookEndpoint.objects.filter(is_active=True) if e.wants(event)]


def emit(
    event: str,
    build: DataBuilder,
    *,
    endpoints: Iterable[WebhookEndpoint] | None = None,
    now: datetime | None = None,
    publish: bool = True,
) -> list[int]:
    """Record one event's deliveries and hand them to Celery when the transaction commits.
    Returns the new deliveries' ids (none when no endpoint wants the event)."""
    return emit_many(event, [build], endpoints=endpoints, now=now, publish=publish)


def emit_many(
    event: str,
    builders: Iterable[DataBuilder],
    *,
    endpoints: Iterable[WebhookEndpoint] | None = None,
    now: datetime | None = None,
    publish: bool = True,
) -> list[int]:
    """:func:`emit` for many events of one type (a sweep batch): one insert for them all."""
    targets = list(endpoints) if endpoints is not None else subscribed_endpoints(event)
    if not targets:
        return []
    now = now or timezone.now()
    rows = []
    for build in builders:
        event_id = uuid.uuid4()
        data: dict[bool, dict] = {}
        for endpoint in targets:
            personal = endpoint.include_personal_data
            if personal not in data:
                data[personal] = build(personal)
            rows.append(
                WebhookDelivery(
                    endpoint=endpoint,
                    event_id=event_id,
                    event=event,
                    payload=envelope(event, event_id, now, data[personal]),
                    created_at=now,
                )
            )
    ids = [delivery.pk for delivery in WebhookDelivery.objects.bulk_create(rows)]
    if None in ids:  # MySQL returns no ids from bulk inserts
        ids = list(
            WebhookDelivery.objects.filter(event_id__in={row.event_id for row in rows})
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    if publish:
        enqueue(ids)
    return ids


def emit_on_commit(event: str, build: DataBuilder) -> None:
    """Emit once the current transaction commits (at once outside one); failures are
    logged, never raised into the request or task that raised the event."""
    transaction.on_commit(never_raises(lambda: emit(event, build)))


def queue_abandoned(journey_ids: list[int]) -> None:
    """What the sweep's ``journeys_abandoned`` receiver calls: records the events in the
    outbox, in the sweep's transaction, when some endpoint wants them; payloads are built
    once it committed (by a worker, or the sweep itself without Celery)."""
    if not journey_ids or not subscribed_endpoints(WebhookEvent.BASKET_ABANDONED):
        return
    handoff.record("webhooks_basket_abandoned", list(journey_ids))


def emit_abandoned(journey_ids: list[int]) -> list[int]:
    """``basket.abandoned`` for each journey of a sweep batch; bots and restored copies of
    another journey's basket (that basket was announced already) are left out."""
    endpoints = subscribed_endpoints(WebhookEvent.BASKET_ABANDONED)
    if not endpoints:
        return []
    journeys = (
        CartJourney.objects.own_baskets()
        .filter(pk__in=journey_ids, is_bot=False)
        .select_related("user")
    )
    return emit_many(
        WebhookEvent.BASKET_ABANDONED,
        [
            (lambda personal, journey=journey: journey_event_data(journey, personal))
            for journey in journeys.order_by("pk")
        ],
        endpoints=endpoints,
    )


def contact_captured(journey: CartJourney, source: str) -> None:
    emit_on_commit(
        WebhookEvent.CONTACT_CAPTURED,
        lambda personal: journey_event_data(journey, personal, source=str(source)),
    )


def emails_sent(message_ids: list[int]) -> None:
    """``email.sent`` for each of a send batch's messages (one query for the endpoints and
    one for the messages, whatever the batch's size), read back after commit: the sending
    code saved the outcomes with UPDATEs, so the instances it holds are stale."""

    def build_and_emit() -> None:
        # Endpoints first: most shops have none, and then the messages need not be read.
        endpoints = subscribed_endpoints(WebhookEvent.EMAIL_SENT)
        if not endpoints:
            return
        messages = RecoveryMessage.objects.select_related(
            "journey__user", "step__campaign", "variant"
        ).filter(pk__in=message_ids)
        emit_many(
            WebhookEvent.EMAIL_SENT,
            [
                (
                    lambda personal, message=message: journey_event_data(
                        message.journey, personal, email=message_data(message)
                    )
                )
                for message in messages.order_by("pk")
            ],
            endpoints=endpoints,
        )

    transaction.on_commit(never_raises(build_and_emit))


def journey_ended(journey_id: int) -> None:
    """``basket.recovered`` when attribution credited the order to a recovery email. Decided
    after commit, when attribution (another ``journey_ended`` receiver) has run."""

    def build_and_emit() -> None:
        journey = (
            CartJourney.objects.select_related(
                "user", "order", "attributed_message__step__campaign", "attributed_message__variant"
            )
            .filter(pk=journey_id, attributed_message__isnull=False)
            .first()
        )
        if journey is None:
            return
        order = journey.order

        def build(personal: bool) -> dict:
            return journey_event_data(
                journey,
                personal,
                order={
                    "number": order.number if order else None,
                    "total": str(journey.order_total) if journey.order_total is not None else None,
                    "currency": order.currency if order else journey.currency,
                    "placed_at": _iso(order.date_placed) if order else _iso(journey.ended_at),
                },
                attributed_email=message_data(journey.attributed_message),
            )

        emit(WebhookEvent.BASKET_RECOVERED, build)

    transaction.on_commit(never_raises(build_and_emit))


def unsubscribed(email_hash: str, reason: str) -> None:
    # The unsubscribe link carries only the address's keyed hash: there is no address to
    # send, whatever the endpoint's personal-data setting.
    emit_on_commit(
        WebhookEvent.UNSUBSCRIBED,
        lambda personal: {"email_hash": email_hash, "reason": str(reason)},
    )


def send_test(endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Deliver a test event to ``endpoint`` now, in this process and once (no retries), so
    staff see the outcome at once; it is logged like any delivery."""
    [delivery_id] = emit_many(
        WebhookEvent.TEST,
        [
            lambda personal: {
                "message": "A test event from oscar-recovery.",
                "endpoint": endpoint.name,
            }
        ],
        endpoints=[endpoint],
        publish=False,
    )
    deliver(delivery_id, retries=app_settings.WEBHOOK_MAX_RETRIES)
    return WebhookDelivery.objects.get(pk=delivery_id)
