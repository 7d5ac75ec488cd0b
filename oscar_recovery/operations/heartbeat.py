"""Workers record the last task of this app they ran: ``WorkerHeartbeat``, one row per
worker hostname, updated from Celery's ``task_postrun`` signal.

It must cost almost nothing and never raise: at most one write per worker process every
:data:`MIN_GAP` (tasks in between only update the in-memory note), inside a savepoint, so a
failing write never breaks the transaction of a request that ran a task inline.
"""

from __future__ import annotations

import socket
import time

from django.db import transaction
from django.utils import timezone

from oscar_recovery.utils import get_logger

logger = get_logger(__name__)

#: Least seconds between two heartbeat writes of one process.
MIN_GAP = 10.0
_last_write: dict[str, float] = {}


def worker_name(hostname: str | None) -> str:
    """Celery's node name (``celery@host``); tasks run inline have none, and count as the
    web process's host."""
    return hostname or f"inline@{socket.gethostname()}"


def record(task_name: str, hostname: str | None = None, force: bool = False) -> bool:
    """Note that ``hostname`` ran ``task_name`` now. Returns whether a row was written."""
    name = worker_name(hostname)[:255]
    clock = time.monotonic()
    if not force and clock - _last_write.get(name, -MIN_GAP) < MIN_GAP:
        return False
    try:
        from oscar_recovery.models import WorkerHeartbeat

        with transaction.atomic():
            WorkerHeartbeat.objects.update_or_create(
                worker=name, defaults={"task": task_name[:255], "seen_at": timezone.now()}
            )
    except Exception:
        logger.debug("Could not record the worker heartbeat", exc_info=True)
        return False
    _last_write[name] = clock
    return True


def on_task_postrun(sender=None, task=None, **kwargs) -> None:
    """``celery.signals.task_postrun`` receiver: only this app's tasks count."""
    try:
        task = task or sender
        name = getattr(task, "name", "") or ""
        if not name.startswith("oscar_recovery."):
            return
        request = task.request
        # Run eagerly (inline), the "worker" is the calling process: name it so.
        record(name, None if getattr(request, "is_eager", False) else request.hostname)
    except Exception:  # a heartbeat must never fail a task
        logger.debug("Heartbeat receiver failed", exc_info=True)


def connect() -> None:
    from celery.signals import task_postrun

    task_postrun.connect(on_task_postrun, weak=False, dispatch_uid="oscar_recovery.heartbeat")
