"""ESP tracking events (django-anymail's ``tracking`` signal) applied to recovery messages.

Each event is applied once (ESPs retry webhooks), statuses only move forward (a late
"delivered" never hides a click), and bounces, complaints and unsubscribes suppress the
address at once, whether or not the message is still on record.
"""

from __future__ import annotations

import hashlib

from django.db import IntegrityError, transaction
from django.utils import timezone

from oscar_recovery.constants import MessageStatus, SuppressionReason
from oscar_recovery.models import RecoveryMessage, TrackingEvent
from oscar_recovery.privacy.suppression import suppress

# How far along a message is; an event never moves a message backwards.
_PROGRESS = {
    MessageStatus.SENT: 1,
    MessageStatus.DELIVERED: 2,
    MessageStatus.OPENED: 3,
    MessageStatus.CLICKED: 4,
}
_EVENT_STATUS = {
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "opened": MessageStatus.OPENED,
    "clicked": MessageStatus.CLICKED,
    "bounced": MessageStatus.BOUNCED,
    "complained": MessageStatus.COMPLAINED,
    "rejected": MessageStatus.FAILED,
    "failed": MessageStatus.FAILED,
}
_TIMESTAMP = {
    MessageStatus.DELIVERED: "delivered_at",
    MessageStatus.OPENED: "opened_at",
    MessageStatus.CLICKED: "clicked_at",
}
_SUPPRESS = {
    "bounced": SuppressionReason.BOUNCED,
    "complained": SuppressionReason.COMPLAINED,
    "unsubscribed": SuppressionReason.UNSUBSCRIBED,
}


def event_key(event, esp_name: str) -> str:
    """The ESP's event id where it sends one; otherwise what makes the event unique."""
    raw = event.event_id or "|".join(
        str(part) for part in (event.message_id, event.event_type, event.timestamp, event.recipient)
    )
    return hashlib.sha256(f"{esp_name}|{raw}".encode()).hexdigest()


def apply_tracking_event(event, esp_name: str) -> bool:
    """Apply one anymail tracking event. Returns False for a repeat or a foreign message."""
    if event.recipient and event.event_type in _SUPPRESS:
        suppress(event.recipient, _SUPPRESS[event.event_type])
    message = None
    if event.message_id:
        message = RecoveryMessage.objects.filter(esp_message_id=event.message_id).first()
    if message is None:
        return False
    occurred_at = event.timestamp or timezone.now()
    try:
        with transaction.atomic():
            TrackingEvent.objects.create(
                event_key=event_key(event, esp_name),
                message=message,
                event_type=event.event_type,
                esp_name=esp_name,
                occurred_at=occurred_at,
            )
            advance_status(message, _EVENT_STATUS.get(event.event_type), occurred_at)
    except IntegrityError:
        return False  # already applied
    return True


def advance_status(message: RecoveryMessage, status: str | None, when) -> None:
    """Apply ``status`` (a tracking event's or a click's) to ``message``: sent < delivered <
    opened < clicked only ever move forward, each first time stamped once; any other status
    (bounced, complained, failed) is set as is. Locks the row: call it inside a transaction.
    ``status`` None does nothing."""
    if status is None:
        return
    message = RecoveryMessage.objects.select_for_update().get(pk=message.pk)
    fields = []
    if status in _PROGRESS:
        if _PROGRESS.get(message.status, 0) < _PROGRESS[status]:
            message.status = status
            fields.append("status")
        field = _TIMESTAMP.get(status)
        if field and getattr(message, field) is None:
            setattr(message, field, when)
            fields.append(field)
    elif message.status != status:
        message.status = status
        fields.append("status")
    if fields:
        message.save(update_fields=fields)
