"""Housekeeping for the beat: hand lost deliveries to Celery again, and purge the old
delivery log."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from oscar_recovery import app_settings
from oscar_recovery.constants import DeliveryStatus
from oscar_recovery.models import WebhookAttempt, WebhookDelivery
from oscar_recovery.outgoing_webhooks.delivery import enqueue


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
