"""Delivering: where a webhook may go (:func:`check_destination`), the signed POST, one
logged attempt per try with retries and backoff, and the hand-over to Celery. Nothing here
raises into the request or sweep that raised the event.

The worst senders, and what stops them:

- staff who enter a URL to reach the shop's own network (``http://127.0.0.1``, cloud
  metadata, a name that rebinds to a private address): refused at the form, before each
  request, and on the connected address itself; redirects are never followed;
- a receiver that answers slowly or endlessly: a timeout each way and only the start of
  its answer kept;
- whoever reads the logs or, with only the view permission, the delivery log: an endpoint's
  URL is a credential for chat and automation webhooks, so logs and stored errors show its
  scheme and host only (:func:`~oscar_recovery.utils.redact_url`)."""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import requests
import requests.adapters
import urllib3
import urllib3.connection
from celery.utils.time import get_exponential_backoff_interval
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from oscar_recovery import __version__, app_settings
from oscar_recovery.constants import (
    AttemptOutcome,
    DeliveryStatus,
    SignatureFormat,
    WebhookEvent,
)
from oscar_recovery.handoff import publish_soon
from oscar_recovery.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from oscar_recovery.outgoing_webhooks.signing import (
    SIGNATURE_HEADER,
    encode_body,
    signature_header,
    standard_headers,
)
from oscar_recovery.utils import get_logger, redact_url, redact_url_in, skip_locked

logger = get_logger(__name__)

#: What the delivery log keeps of an endpoint's answer.
RESPONSE_LOG_LIMIT = 2000
USER_AGENT = f"oscar-recovery-webhooks/{__version__}"


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
        if not is_public_address(info[4][0]):
            raise ValidationError(
                _("%(host)s is a local or private address; webhooks go to public hosts only."),
                params={"host": parts.hostname},
            )


#: NAT64 prefixes (RFC 6052 well-known, RFC 8215 local-use): a gateway turns these IPv6
#: addresses into connections to the IPv4 address embedded in them.
_NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL_USE = ipaddress.ip_network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def is_public_address(value: str) -> bool:
    """Whether a webhook may connect to the IP address ``value``: globally routable, not
    multicast, and, for IPv6 forms that carry an IPv4 address (mapped ``::ffff:0:0/96``,
    compatible ``::/96``, 6to4 ``2002::/16``, NAT64 ``64:ff9b::/96``), the embedded IPv4
    address is public too: ``64:ff9b::7f00:1`` reaches 127.0.0.1 through a NAT64 gateway
    although Python calls it global. The local-use NAT64 prefix is never public."""
    try:
        address = ipaddress.ip_address(value.split("%")[0])
    except ValueError:
        return False
    embedded: ipaddress.IPv4Address | None = None
    if isinstance(address, ipaddress.IPv6Address):
        if address in _NAT64_LOCAL_USE:
            return False
        if address.ipv4_mapped is not None:
            embedded = address.ipv4_mapped
        elif address.sixtofour is not None:
            embedded = address.sixtofour
        elif address in _NAT64_WELL_KNOWN or address in _IPV4_COMPATIBLE:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    for candidate in (address, embedded):
        if candidate is not None and (not candidate.is_global or candidate.is_multicast):
            return False
    return True


def enqueue(delivery_ids: list[int]) -> None:
    """Hand deliveries to Celery once the transaction commits, without waiting for the
    broker (:func:`oscar_recovery.handoff.publish_soon`). A broker that is down only delays
    them: :func:`~oscar_recovery.outgoing_webhooks.housekeeping.requeue_stale` hands them
    over again. Without Celery the sweep delivers them (:func:`deliver_due`)."""
    if not delivery_ids:
        return
    WebhookDelivery.objects.filter(pk__in=delivery_ids, status=DeliveryStatus.PENDING).update(
        next_attempt_at=timezone.now()
    )
    arg_lists = [(pk,) for pk in delivery_ids]
    transaction.on_commit(lambda: publish_soon("oscar_recovery.deliver_webhook", arg_lists))


def deliver_due(now: datetime | None = None) -> int:
    """Without Celery (inline mode, from the sweep): make one attempt at each delivery that
    is due. Each is claimed first (its ``next_attempt_at`` moves on, under ``SKIP LOCKED``),
    so parallel sweeps never post it twice. Returns how many were attempted."""
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


