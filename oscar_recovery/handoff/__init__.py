"""How work leaves a shop request or the sweep: the task mode (Celery workers, or inline from
cron), publishing that never waits for a broker, and the outbox that keeps what could not be
published. See docs/howto/install-cron.md and install-celery.md."""

from oscar_recovery.handoff.mode import (
    CELERY,
    INLINE,
    celery_runs_eagerly,
    needs_workers,
    task_mode,
    uses_celery,
)
from oscar_recovery.handoff.outbox import flush, record, run
from oscar_recovery.handoff.publish import publish_now, publish_soon

__all__ = [
    "CELERY",
    "INLINE",
    "celery_runs_eagerly",
    "flush",
    "needs_workers",
    "publish_now",
    "publish_soon",
    "record",
    "run",
    "task_mode",
    "uses_celery",
]
