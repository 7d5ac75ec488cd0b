"""Integration tier: several real ``celery worker`` processes sending through PostgreSQL
and Redis to an ESP that records each email as a file
(:class:`tests.support.backends.RecordingBackend`).

- The shared send rate: 3 workers under ``OSCAR_RECOVERY_SEND_RATE="10/s"`` together never
  take more than 10 send tokens in any 1 s window, one per email the ESP gets.
- Killed workers: workers SIGKILLed while sending, at points the test chooses rather than
  at moments a clock chooses (by the ESP, inside chosen calls before and after it took the
  email; from outside, once chosen numbers of messages have their ESP call started),
  restarted as a process manager would, sweeps run until nothing is queued or sending: no
  email twice, and every email lost had its ESP call started; every message whose call
  never started was sent after all. Every run kills, whatever the machine's speed.
"""

import itertools
import os
import random
import signal
import threading
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connections
from oscar.test import factories

from oscar_recovery.campaigns.install import install_defaults
from oscar_recovery.constants import EmailSource, MessageStatus
from oscar_recovery.models import Campaign, CampaignStep, CartJourney, RecoveryMessage
from oscar_recovery.sending import send as sending
from oscar_recovery.sweep.stages import run_sweep
from tests.support.factories import journey_row
from tests.support.workers import (
    Worker,
    publishing_to,
    start_worker,
    stop_workers,
    wait_until,
    worker_env,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def seed(journeys: int) -> None:
    """Quiet, identified baskets (one address each) and the default campaign, its first
    step due at abandonment: one sweep dispatches a message for each."""
    product = factories.create_product(title="Winter coat", price="40.00", num_in_stock=10**6)
    campaign = install_defaults(activate=True)
    Campaign.objects.filter(pk=campaign.pk).update(holdout_percent=0)
    CampaignStep.objects.filter(campaign=campaign, position=1).update(delay=timedelta(0))
    line = {
        "product_id": product.pk,
        "title": product.title,
        "upc": product.upc,
        "quantity": 1,
        "unit_price": "40.00",
        "line_total": "40.00",
    }
    CartJourney.objects.bulk_create(
        journey_row(
            quiet_for=timedelta(hours=2),
            email=f"shopper{n}@example.com",
            email_source=EmailSource.CHECKOUT,
            language="en-gb",
            lines=[line],
            total=Decimal("40.00"),
        )
        for n in range(journeys)
    )


class Workers:
    """Worker processes on a queue of their own; any can be killed and replaced. Each
    reports when it is ready and while it is busy (:meth:`Worker.ready`, :meth:`Worker.busy`)."""

    def __init__(self, tmp_path: Path, queue: str, env: dict) -> None:
        self.queue = queue
        self.records = tmp_path / "records"
        self.records.mkdir()
        self.logs = tmp_path / "logs"
        self.logs.mkdir()
        state = tmp_path / "state"
        state.mkdir()
        self.tokens = tmp_path / "tokens.log"
        self.env = worker_env(
            django_settings.DATABASES["default"]["NAME"],
            **env,
            OSCAR_RECOVERY_CELERY_QUEUE=queue,
            OSCAR_RECOVERY_TEST_RECORD_DIR=str(self.records),
            OSCAR_RECOVERY_TEST_STATE_DIR=str(state),
            OSCAR_RECOVERY_TEST_TOKEN_LOG=str(self.tokens),
        )
        self.processes: list[Worker] = []

    def start(self) -> Worker:
        name = f"w{len(self.processes)}-{self.queue}@localhost"
        worker = start_worker(
            self.queue,
            self.env,
            self.logs / f"{name}.log",
            name=name,
            # One task at a time: a killed worker holds back no batch but the one it sends.
            options=["--prefetch-multiplier=1"],
        )
        self.processes.append(worker)
        return worker

    def alive(self) -> list[Worker]:
        return [worker for worker in self.processes if worker.alive()]

    def busy(self) -> list[Worker]:
        return [worker for worker in self.processes if worker.busy()]

    def start_ready(self, count: int) -> None:
        """Start ``count`` workers and return once each consumes the queue, so the tasks
        published next are shared by all of them, whichever started fastest."""
        started = [self.start() for _ in range(count)]
        settle(lambda: all(worker.ready() for worker in started), "workers ready", self)

    def stop(self) -> None:
        stop_workers(self.processes)

    def deliveries(self) -> dict[str, list[tuple[float, int]]]:
        """Emails the ESP took, by address: (time, worker pid) each."""
        taken: dict[str, list[tuple[float, int]]] = {}
        for path in self.records.iterdir():
            if path.name.startswith("."):
                continue  # a write its worker was killed in (never taken), or .kills
            address = path.name.rsplit(".", 1)[0]
            at, pid = path.read_text().split()
            taken.setdefault(address, []).append((float(at), int(pid)))
        return taken

    def kills(self) -> list[tuple[str, str]]:
        """The kills the ESP did (see :class:`tests.support.backends.RecordingBackend`):
        (``"in"`` or ``"after"``, address) each."""
        kills = self.records / ".kills"
        names = sorted(path.name for path in kills.iterdir()) if kills.exists() else []
        where_address = (name.rsplit(".", 1)[0] for name in names)  # <where>.<address>.<pid>
        return [tuple(each.split(".", 1)) for each in where_address]

    def token_times(self) -> list[float]:
        """When each send-rate token was taken, in order."""
        return sorted(float(line) for line in self.tokens.read_text().split())

    def worker_log(self, tail: int = 3000) -> str:
        """The last ``tail`` characters of each worker's output that has any."""
        return "\n".join(
            f"--- {worker.name} (exit {worker.process.returncode}):\n{output}"
            for worker in self.processes
            if (output := worker.output(tail).strip())
        )


@pytest.fixture
def workers(tmp_path, request):
    env = getattr(request, "param", {})
    queue = f"oscar_recovery_test_{uuid.uuid4().hex[:8]}"
    with publishing_to(queue):  # the sweep's tasks go to these workers
        group = Workers(tmp_path, queue, env)
        try:
            yield group
        finally:
            group.stop()
            connections.close_all()


def settle(condition, what: str, workers: Workers, every: float = 0.05) -> None:
    """:func:`~tests.support.workers.wait_until`, with the workers' output if stuck."""
    wait_until(condition, what, lambda: workers.worker_log(1500), every)


class Supervisor:
    """What a deployment's process manager does for its workers: keeps ``size`` of them
    running, starting a new one whenever one has exited (killed from outside, or by the
    ESP backend at the test's chosen emails). It is also the killer from outside, driven by
    what has happened, not by the clock: each time the number of messages whose ESP call
    started reaches one of ``kill_at``, it SIGKILLs a worker that is running a task (at
    whatever point of its batch it is: claim, checks, content, mark, ESP call, outcome),
    waiting for one to be busy if none is."""

    def __init__(self, workers: Workers, size: int, kill_at: list[int]) -> None:
        self.workers = workers
        self.size = size
        self.kill_at = sorted(kill_at)
        self.kills = 0
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._rng = random.Random()
        self._thread = threading.Thread(target=self._run, name="supervisor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """No more kills or restarts; returns once the thread has ended."""
        self._stop.set()
        self._thread.join(30)
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        try:
            while not self._stop.wait(0.02):
                while len(self.workers.alive()) < self.size:
                    self.workers.start()
                if self.kills < len(self.kill_at) and marked() >= self.kill_at[self.kills]:
                    self._kill_a_busy_worker()
        except BaseException as exc:  # raised again by stop(), in the test's thread
            self.error = exc
        finally:
            connections.close_all()

    def _kill_a_busy_worker(self) -> None:
        busy = self.workers.busy()
        if not busy:
            return  # none is running a task now: the next round looks again
        try:
            os.kill(self._rng.choice(busy).pid, signal.SIGKILL)
        except ProcessLookupError:  # it died meanwhile (by its own hand)
            return
        self.kills += 1


def pending() -> int:
    return RecoveryMessage.objects.filter(
        status__in=[MessageStatus.QUEUED, MessageStatus.SENDING]
    ).count()


def marked() -> int:
    """Messages whose ESP call has started (their mark is committed)."""
    return RecoveryMessage.objects.filter(esp_call_started_at__isnull=False).count()


@pytest.mark.parametrize(
    "workers",
    [{"OSCAR_RECOVERY_TEST_SEND_RATE": "10/s", "OSCAR_RECOVERY_TEST_SEND_JITTER_MS": "20"}],
    indirect=True,
)
def test_three_workers_together_keep_to_the_shared_send_rate(workers, settings):
    settings.OSCAR_RECOVERY_SEND_BATCH_SIZE = 5  # 12 tasks: enough for every worker
    seed(60)
    workers.start_ready(3)
    assert run_sweep().dispatched == 60

    settle(lambda: pending() == 0, "every message sent", workers)

    assert RecoveryMessage.objects.filter(status=MessageStatus.SENT).count() == 60
    deliveries = workers.deliveries()
    assert sorted(deliveries) == sorted(f"shopper{n}@example.com" for n in range(60))
    assert all(len(taken) == 1 for taken in deliveries.values())
    # One token per ESP call, and the bucket (one token at 10/s) spaces the tokens 0.1 s
    # apart at least, whichever worker took them: no window of 1 s holds more than 10.
    # (The ESP's own clock would add each call's delay after its token, which depends on
    # how busy the machine is, not on the bucket.)
    tokens = workers.token_times()
    assert len(tokens) == 60
    gaps = [later - earlier for earlier, later in itertools.pairwise(tokens)]
    assert min(gaps) >= 0.1 - 1e-5, f"tokens {min(gaps):.4f}s apart"
    # Without a shared bucket 3 workers would each go at 10/s: all of them did send.
    pids = {pid for taken in deliveries.values() for _at, pid in taken}
    assert len(pids) == 3, "the workers should have shared the work"


#: Emails whose worker the ESP kills in the call, before it takes them (lost: the call had
#: started), and right after it took them (sent, but never recorded so: never resent).
KILL_IN_CALL = ["shopper3@example.com", "shopper31@example.com"]
KILL_AFTER_CALL = ["shopper12@example.com", "shopper47@example.com"]
#: Numbers of messages marked (ESP call started) at which a busy worker is killed from
#: outside. Fewer than the ESP's kills: each can spare at most one of them (by killing the
#: worker between that email's mark and its call), so the ESP kills at least once each run.
KILL_FROM_OUTSIDE_AT = [8, 22, 36]


@pytest.mark.parametrize(
    "workers",
    [
        {
            "OSCAR_RECOVERY_TEST_SEND_JITTER_MS": "30",
            "OSCAR_RECOVERY_TEST_KILL_IN_CALL": ",".join(KILL_IN_CALL),
            "OSCAR_RECOVERY_TEST_KILL_AFTER_CALL": ",".join(KILL_AFTER_CALL),
        }
    ],
    indirect=True,
)
def test_workers_killed_mid_send_lose_only_emails_whose_esp_call_started(workers, settings):
    # The sweep in this process takes work back from dead workers quickly. Tasks are seldom
    # lost (acks_late, one at a time: only one a worker was killed in before its claim),
    # and handing over again every task that waited its turn on a busy machine would only
    # flood the workers with duplicates: queued messages wait longer.
    settings.OSCAR_RECOVERY_SENDING_STALE_AFTER = timedelta(seconds=2)
    settings.OSCAR_RECOVERY_QUEUED_STALE_AFTER = timedelta(seconds=10)
    settings.OSCAR_RECOVERY_SEND_MAX_RETRIES = 100
    # Batches of 5: a worker killed mid-batch leaves batch-mates it never reached.
    settings.OSCAR_RECOVERY_SEND_BATCH_SIZE = 5
    total = 60
    seed(total)
    workers.start_ready(3)
    assert run_sweep().dispatched == total

    # The supervisor keeps 3 workers running throughout, as in production: without it the
    # ESP's kills could leave no worker at all to send what is left.
    supervisor = Supervisor(workers, size=3, kill_at=KILL_FROM_OUTSIDE_AT)
    supervisor.start()
    requeued = 0

    def swept_clean() -> bool:
        nonlocal requeued
        requeued += run_sweep().requeued
        return pending() == 0 and supervisor.kills == len(KILL_FROM_OUTSIDE_AT)

    try:
        settle(swept_clean, "nothing queued or sending", workers, every=0.5)
    finally:
        supervisor.stop()
    deliveries = workers.deliveries()
    esp_kills = workers.kills()
    messages = {
        address: (status, started, error)
        for address, status, started, error in RecoveryMessage.objects.values_list(
            "journey__email", "status", "esp_call_started_at", "error"
        )
    }
    statuses = [status for status, _started, _error in messages.values()]
    interrupted = [a for a, (_s, _t, error) in messages.items() if error == sending.INTERRUPTED]
    claimed_again = RecoveryMessage.objects.filter(attempts__gt=1).count()
    print(
        f"killed from outside={supervisor.kills} by the ESP={len(esp_kills)} {esp_kills} "
        f"sent={statuses.count(MessageStatus.SENT)} interrupted={len(interrupted)} "
        f"(delivered {len([a for a in interrupted if a in deliveries])}) "
        f"claimed again={claimed_again} (sweeps requeued {requeued}) "
        f"delivered={len(deliveries)} of {total} workers started={len(workers.processes)}"
    )

    # Workers were killed mid-send every run: from outside at each count, and by the ESP
    # at each chosen email but those an outside kill got to first.
    assert supervisor.kills == len(KILL_FROM_OUTSIDE_AT)
    chosen = len(KILL_IN_CALL) + len(KILL_AFTER_CALL)
    assert len(esp_kills) >= chosen - supervisor.kills >= 1
    assert set(esp_kills) <= {("in", a) for a in KILL_IN_CALL} | {
        ("after", a) for a in KILL_AFTER_CALL
    }
    # Never twice.
    duplicates = {a: len(taken) for a, taken in deliveries.items() if len(taken) > 1}
    assert duplicates == {}
    # Every message went out or was given up as interrupted; lost only if its call started.
    assert len(messages) == total
    assert set(statuses) <= {MessageStatus.SENT, MessageStatus.FAILED}
    for address, (status, started, error) in messages.items():
        assert started is not None, f"{address} ended {status} without an ESP call"
        if status == MessageStatus.SENT:
            assert address in deliveries
        else:
            assert (status, error) == (MessageStatus.FAILED, sending.INTERRUPTED), address
    # What the ESP's kills leave, each time: killed before the ESP took it, the email is
    # lost; killed after, it went once and was never recorded as sent.
    for where, address in esp_kills:
        assert messages[address][0] == MessageStatus.FAILED, address
        assert (address in deliveries) == (where == "after"), (where, address)
