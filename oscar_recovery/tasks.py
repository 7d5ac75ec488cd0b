"""Celery tasks: thin wrappers around the services, for any Celery app (``shared_task``)."""

from celery import shared_task
from celery.utils.time import get_exponential_backoff_interval

from . import app_settings, sending
from . import sweep as sweep_service


@shared_task(name="oscar_recovery.sweep", ignore_result=False)
def sweep() -> dict:
    return sweep_service.run_sweep().as_dict()


@shared_task(name="oscar_recovery.send_message", bind=True, acks_late=True)
def send_message(self, message_id: int) -> str:
    """Send one recovery message. ``acks_late``: a task lost with its worker is delivered
    again, and the claim in :func:`oscar_recovery.sending.send_message` makes that harmless."""
    try:
        return sending.send_message(message_id)
    except sending.TransientSendError as exc:
        countdown = get_exponential_backoff_interval(
            factor=30, retries=self.request.retries, maximum=600, full_jitter=True
        )
        raise self.retry(
            exc=exc, countdown=countdown, max_retries=app_settings.SEND_MAX_RETRIES
        ) from exc


@shared_task(name="oscar_recovery.aggregate_stats")
def aggregate_stats(days: int | None = None) -> dict:
    """Recompute the dashboard's daily figures of the last ``days`` days (default
    ``OSCAR_RECOVERY_STATS_RECOMPUTE_DAYS``)."""
    from . import aggregation

    return vars(aggregation.recompute_recent(days=days))
