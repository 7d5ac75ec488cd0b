"""Outgoing webhooks: signed JSON events for Zapier-style tools, CRMs and your own services.

An event becomes one :class:`~oscar_recovery.models.WebhookDelivery` per subscribed endpoint
once the transaction that raised it commits, and a Celery task posts it. Transient failures
(network errors, timeouts, 5xx, 408, 429) are retried with exponential backoff; any other
answer but 2xx fails the delivery at once. Every request is logged as a
:class:`~oscar_recovery.models.WebhookAttempt`. Nothing here may break the request or sweep
that raised the event: emitting is guarded and happens after commit.

Delivery is at least once: receivers deduplicate on the event ``id``
(header ``X-Recovery-Event-Id``). The payload schema is in README "Outgoing webhooks".
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import requests
from celery.utils.time import get_exponential_backoff_interval
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F, Q
from django.urls import NoReverseMatch
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from oscar_recovery import __version__, app_settings
from oscar_recovery.adapter import get_adapter
from oscar_recovery.constants import AttemptOutcome, CheckoutStep, DeliveryStatus, WebhookEvent
from oscar_recovery.models import (
    CartJourney,
    RecoveryMessage,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from oscar_recovery.utils import never_raises

logger = logging.getLogger(__name__)

#: The payload's ``schema_version``. Adding fields keeps it; renaming or removing bumps it.
SCHEMA_VERSION = 1
SIGNATURE_HEADER = "X-Recovery-Signature"
#: How old a signature's timestamp may be before :func:`verify_signature` refuses it.
DEFAULT_TOLERANCE = timedelta(minutes=5)
#: What the delivery log keeps of an endpoint's answer.
RESPONSE_LOG_LIMIT = 2000
USER_AGENT = f"oscar-recovery-webhooks/{__version__}"


# Signing and verifying


class InvalidSignature(Exception):
    pass


def compute_signature(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``"<timestamp>." + body`` keyed with the endpoint's secret."""
    signed = str(int(timestamp)).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The ``X-Recovery-Signature`` value: ``t=<unix seconds>,v1=<hex signature>``."""
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={timestamp},v1={compute_signature(secret, timestamp, body)}"


def verify_signature(
    secret: str,
    body: bytes,
    header: str,
    *,
    tolerance: timedelta = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> int:
    """Check a received request: ``body`` is the raw request body (bytes, exactly as
    received), ``header`` the ``X-Recovery-Signature`` value. Returns the signed timestamp,
    or raises :class:`InvalidSignature` when the header is malformed, the signature does not
    match, or the timestamp is further than ``tolerance`` from now (a replayed request).
    Standalone on purpose: receivers can copy this function without installing the app."""
    parts: dict[str, list[str]] = {}
    for item in (header or "").split(","):
        key, sep, value = item.strip().partition("=")
        if sep:
            parts.setdefault(key, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError) as exc:
        raise InvalidSignature("no timestamp in the signature header") from exc
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance.total_seconds():
        raise InvalidSignature("the signature's timestamp is outside the tolerance")
    expected = compute_signature(secret, timestamp, body)
    # Several v1 values may be present while a secret is being rotated.
    if not any(hmac.compare_digest(expected, given) for given in parts.get("v1", [])):
        raise InvalidSignature("the signature does not match")
    return timestamp


def encode_body(payload: dict) -> bytes:
    """The exact bytes that are signed and sent."""
    return json.dumps(payload, cls=DjangoJSONEncoder, separators=(",", ":")).encode()


# Where requests may go


def check_destination(url: str) -> None:
    """Refuse URLs a webhook must not reach: other schemes than http(s), and, unless
    ``OSCAR_RECOVERY_WEBHOOK_ALLOW_PRIVATE_ADDRESSES``, hosts that are or resolve to
    loopback, private, link-local (cloud metadata) or otherwise reserved addresses."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(_("Only http:// and https:// URLs with a host are allowed."))
    if parts.username or parts.password:
        raise ValidationError(_("Put credentials in the signing secret, not in the URL."))
    if app_settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise ValidationError(
            _("The host %(host)s cannot be resolved."), params={"host": parts.hostname}
        ) from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not address.is_global or address.is_multicast:
            raise ValidationError(
                _("%(host)s is a local or private address; webhooks go to public hosts only."),
                params={"host": parts.hostname},
            )


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


def enqueue(delivery_ids: list[int]) -> None:
    """Hand deliveries to Celery once the transaction commits, without waiting for the
    broker (:func:`oscar_recovery.handoff.publish_soon`). A broker that is down only delays
    them: :func:`requeue_stale` hands them over again. Without Celery the sweep delivers
    them (:func:`deliver_due`)."""
    if not delivery_ids:
        return
    from oscar_recovery.handoff import publish_soon

    WebhookDelivery.objects.filter(pk__in=delivery_ids, status=DeliveryStatus.PENDING).update(
        next_attempt_at=timezone.now()
    )
    arg_lists = [(pk,) for pk in delivery_ids]
    transaction.on_commit(lambda: publish_soon("oscar_recovery.deliver_webhook", arg_lists))


