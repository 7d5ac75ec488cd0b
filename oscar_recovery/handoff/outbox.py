"""The outbox: work recorded in the transaction that causes it, done later exactly once.

- :func:`record` inserts a :class:`~oscar_recovery.models.HandOff` in the caller's
  transaction (a rollback takes it away with its cause) and, once that commits, asks for it
  to be published (Celery mode; never waiting, see :mod:`.publish`).
- :func:`run` does one: it locks the row (``SELECT .. FOR UPDATE SKIP LOCKED``), runs the
  handler and marks the row done in one transaction, so a database-only handler happens
  once even if the task is delivered twice; one that emails may repeat after a crash
  mid-run (at least once). A failing handler leaves the row for a later attempt, up to
  :data:`MAX_ATTEMPTS`.
- :func:`flush` is the housekeeping the sweep runs: rows still pending after
  ``OSCAR_RECOVERY_QUEUED_STALE_AFTER`` (the broker was down, the task was lost) are
  published again in Celery mode; in inline mode every due row is run in the sweep itself.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.module_loading import import_string

from oscar_recovery import app_settings
from oscar_recovery.handoff.mode import uses_celery
from oscar_recovery.handoff.publish import publish_now, publish_soon
from oscar_recovery.models import HandOff
from oscar_recovery.utils import get_logger, redact, skip_locked

logger = get_logger(__name__)

#: The Celery task that runs one hand-off.
RUN_TASK = "oscar_recovery.run_handoff"
MAX_ATTEMPTS = 10

#: What a hand-off may do: its ``task`` names one of these (a row cannot name any code).
HANDLERS: dict[str, str] = {
    "alert_abandoned": "oscar_recovery.reporting.alerts.send_abandoned_alerts",
    "webhooks_basket_abandoned": "oscar_recovery.outgoing_webhooks.emit_abandoned",
    "add_order_to_recommendations": "oscar_recovery.recommendations.cooccurrence.add_order",
    "journey_followups": "oscar_recovery.journeys.followups.run",
    "order_followups": "oscar_recovery.journeys.followups.run_order",
}


def record(task: str, *args, now: datetime | None = None) -> HandOff:
    """Record work in the current transaction; publish it once that commits. ``args`` must
    be JSON-serialisable."""
    if task not in HANDLERS:
        raise ValueError(f"Unknown hand-off {task!r}")
    now = now or timezone.now()
    handoff = HandOff.objects.create(
        task=task,
        args=list(args),
        created_at=now,
        available_at=now + app_settings.QUEUED_STALE_AFTER,
    )
    pk = handoff.pk
    transaction.on_commit(lambda: publish_soon(RUN_TASK, [(pk,)]))
    return handoff


def _handler(task: str) -> Callable:
    return import_string(HANDLERS[task])


def run(handoff_id: int, now: datetime | None = None, *, wait: bool = False) -> bool:
    """Do one hand-off if it is still pending and nobody else is doing it. Returns whether
    it was done now. Never raises for the handler's errors: they are kept on the row.

    ``wait``: when somebody else is doing it, wait until they are done (and then it is no
    longer pending) instead of skipping it: for a caller that must not go on before it is
    done (the sweep, before it moves journeys on)."""
    now = now or timezone.now()
    try:
        with transaction.atomic():
            pending = HandOff.objects.filter(pk=handoff_id, done_at__isnull=True)
            handoff = (pending.select_for_update() if wait else skip_locked(pending)).first()
            if handoff is None:
                return False
            _handler(handoff.task)(*handoff.args)
            done = HandOff.objects.filter(pk=handoff.pk, done_at__isnull=True).update(
                done_at=timezone.now(), attempts=F("attempts") + 1, error=""
            )
            return bool(done)
    except Exception as exc:
        _failed(handoff_id, exc, now)
        return False


def _failed(handoff_id: int, exc: Exception, now: datetime) -> None:
    error = redact(f"{type(exc).__name__}: {exc}")[:2000]
    logger.error("Hand-off %s failed: %s", handoff_id, error, exc_info=exc)
    HandOff.objects.filter(pk=handoff_id, done_at__isnull=True).update(
        attempts=F("attempts") + 1,
        error=error,
        available_at=now + app_settings.QUEUED_STALE_AFTER,
    )
    # Give up for good after MAX_ATTEMPTS; the error stays on the row.
    HandOff.objects.filter(pk=handoff_id, done_at__isnull=True, attempts__gte=MAX_ATTEMPTS).update(
        done_at=now
    )


def claim_due(now: datetime, limit: int) -> list[int]:
    """Take due hand-offs for this run: their ``available_at`` moves on, so a parallel sweep
    skips them (and they come round again if this run dies)."""
    with transaction.atomic():
        ids = list(
            skip_locked(HandOff.objects.filter(done_at__isnull=True, available_at__lte=now))
            .order_by("available_at", "pk")
            .values_list("pk", flat=True)[:limit]
        )
        if ids:
            HandOff.objects.filter(pk__in=ids).update(
                available_at=now + app_settings.QUEUED_STALE_AFTER
            )
    return ids


def flush(now: datetime | None = None, *, everything: bool = False) -> int:
    """Hand over (Celery mode) or do (inline mode) the hand-offs that are due; with
    ``everything``, also those not yet stale (inline mode runs them straight after their
    sweep). Returns how many were handed over or done."""
    now = now or timezone.now()
    horizon = now + app_settings.QUEUED_STALE_AFTER + timedelta(seconds=1) if everything else now
    ids = claim_due(horizon, app_settings.SWEEP_BATCH_SIZE)
    if not ids:
        return 0
    if uses_celery():
        return publish_now(RUN_TASK, [(pk,) for pk in ids])
    return sum(1 for pk in ids if run(pk, now))
