"""Integration tier, the shared send rate and resending what never reached the ESP: several
real ``celery worker`` processes sending through PostgreSQL and Redis to an ESP that records
each email as a file (:class:`tests.support.backends.RecordingBackend`).

- The shared send rate: 3 workers under ``OSCAR_RECOVERY_SEND_RATE="10/s"`` together never
  hand the ESP more than 10 emails in any 1 s window.
- Killed workers: workers SIGKILLed at random points while sending (from outside, and by
  themselves inside the ESP call), restarted as a process manager would, sweeps run until
  nothing is queued or sending: no email twice, and every email lost had its ESP call
  started; every message whose call never started was sent after all.
"""

import os
import random
import signal
import threading
import time
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
from tests.support.workers import Worker, publishing_to, start_worker, stop_workers, worker_env

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
    """Worker processes on a queue of their own; any can be killed and replaced."""

    def __init__(self, tmp_path: Path, queue: str, env: dict) -> None:
        self.queue = queue
        self.records = tmp_path / "records"
        self.records.mkdir()
        self.logs = tmp_path / "logs"
        self.logs.mkdir()
        self.env = worker_env(
            django_settings.DATABASES["default"]["NAME"],
            **env,
            OSCAR_RECOVERY_CELERY_QUEUE=queue,
            OSCAR_RECOVERY_TEST_RECORD_DIR=str(self.records),
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

    def working(self, after: float) -> list[Worker]:
        """Live workers started more than ``after`` seconds ago (past their start-up)."""
        now = time.monotonic()
        return [worker for worker in self.alive() if now - worker.started_at > after]

    def stop(self) -> None:
        stop_workers(self.processes)

    def deliveries(self) -> dict[str, list[tuple[float, int]]]:
        """Emails the ESP took, by address: (time, worker pid) each."""
        taken: dict[str, list[tuple[float, int]]] = {}
        for path in self.records.iterdir():
            if path.name.startswith("."):
                continue  # a write its worker was killed in: never renamed, never taken
            address = path.name.rsplit(".", 1)[0]
            at, pid = path.read_text().split()
            taken.setdefault(address, []).append((float(at), int(pid)))
        return taken

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


class Supervisor:
    """What a deployment's process manager does for its workers: keeps ``size`` of them
    running, starting a new one whenever one has exited (killed from outside, or by the
    ESP backend's ``OSCAR_RECOVERY_TEST_SELF_KILL``). While :attr:`killing` is set it is
    also the chaos: every 0.5 to 1.5 s it SIGKILLs a random worker past its start-up."""

    def __init__(self, workers: Workers, size: int) -> None:
        self.workers = workers
        self.size = size
        self.killing = threading.Event()
        self.kills = 0
        self._stop = threading.Event()
        self._rng = random.Random()
        self._thread = threading.Thread(target=self._run, name="supervisor", daemon=True)

    def start(self) -> None:
        self.killing.set()
        self._thread.start()

    def stop(self) -> None:
        """No more kills or restarts; returns once the thread has ended."""
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        while True:
            while len(self.workers.alive()) < self.size:
                self.workers.start()
            pause = self._rng.uniform(0.5, 1.5) if self.killing.is_set() else 0.2
            if self._stop.wait(pause):
                return
            if not self.killing.is_set():
                continue
            # From outside, at any point of a send (claim, checks, content, mark); the
            # backend adds kills inside the ESP call itself.
            working = self.workers.working(after=4)
            if working:
                try:
                    os.kill(self._rng.choice(working).pid, signal.SIGKILL)
                except ProcessLookupError:  # it died meanwhile (by its own hand)
                    continue
                self.kills += 1


def pending() -> int:
    return RecoveryMessage.objects.filter(
        status__in=[MessageStatus.QUEUED, MessageStatus.SENDING]
    ).count()


def wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.parametrize("workers", [{"OSCAR_RECOVERY_TEST_SEND_RATE": "10/s"}], indirect=True)
def test_three_workers_together_keep_to_the_shared_send_rate(workers):
    seed(60)
    for _ in range(3):
        workers.start()
    assert run_sweep().dispatched == 60

    done = wait_for(lambda: pending() == 0, timeout=120)
    assert done, workers.worker_log()

    assert RecoveryMessage.objects.filter(status=MessageStatus.SENT).count() == 60
    deliveries = workers.deliveries()
    times = sorted(at for taken in deliveries.values() for at, _pid in taken)
    assert len(times) == 60
    # The bucket holds one token, so no window of 1 s may hold more than 10 sends; one more
    # is allowed for the jitter between taking a token and the ESP recording the email
    # (a send whose token came late and the next one's on time land closer than 0.1 s).
    busiest = max(
        sum(1 for other in times[i:] if other < start + 1.0) for i, start in enumerate(times)
    )
    assert busiest <= 11, f"{busiest} sends within one second"
    # Without a shared bucket 3 workers would each go at 10/s: all of them did send.
    pids = {pid for taken in deliveries.values() for _at, pid in taken}
    assert len(pids) >= 2, "the workers should have shared the work"


@pytest.mark.parametrize(
    "workers",
    [{"OSCAR_RECOVERY_TEST_SEND_JITTER_MS": "30", "OSCAR_RECOVERY_TEST_SELF_KILL": "0.03"}],
    indirect=True,
)
def test_workers_killed_mid_send_lose_only_emails_whose_esp_call_started(workers, settings):
    # The sweep in this process takes work back from dead workers quickly.
    settings.OSCAR_RECOVERY_SENDING_STALE_AFTER = timedelta(seconds=2)
    settings.OSCAR_RECOVERY_QUEUED_STALE_AFTER = timedelta(seconds=2)
    settings.OSCAR_RECOVERY_SEND_MAX_RETRIES = 100
    total = 60
    seed(total)
    for _ in range(3):
        workers.start()
    assert run_sweep().dispatched == total

    supervisor = Supervisor(workers, size=3)
    supervisor.start()

    def swept_clean() -> bool:
        run_sweep()
        return pending() == 0

    try:
        # Kill while roughly the first half goes out, then let the rest settle. The
        # supervisor keeps restarting workers throughout, as in production: without it the
        # backend's self-kills could leave no worker at all to send what is left.
        wait_for(lambda: pending() <= total // 2, timeout=40)
        supervisor.killing.clear()
        # Generous: on a busy machine a replacement worker takes seconds to start.
        settled = wait_for(swept_clean, timeout=120)
    finally:
        supervisor.stop()
    kills = supervisor.kills
    deliveries = workers.deliveries()
    # Never twice, and never an unmarked message failed as interrupted: settled or not.
    duplicates = {a: len(taken) for a, taken in deliveries.items() if len(taken) > 1}
    assert duplicates == {}
    for message in RecoveryMessage.objects.filter(
        status=MessageStatus.FAILED, error=sending.INTERRUPTED
    ):
        assert message.esp_call_started_at is not None, message.pk
    if not settled:
        left = list(
            RecoveryMessage.objects.filter(
                status__in=[MessageStatus.QUEUED, MessageStatus.SENDING]
            ).values_list("pk", "status", "attempts", "esp_call_started_at", "claimed_at")
        )
        pytest.fail(
            f"{len(left)} messages still queued or sending after the settle phase; "
            f"{len(workers.alive())} of the {len(workers.processes)} workers started are "
            f"alive; {kills} killed from outside.\n{left}\n{workers.worker_log(1500)}"
        )

    messages = list(
        RecoveryMessage.objects.values_list("to_email", "status", "esp_call_started_at", "error")
    )
    journeys = dict(RecoveryMessage.objects.values_list("pk", "journey__email"))
    addresses = list(journeys.values())
    assert kills > 0
    assert len(messages) == total
    for pk, address in journeys.items():
        message = RecoveryMessage.objects.get(pk=pk)
        if address not in deliveries:
            # Lost: only ever one whose ESP call had started, failed as interrupted.
            assert message.esp_call_started_at is not None, address
            assert message.status == MessageStatus.FAILED, (address, message.status)
            assert message.error == sending.INTERRUPTED
        if message.esp_call_started_at is None:
            pytest.fail(f"{address} ended {message.status} without an ESP call")
        if message.status == MessageStatus.SENT:
            assert address in deliveries
    statuses = [status for _to, status, _started, _error in messages]
    sent = statuses.count(MessageStatus.SENT)
    print(
        f"kills={kills} sent={sent} failed={statuses.count(MessageStatus.FAILED)} "
        f"delivered={len(deliveries)} of {len(addresses)}"
    )
    assert set(statuses) <= {MessageStatus.SENT, MessageStatus.FAILED}