def deliver_due(now: datetime | None = None) -> int:
    """Without Celery (inline mode, from the sweep): make one attempt at each delivery that
    is due. Each is claimed first (its ``next_attempt_at`` moves on, under ``SKIP LOCKED``),
    so parallel sweeps never post it twice. Returns how many were attempted."""
    from oscar_recovery.utils import skip_locked

    now = now or timezone.now()
    with transaction.atomic():
        ids = list(
            skip_locked(
                WebhookDelivery.objects.filter(
                    status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING]
                ).filter(Q(next_attempt_at__lte=now) | Q(next_attempt_at__isnull=True))
            )
            .order_by("pk")
            .values_list("pk", flat=True)[: app_settings.SWEEP_BATCH_SIZE]
        )
        WebhookDelivery.objects.filter(pk__in=ids).update(
            next_attempt_at=now + app_settings.QUEUED_STALE_AFTER
        )
    for pk in ids:
        attempts = WebhookDelivery.objects.filter(pk=pk).values_list("attempts", flat=True)
        try:
            deliver(pk, retries=attempts[0] if attempts else 0)
        except TransientDeliveryError:
            pass  # next_attempt_at is set: a later sweep tries again
        except Exception:
            logger.exception("Webhook delivery %s failed", pk)
    return len(ids)


def requeue_stale(now: datetime | None = None) -> list[int]:
    """Deliveries whose task was lost (broker down, worker gone with its queue): pending or
    retrying, and due longer than ``OSCAR_RECOVERY_QUEUED_STALE_AFTER`` ago."""
    now = now or timezone.now()
    cutoff = now - app_settings.QUEUED_STALE_AFTER
    stale = list(
        WebhookDelivery.objects.filter(status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING])
        .filter(
            Q(next_attempt_at__lt=cutoff) | Q(next_attempt_at__isnull=True, created_at__lt=cutoff)
        )
        .order_by("pk")
        .values_list("pk", flat=True)[: app_settings.SWEEP_BATCH_SIZE]
    )
    if stale:
        # Back to pending: the retried task starts a fresh retry budget.
        WebhookDelivery.objects.filter(pk__in=stale).update(status=DeliveryStatus.PENDING)
        enqueue(stale)
    return stale


def purge_log(now: datetime | None = None) -> int:
    """Delete finished deliveries (and their attempts) older than
    ``OSCAR_RECOVERY_WEBHOOK_LOG_RETENTION``; returns how many deliveries went."""
    now = now or timezone.now()
    old = WebhookDelivery.objects.filter(
        status__in=[DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED],
        created_at__lt=now - app_settings.WEBHOOK_LOG_RETENTION,
    )
    ids = list(old.values_list("pk", flat=True)[:10_000])
    WebhookAttempt.objects.filter(delivery_id__in=ids).delete()
    deleted, _ = WebhookDelivery.objects.filter(pk__in=ids).delete()
    return len(ids) if deleted else 0


def queue_abandoned(journey_ids: list[int]) -> None:
    """What the sweep's ``journeys_abandoned`` receiver calls: records the events in the
    outbox, in the sweep's transaction, when some endpoint wants them; payloads are built
    once it committed (by a worker, or the sweep itself without Celery)."""
    if not journey_ids or not subscribed_endpoints(WebhookEvent.BASKET_ABANDONED):
        return
    from oscar_recovery import handoff

    handoff.record("webhooks_basket_abandoned", list(journey_ids))


def emit_abandoned(journey_ids: list[int]) -> list[int]:
    """``basket.abandoned`` for each journey of a sweep batch; bots are left out."""
    endpoints = subscribed_endpoints(WebhookEvent.BASKET_ABANDONED)
    if not endpoints:
        return []
    journeys = CartJourney.objects.filter(pk__in=journey_ids, is_bot=False).select_related("user")
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


def email_sent(message_id: int) -> None:
    """``email.sent``, read back after commit: the sending code saved the outcome with an
    UPDATE, so the instance it holds is stale."""

    def build_and_emit() -> None:
        message = (
            RecoveryMessage.objects.select_related("journey__user", "step__campaign", "variant")
            .filter(pk=message_id)
            .first()
        )
        if message is None:
            return
        emit(
            WebhookEvent.EMAIL_SENT,
            lambda personal: journey_event_data(
                message.journey, personal, email=message_data(message)
            ),
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


# Delivering


class TransientDeliveryError(Exception):
    """The endpoint may take the event later; retry after ``countdown`` seconds."""

    def __init__(self, message: str, countdown: float):
        super().__init__(message)
        self.countdown = countdown


@dataclass
class Answer:
    outcome: str
    status_code: int | None = None
    error: str = ""
    body: str = ""
    retry_after: float | None = None


def retry_delay(retries: int, retry_after: float | None = None) -> float:
    """Seconds before the next attempt: exponential backoff with full jitter (so endpoints
    coming back after an outage are not hit by every delivery at once), at least what the
    endpoint asked for with ``Retry-After``, at most ``WEBHOOK_BACKOFF_MAX``."""
    ceiling = app_settings.WEBHOOK_BACKOFF_MAX.total_seconds()
    delay = get_exponential_backoff_interval(
        factor=max(1, round(app_settings.WEBHOOK_BACKOFF.total_seconds())),
        retries=retries,
        maximum=max(1, round(ceiling)),
        full_jitter=True,
    )
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, ceiling)


