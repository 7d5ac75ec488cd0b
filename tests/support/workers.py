"""Real ``celery worker`` processes of :mod:`tests.support.celery_app`, for the integration
tier and the send-path bench: how one is started, what environment it gets, how it is
stopped, and how the publishing process routes its tasks to it.

Each worker is one process (``--pool=solo``) consuming only the queue it is given, so
several test runs or benches can share a broker; gossip, mingle and heartbeats are off
because nothing here needs them and they slow start-up and shutdown down.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

#: The repository: the workers' working directory and import path.
ROOT = Path(__file__).resolve().parents[2]

#: How long :func:`wait_until` waits before calling a run stuck. Not a measure of speed:
#: each wait ends as soon as its condition holds; this only keeps a hang from lasting.
STUCK_AFTER = 600


def worker_env(database: str, settings_module: str = "tests.settings", **overrides: str) -> dict:
    """The whole environment of a worker on PostgreSQL database ``database`` (a worker is
    not a test run: it connects to the test database by its name): this process's
    environment with ``overrides`` on top. ``OSCAR_RECOVERY_TEST_EMAIL_DIR`` is passed only
    when given in ``overrides``, so an outer run's setting never picks the worker's backend."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings_module,
        "OSCAR_RECOVERY_TEST_DB": "postgres",
        "OSCAR_RECOVERY_PG_NAME": database,
        "PYTHONPATH": str(ROOT),
    }
    env.pop("OSCAR_RECOVERY_TEST_EMAIL_DIR", None)
    env.update(overrides)
    return env


@dataclass
class Worker:
    """One worker process, its node name and the file its output goes to."""

    name: str
    log: Path
    process: subprocess.Popen
    #: ``time.monotonic()`` when it was started.
    started_at: float = field(default_factory=time.monotonic)
    #: Where it reports being ready and busy (its ``OSCAR_RECOVERY_TEST_STATE_DIR``, see
    #: :mod:`tests.support.celery_app`); None when not asked to.
    state: Path | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def ready(self) -> bool:
        """Alive and consuming its queue (needs :attr:`state`)."""
        return self._reports("ready") and self.alive()

    def busy(self) -> bool:
        """Alive and running a task (needs :attr:`state`)."""
        return self._reports("busy") and self.alive()

    def _reports(self, kind: str) -> bool:
        if self.state is None:
            raise RuntimeError(f"{self.name} was not given OSCAR_RECOVERY_TEST_STATE_DIR")
        return (self.state / f"{kind}.{self.pid}").exists()

    def output(self, tail: int = 3000) -> str:
        """The last ``tail`` characters the worker wrote (stdout and stderr)."""
        try:
            return self.log.read_text(errors="replace")[-tail:]
        except FileNotFoundError:
            return ""


def start_worker(
    queue: str,
    env: Mapping[str, str],
    log: Path,
    *,
    name: str | None = None,
    loglevel: str = "WARNING",
    options: Sequence[str] = (),
) -> Worker:
    """Start a worker consuming ``queue`` only, with exactly ``env`` (see
    :func:`worker_env`), writing its output to ``log`` (truncated). Returns at once: the
    worker takes seconds to set Django up before it consumes anything. ``name`` is its node
    name (Celery's default when None); ``options`` are more ``celery worker`` options."""
    command = [
        *(sys.executable, "-m", "celery", "-A", "tests.support.celery_app", "worker"),
        *("--pool=solo", "--concurrency=1", "-Q", queue),
        *(("-n", name) if name else ()),
        f"--loglevel={loglevel}",
        *("--without-gossip", "--without-mingle", "--without-heartbeat"),
        *options,
    ]
    with open(log, "w") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=dict(env), stdout=out, stderr=subprocess.STDOUT
        )
    state = env.get("OSCAR_RECOVERY_TEST_STATE_DIR")
    return Worker(name=name or "", log=log, process=process, state=Path(state) if state else None)


def stop_workers(workers: Iterable[Worker], timeout: float = 20) -> None:
    """SIGTERM (Celery's warm shutdown: the task at hand finishes) to every live worker,
    then SIGKILL to any still running ``timeout`` seconds later; returns once all exited."""
    workers = list(workers)
    for worker in workers:
        if worker.alive():
            worker.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for worker in workers:
        try:
            worker.process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            worker.process.kill()
            worker.process.wait()


def wait_until(
    condition: Callable[[], object],
    what: str,
    output: Callable[[], str] = lambda: "",
    every: float = 0.05,
) -> None:
    """Return once ``condition()`` is true, asked every ``every`` seconds. A test waits on
    what happened, never for a time: only after :data:`STUCK_AFTER` seconds does it fail,
    saying it was stuck waiting for ``what``, with ``output()`` (the workers' logs)."""
    import pytest

    deadline = time.monotonic() + STUCK_AFTER
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"stuck waiting for {what}\n{output()}")
        time.sleep(every)


def route_to(app, queue: str) -> None:
    """Publish ``app``'s tasks to ``queue``. Celery caches the default queue (and the
    router built on it) the first time it publishes, so changing the setting alone would
    keep sending to the queue of an earlier test, where no worker listens any more."""
    app.conf.task_default_queue = queue
    for cached in ("default_queue", "queues", "router"):
        app.amqp.__dict__.pop(cached, None)


@contextmanager
def publishing_to(queue: str) -> Iterator:
    """Within: this process publishes the app's tasks, the hand-off's included, to
    ``queue`` through :mod:`tests.support.celery_app`'s broker. Yields that app."""
    # function-level: the send-path bench imports this module before it picks its settings
    # module and sets Django up; importing the Celery app would pick tests.settings for it.
    from oscar_recovery.handoff import publish
    from tests.support.celery_app import app

    previous_queue, previous_app = app.conf.task_default_queue, publish._app
    app.set_current()
    route_to(app, queue)
    # The hand-off publishes with "the project's app"; in a test session that has seen
    # other apps (the sandbox's, an earlier worker test's), name this one outright.
    publish._app = lambda: app
    try:
        yield app
    finally:
        publish._app = previous_app
        route_to(app, previous_queue)
