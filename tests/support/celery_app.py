"""The Celery app the integration tier's worker process runs (``-A tests.support.celery_app``).

What a test may ask of its workers, through their environment, so it can wait for and act
on what happened rather than on how long it took:

- ``OSCAR_RECOVERY_TEST_STATE_DIR``: the worker keeps ``ready.<pid>`` there once it consumes
  its queue, and ``busy.<pid>`` while it runs a task (:mod:`tests.support.workers`);
- ``OSCAR_RECOVERY_TEST_TOKEN_LOG``: the worker appends, one line each, the time of every
  send-rate token it takes (the clock value the bucket's ``UPDATE`` was made with).
"""

import os
from pathlib import Path

from celery import Celery
from celery.signals import task_postrun, task_prerun, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

app = Celery("oscar_recovery_tests")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["oscar_recovery"])


def _state(kind: str) -> Path | None:
    directory = os.environ.get("OSCAR_RECOVERY_TEST_STATE_DIR")
    return Path(directory, f"{kind}.{os.getpid()}") if directory else None


@worker_ready.connect
def _ready(**kwargs) -> None:
    if path := _state("ready"):
        path.touch()


@task_prerun.connect
def _busy(**kwargs) -> None:
    if path := _state("busy"):
        path.touch()


@task_postrun.connect
def _idle(**kwargs) -> None:
    if path := _state("busy"):
        path.unlink(missing_ok=True)


def _log_tokens(log: str) -> None:
    """Wrap the bucket's ``take`` so each token taken leaves its time in ``log``: the shared
    rate is a promise about these times (the ESP's own clock adds each call's delay)."""
    from oscar_recovery.sending import rate

    take = rate.take
    depth = [0]  # ``take`` calls itself once on a bucket it created: log the outer call

    def logged_take(limit, name=rate.SEND_BUCKET, now=None):
        import time

        now = time.time() if now is None else now
        depth[0] += 1
        try:
            wait = take(limit, name, now)
        finally:
            depth[0] -= 1
        if wait == 0 and depth[0] == 0:
            fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            try:
                os.write(fd, f"{now:.6f}\n".encode())  # one short append: atomic
            finally:
                os.close(fd)
        return wait

    rate.take = logged_take


if os.environ.get("OSCAR_RECOVERY_TEST_TOKEN_LOG"):
    import django

    django.setup()  # the rate module imports models
    _log_tokens(os.environ["OSCAR_RECOVERY_TEST_TOKEN_LOG"])
