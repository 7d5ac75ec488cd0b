"""Outgoing webhooks: signed JSON events for Zapier-style tools, CRMs and your own services.

An event becomes one :class:`~oscar_recovery.models.WebhookDelivery` per subscribed endpoint
once the transaction that raised it commits, and a Celery task posts it. Transient failures
(network errors, timeouts, 5xx, 408, 429) are retried with exponential backoff; any other
answer but 2xx fails the delivery at once. Every request is logged as a
:class:`~oscar_recovery.models.WebhookAttempt`. Nothing here may break the request or sweep
that raised the event: emitting is guarded and happens after commit.

Delivery is at least once: receivers deduplicate on the event ``id`` (headers
``webhook-id`` and ``X-Recovery-Event-Id``). The payload schema is in README "Outgoing webhooks".
"""

from oscar_recovery.outgoing_webhooks.delivery import (
    TransientDeliveryError,
    check_destination,
    deliver,
    deliver_due,
    enqueue,
    retry_delay,
)
from oscar_recovery.outgoing_webhooks.events import emit, emit_abandoned, emit_on_commit, send_test
from oscar_recovery.outgoing_webhooks.housekeeping import purge_log, requeue_stale
from oscar_recovery.outgoing_webhooks.signing import (
    InvalidSignature,
    compute_signature,
    encode_body,
    signature_header,
    standard_headers,
    standard_secret,
    verify_signature,
)

__all__ = [
    "InvalidSignature",
    "TransientDeliveryError",
    "check_destination",
    "compute_signature",
    "deliver",
    "deliver_due",
    "emit",
    "emit_abandoned",
    "emit_on_commit",
    "encode_body",
    "enqueue",
    "purge_log",
    "requeue_stale",
    "retry_delay",
    "send_test",
    "signature_header",
    "standard_headers",
    "standard_secret",
    "verify_signature",
]
