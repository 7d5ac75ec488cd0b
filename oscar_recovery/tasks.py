"""Celery tasks: thin wrappers around the services, for any Celery app (``shared_task``)."""

from celery import shared_task
from celery.utils.time import get_exponential_backoff_interval

from oscar_recovery import app_settings, handoff, outgoing_webhooks
from oscar_recovery.audiences import sync as audience_sync
from oscar_recovery.operations import health
from oscar_recovery.privacy import confirmation, retention
from oscar_recovery.recommendations import cooccurrence
from oscar_recovery.reporting import aggregation, alerts
from oscar_recovery.sending import send as sending

#: Retries of a send task waiting for the shared send rate: not a failure, so practically
#: unbounded (``None`` would mean Celery's default of 3).
RATE_LIMITED_RETRIES = 10**6


@shared_task(name="oscar_recovery.sweep", ignore_result=False)
def sweep() -> dict:
    """One sweep, recorded as a ``SweepRun`` for the health view."""
    return health.recorded_sweep().as_dict()


def _retry_send(task, exc: Exception, **options) -> Exception:
    """The retry of an email that failed for a passing reason: exponential backoff from 30 s
    to 10 min with full jitter, at most ``OSCAR_RECOVERY_SEND_MAX_RETRIES`` times; waiting
    for the shared send rate (:class:`~oscar_recovery.sending.send.RateLimited`) retries when
    the next token is due and spends no retry budget. ``options`` go to ``task.retry``."""
    if isinstance(exc, sending.RateLimited):
        return task.retry(
            exc=exc, countdown=exc.countdown, max_retries=RATE_LIMITED_RETRIES, **options
        )
    countdown = get_exponential_backoff_interval(
        factor=30, retries=task.request.retries, maximum=600, full_jitter=True
    )
    return task.retry(
        exc=exc, countdown=countdown, max_retries=app_settings.SEND_MAX_RETRIES, **options
    )


@shared_task(name="oscar_recovery.send_message", bind=True, acks_late=True)
def send_message(self, message_id: int) -> str:
    """Send one recovery message. ``acks_late``: a task lost with its worker is delivered
    again, and the claim in :func:`oscar_recovery.sending.send.send_message` makes that harmless."""
    try:
        return sending.send_message(message_id)
    except sending.TransientSendError as exc:  # RateLimited included
        raise _retry_send(self, exc) from exc


@shared_task(name="oscar_recovery.send_messages", bind=True, acks_late=True)
def send_messages(self, message_ids: list[int]) -> dict[str, int]:
    """Send a batch of recovery messages (:func:`oscar_recovery.sending.send.send_batch`).
    Only the messages that met a transient error are retried, as a batch of their own: the
    others' outcomes stand. ``acks_late``: a redelivered batch finds its messages claimed."""
    result = sending.send_batch(message_ids)
    if result.retry:
        exc = result.rate_limited or sending.TransientSendError(result.errors[result.retry[0]])
        raise _retry_send(self, exc, args=[result.retry])
    counts: dict[str, int] = {}
    for status in result.statuses.values():
        counts[status] = counts.get(status, 0) + 1
    return counts


@shared_task(name="oscar_recovery.send_consent_confirmation", bind=True, acks_late=True)
def send_consent_confirmation(self, confirmation_id: int) -> str:
    """Send one double opt-in email (:func:`oscar_recovery.privacy.confirmation.send_confirmation`);
    the claim makes a redelivered task harmless. Retried like a recovery message: after a
    transient error with backoff, and, waiting for the shared send rate, when the next
    token is due without spending the retry budget."""
    try:
        return confirmation.send_confirmation(confirmation_id)
    except sending.TransientSendError as exc:  # RateLimited included
        raise _retry_send(self, exc) from exc


# Staff alerts and outgoing webhooks


@shared_task(name="oscar_recovery.deliver_webhook", bind=True, acks_late=True)
def deliver_webhook(self, delivery_id: int) -> str:
    """One attempt at a webhook delivery; transient failures retry with backoff."""
    try:
        return outgoing_webhooks.deliver(delivery_id, retries=self.request.retries)
    except outgoing_webhooks.TransientDeliveryError as exc:
        raise self.retry(
            exc=exc, countdown=exc.countdown, max_retries=app_settings.WEBHOOK_MAX_RETRIES
        ) from exc


@shared_task(name="oscar_recovery.webhooks_basket_abandoned")
def webhooks_basket_abandoned(journey_ids: list[int]) -> int:
    """Raise ``basket.abandoned`` for the journeys a sweep batch abandoned (one delivery
    per subscribed endpoint); returns the number of events."""
    return len(outgoing_webhooks.emit_abandoned(journey_ids))


@shared_task(name="oscar_recovery.alert_abandoned")
def alert_abandoned(journey_ids: list[int]) -> int:
    """Email staff about the abandoned baskets at or above
    ``OSCAR_RECOVERY_ALERT_MIN_BASKET_VALUE``, once per basket; returns the alerts sent."""
    return alerts.send_abandoned_alerts(journey_ids)


@shared_task(name="oscar_recovery.weekly_summary")
def weekly_summary() -> bool:
    """Email staff the last 7 days against the 7 before (unless
    ``OSCAR_RECOVERY_WEEKLY_SUMMARY_ENABLED`` is off); returns whether it was sent."""
    return alerts.send_weekly_summary()


@shared_task(name="oscar_recovery.webhooks_housekeeping")
def webhooks_housekeeping() -> dict:
    """Hand lost deliveries to Celery again and trim the delivery log."""
    return {
        "requeued": len(outgoing_webhooks.requeue_stale()),
        "purged": outgoing_webhooks.purge_log(),
    }


@shared_task(name="oscar_recovery.purge", ignore_result=False)
def purge() -> dict:
    """Retention: delete recovery data older than ``OSCAR_RECOVERY_RETENTION``."""
    return retention.purge_expired().as_dict()


@shared_task(name="oscar_recovery.build_recommendations", ignore_result=False)
def build_recommendations() -> dict:
    """Rebuild the bought-together and bestseller tables (nightly, see ``schedules``)."""
    result = cooccurrence.rebuild()
    return {"pairs": result.pairs, "products": result.products}


@shared_task(name="oscar_recovery.add_order_to_recommendations")
def add_order_to_recommendations(order_id: int) -> int:
    """Count one new order's products in the bought-together and bestseller tables."""
    return cooccurrence.add_order(order_id)


@shared_task(name="oscar_recovery.aggregate_stats")
def aggregate_stats(days: int | None = None) -> dict:
    """Recompute the dashboard's daily figures of the last ``days`` days (default
    ``OSCAR_RECOVERY_STATS_RECOMPUTE_DAYS``)."""
    return vars(aggregation.recompute_recent(days=days))


@shared_task(name="oscar_recovery.run_handoff", acks_late=True)
def run_handoff(handoff_id: int) -> bool:
    """Do one recorded hand-off (:mod:`oscar_recovery.handoff.outbox`); a duplicate
    delivery finds it done or locked and does nothing."""
    return handoff.run(handoff_id)


@shared_task(name="oscar_recovery.sync_audiences", ignore_result=False)
def sync_audiences() -> list[dict]:
    """The retargeting audiences' diff sync (the due ones; see ``audiences.sync``)."""
    return [result.as_dict() for result in audience_sync.sync_all()]