class PrivatePeer(Exception):
    """The connection reached a local or private address although the name was vetted as
    public (DNS rebinding). Not an ``OSError`` on purpose: urllib3 neither retries it nor
    wraps it, so :func:`post` sees it and fails the attempt for good."""


class _PeerCheckingMixin:
    """Checks the address each new connection actually reached, before a byte is sent.

    :func:`check_destination` resolves the host, and the HTTP client resolves it again to
    connect: a name whose DNS answer changes in between (rebinding) would pass the check and
    connect to 127.0.0.1. Checking the connected peer closes that gap for every attempt
    and every connection; TLS (SNI, certificate) and ``Host`` still use the URL's name."""

    def _new_conn(self):
        sock = super()._new_conn()
        if not app_settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES:
            peer = sock.getpeername()[0]
            if not is_public_address(peer):
                sock.close()
                raise PrivatePeer(
                    _(
                        "The host resolved to %(address)s at connection time, a local or "
                        "private address; nothing was sent."
                    )
                    % {"address": peer}
                )
        return sock


class _PeerCheckingHTTPConnection(_PeerCheckingMixin, urllib3.connection.HTTPConnection):
    pass


class _PeerCheckingHTTPSConnection(_PeerCheckingMixin, urllib3.connection.HTTPSConnection):
    pass


class _PeerCheckingHTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _PeerCheckingHTTPConnection


class _PeerCheckingHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _PeerCheckingHTTPSConnection


class _PeerCheckingAdapter(requests.adapters.HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _PeerCheckingHTTPPool,
            "https": _PeerCheckingHTTPSPool,
        }


def _session() -> requests.Session:
    """A session whose connections are peer-checked. Proxies from the environment are
    ignored: through a proxy the address check would vet the proxy, not the endpoint."""
    session = requests.Session()
    session.trust_env = False
    adapter = _PeerCheckingAdapter(max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def signing_headers(
    endpoint: WebhookEndpoint, delivery: WebhookDelivery, body: bytes
) -> dict[str, str]:
    """The headers that sign ``body`` in the endpoint's format, timestamped now. The
    Standard Webhooks message id is the event's id: the same for every retry (and
    redelivery) of the delivery, and what the payload's ``id`` says."""
    if endpoint.signature_format == SignatureFormat.RECOVERY:
        return {SIGNATURE_HEADER: signature_header(endpoint.secret, body)}
    return standard_headers(endpoint.secret, str(delivery.event_id), body)


def post(endpoint: WebhookEndpoint, delivery: WebhookDelivery, body: bytes) -> Answer:
    """One signed POST. Never raises: every failure is an :class:`Answer`. The host is
    vetted before the request and the connected address again after connecting
    (:class:`_PeerCheckingMixin`); redirects are not followed."""
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
        **signing_headers(endpoint, delivery, body),
    }
    timeout = app_settings.WEBHOOK_TIMEOUT
    try:
        with (
            _session() as session,
            session.post(
                endpoint.url,
                data=body,
                headers=headers,
                timeout=(timeout, timeout),
                allow_redirects=False,
                stream=True,
            ) as response,
        ):
            # Only the start of the answer is kept: an endpoint must not fill the log.
            raw = next(response.iter_content(RESPONSE_LOG_LIMIT * 2), b"")
            text = raw.decode(response.encoding or "utf-8", errors="replace")
            return Answer(
                classify(response.status_code),
                status_code=response.status_code,
                body=text[:RESPONSE_LOG_LIMIT],
                retry_after=_retry_after(response),
            )
    except PrivatePeer as exc:
        return Answer(AttemptOutcome.PERMANENT, error=str(exc))
    except requests.RequestException as exc:
        # The error quotes the URL's path, which may be the endpoint's credential: it is
        # stored in the attempt log and travels into the task's retry log.
        error = redact_url_in(f"{type(exc).__name__}: {exc}", endpoint.url)
        return Answer(AttemptOutcome.TRANSIENT, error=error[:2000])


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
            redact_url(endpoint.url),
            answer.error or f"HTTP {answer.status_code}",
        )
    return fields["status"]
