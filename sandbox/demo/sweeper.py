"""Runs the recovery sweep periodically inside ``runserver``, so the sandbox needs no cron,
Celery beat or worker. Real deployments schedule ``recovery_sweep`` (or ``run_sweep``)."""

import io
import logging
import threading

from django.conf import settings
from django.core.management import call_command
from django.db import close_old_connections

logger = logging.getLogger(__name__)


def start_sweeper() -> threading.Thread | None:
    interval = settings.SANDBOX_SWEEP_SECONDS
    if interval <= 0:
        return None
    thread = threading.Thread(
        target=_sweep_forever, args=(interval,), name="sandbox-sweeper", daemon=True
    )
    thread.start()
    logger.info("Running recovery_sweep every %s seconds (SANDBOX_SWEEP_SECONDS).", interval)
    return thread


def _sweep_forever(interval: int) -> None:
    stop = threading.Event()  # never set: the daemon thread dies with the server
    while not stop.wait(interval):
        # The sweep, then the dashboard's recent daily figures (Celery beat runs both).
        for command, *options in (("recovery_sweep",), ("recovery_aggregate", "--days", "2")):
            output = io.StringIO()
            try:
                call_command(command, *options, stdout=output)
                # Routine work every minute: DEBUG, with a timestamp, not bare stdout lines.
                logger.debug("%s: %s", command, output.getvalue().strip())
            except Exception:
                # A failed run must not kill the thread: the next run may well succeed.
                logger.exception("%s failed", command)
            finally:
                # This thread's connection would otherwise stay open (and stale) between runs.
                close_old_connections()