def classify(status_code: int) -> str:
    if 200 <= status_code < 300:
        return AttemptOutcome.SUCCESS
    if status_code >= 500 or status_code in (408, 429):
        return AttemptOutcome.TRANSIENT
    # 3xx included: redirects are not followed (they could lead anywhere).
    return AttemptOutcome.PERMANENT


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date; the backoff is good enough


def post(endpoint: WebhookEndpoint, delivery: WebhookDelivery, body: bytes) -> Answer:
    """One signed POST. Never raises: every failure is an :class:`Answer`."""
    try:
        check_destination(endpoint.url)
    except ValidationError as exc:
        return Answer(AttemptOutcome.PERMANENT, error="; ".join(exc.messages))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Recovery-Event": delivery.event,
        "X-Recovery-Event-Id": str(delivery.event_id),
        "X-Recovery-Delivery": str(delivery.pk),
        SIGNATURE_HEADER: signature_header(endpoint.secret, body),
    }
    timeout = app_settings.WEBHOOK_TIMEOUT
    try:
        with requests.post(
            endpoint.url,
            data=body,
            headers=headers,
            timeout=(timeout, timeout),
            allow_redirects=False,
            stream=True,
        ) as response:
            # Only the start of the answer is kept: an endpoint must not fill the log.
            raw = next(response.iter_content(RESPONSE_LOG_LIMIT * 2), b"")
            text = raw.decode(response.encoding or "utf-8", errors="replace")
            return Answer(
                classify(response.status_code),
                status_code=response.status_code,
                body=text[:RESPONSE_LOG_LIMIT],
                retry_after=_retry_after(response),
            )
    except requests.RequestException as exc:
        return Answer(AttemptOutcome.TRANSIENT, error=f"{type(exc).__name__}: {exc}"[:2000])


def deliver(delivery_id: int, retries: int = 0) -> str:
    """Make one attempt at a delivery and log it; returns the delivery's status.

    ``retries`` is how many attempts came before under the retry budget. A transient failure
    within the budget raises :class:`TransientDeliveryError` for the task to retry.
    """
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None or delivery.status in (DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED):
        return delivery.status if delivery else ""
    endpoint = delivery.endpoint
    now = timezone.now()
    started = time.monotonic()
    if endpoint.is_active or delivery.event == WebhookEvent.TEST:  # test before switching on
        answer = post(endpoint, delivery, encode_body(delivery.payload))
    else:
        answer = Answer(AttemptOutcome.PERMANENT, error=str(_("The endpoint was deactivated.")))
    duration_ms = int((time.monotonic() - started) * 1000)
    number = delivery.attempts + 1
    WebhookAttempt.objects.create(
        delivery=delivery,
        number=number,
        started_at=now,
        duration_ms=duration_ms,
        status_code=answer.status_code,
        outcome=answer.outcome,
        error=answer.error,
        response_body=answer.body,
    )
    fields: dict = {
        "attempts": F("attempts") + 1,
        "last_attempt_at": now,
        "last_status_code": answer.status_code,
        "next_attempt_at": None,
    }
    countdown = None
    if answer.outcome == AttemptOutcome.SUCCESS:
        fields.update(status=DeliveryStatus.SUCCEEDED, delivered_at=timezone.now())
    elif answer.outcome == AttemptOutcome.TRANSIENT and retries < app_settings.WEBHOOK_MAX_RETRIES:
        countdown = retry_delay(retries, answer.retry_after)
        fields.update(
            status=DeliveryStatus.RETRYING,
            next_attempt_at=timezone.now() + timedelta(seconds=countdown),
        )
    else:
        fields["status"] = DeliveryStatus.FAILED
    WebhookDelivery.objects.filter(pk=delivery.pk).update(**fields)
    if countdown is not None:
        raise TransientDeliveryError(
            answer.error or f"HTTP {answer.status_code}", countdown=countdown
        )
    if fields["status"] == DeliveryStatus.FAILED:
        logger.warning(
            "Webhook delivery %s to %s failed: %s",
            delivery.pk,
            endpoint.url,
            answer.error or f"HTTP {answer.status_code}",
        )
    return fields["status"]
