"""Publishing to Celery without ever making a shop request wait for the broker.

A broker that accepts connections and never answers used to hold a checkout for 24 s; a
refused one cost a second per order. Here a publish from a request (any thread but the
sweep's or a worker's) goes to one background thread through a bounded queue, on a
connection of its own with short timeouts (``OSCAR_RECOVERY_BROKER_TIMEOUT``), and no
retries: whatever is not published stays recorded in the database (the message, the webhook
delivery, the :class:`~oscar_recovery.models.HandOff`) and the sweep hands it over again.
With an eager Celery app (tests, sandboxes) the task runs in the caller, as Celery would.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable

from oscar_recovery import app_settings
from oscar_recovery.handoff.mode import project_celery_app, uses_celery
from oscar_recovery.utils import get_logger

logger = get_logger(__name__)

#: Publishes waiting for the background thread; beyond this they are dropped (the database
#: still has them) rather than hold memory while the broker is away.
QUEUE_LIMIT = 10_000

_queue: queue.Queue[tuple[object, str, list[tuple]]] = queue.Queue(maxsize=QUEUE_LIMIT)
_thread: threading.Thread | None = None
_thread_lock = threading.Lock()


def _app():
    app = project_celery_app()
    if app is None:
        from celery import current_app

        app = current_app._get_current_object()
    return app


def publish_now(task_name: str, arg_lists: Iterable[tuple], app=None) -> int:
    """Publish ``task_name`` once per argument tuple, here and now, with short broker
    timeouts; stops at the first failure (the broker is away: the rest would fail alike).
    Returns how many were published. For the sweep and workers, never a shop request.
    ``app``: the Celery app to publish with (default: the project's, as seen here).
    By name only: the tasks register when Django starts (``RecoveryConfig.ready``), and
    nothing here imports them, so services that publish never depend on ``tasks``."""
    arg_lists = list(arg_lists)
    if not arg_lists:
        return 0
    app = app or _app()
    task = app.tasks[task_name]
    if app.conf.task_always_eager:
        for args in arg_lists:
            task.apply_async(args)
        return len(arg_lists)
    timeout = app_settings.BROKER_TIMEOUT
    published = 0
    try:
        with app.connection_for_write(
            connect_timeout=timeout,
            transport_options={
                "socket_timeout": timeout,
                "socket_connect_timeout": timeout,
                "read_timeout": timeout,
                "write_timeout": timeout,
                "max_retries": 0,
            },
        ) as connection:
            for args in arg_lists:
                task.apply_async(args, connection=connection, retry=False)
                published += 1
    except Exception:
        logger.warning(
            "Could not publish %s (%d of %d left); the sweep hands them over again",
            task_name,
            len(arg_lists) - published,
            len(arg_lists),
            exc_info=True,
        )
    return published


def publish_soon(task_name: str, arg_lists: Iterable[tuple]) -> None:
    """Publish without waiting: for request paths. Nothing here can block or raise into
    the caller; in inline mode nothing is published (the sweep does the work)."""
    arg_lists = list(arg_lists)
    if not arg_lists or not uses_celery():
        return
    try:
        # Celery's current app is per thread: the caller's is the one to publish with.
        app = _app()
        if app.conf.task_always_eager:
            publish_now(task_name, arg_lists, app)  # no broker involved: the task runs here
            return
        _ensure_thread()
        _queue.put_nowait((app, task_name, arg_lists))
    except queue.Full:
        logger.warning("Publish queue full; %s is left to the sweep", task_name)
    except Exception:
        logger.exception("Could not hand %s to the publisher; the sweep will", task_name)


def _ensure_thread() -> None:
    global _thread
    with _thread_lock:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(
                target=_publisher, name="oscar-recovery-publisher", daemon=True
            )
            _thread.start()


def _publisher() -> None:
    while True:
        app, task_name, arg_lists = _queue.get()
        try:
            publish_now(task_name, arg_lists, app)
        except Exception:
            logger.exception("Publishing %s failed", task_name)
        finally:
            _queue.task_done()


def wait_for_publisher() -> None:
    """Block until every queued publish was attempted (tests, and graceful shutdowns)."""
    _queue.join()
