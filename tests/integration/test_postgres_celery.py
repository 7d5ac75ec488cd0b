"""Integration tier: real PostgreSQL, real Redis, a real Celery worker process.

Runs in the tox postgres envs; under CI=true an unreachable service fails these tests.
"""

import os
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, connections

from oscar_recovery import signals
from oscar_recovery.constants import JourneyEventKind, JourneyStatus
from oscar_recovery.models import CartJourney, CartJourneyEvent
from oscar_recovery.sweep import run_sweep
from tests.factories import journey_row, make_journey

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]


def test_runs_on_postgresql():
    assert connection.vendor == "postgresql"


def test_two_sweeps_racing_process_each_journey_exactly_once(settings):
    settings.OSCAR_RECOVERY_SWEEP_BATCH_SIZE = 50
    CartJourney.objects.bulk_create(
        [journey_row(quiet_for=timedelta(hours=1)) for _ in range(2000)]
    )
    handed_off: list[int] = []
    lock = threading.Lock()

    def receiver(sender, journey_ids, **kwargs):
        with lock:
            handed_off.extend(journey_ids)

    signals.journeys_abandoned.connect(receiver)
    barrier = threading.Barrier(2)
    results = []

    def sweeper():
        try:
            barrier.wait()
            results.append(run_sweep())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sweeper) for _ in range(2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        signals.journeys_abandoned.disconnect(receiver)

    assert len(results) == 2
    assert sum(r.abandoned for r in results) == 2000
    assert all(r.abandoned > 0 for r in results), "both sweeps should have shared the work"
    assert len(handed_off) == len(set(handed_off)) == 2000
    assert CartJourney.objects.filter(status=JourneyStatus.ABANDONED).count() == 2000
    assert CartJourneyEvent.objects.filter(kind=JourneyEventKind.ABANDONED).count() == 2000


@pytest.fixture
def celery_worker_process():
    """A real ``celery worker`` process on Redis, using this test run's PostgreSQL database."""
    from tests.celery_app import app

    app.set_current()  # this process enqueues through the same broker and result backend
    queue = f"oscar_recovery_test_{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "OSCAR_RECOVERY_TEST_DB": "postgres",
        # The worker is not a test run: it connects to the test database by its name.
        "OSCAR_RECOVERY_PG_NAME": settings.DATABASES["default"]["NAME"],
        "PYTHONPATH": str(ROOT),
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tests.celery_app",
            "worker",
            "--pool=solo",
            "--concurrency=1",
            "-Q",
            queue,
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield queue, worker
    finally:
        worker.terminate()
        try:
            worker.wait(20)
        except subprocess.TimeoutExpired:
            worker.kill()


def test_a_sweep_enqueued_by_the_app_is_executed_by_a_real_worker(celery_worker_process):
    from oscar_recovery.tasks import sweep

    queue, worker = celery_worker_process
    journey = make_journey(quiet_for=timedelta(hours=1))

    async_result = sweep.apply_async(queue=queue)
    try:
        outcome = async_result.get(timeout=90)
    except Exception:
        worker.terminate()
        print(worker.stdout.read())
        raise

    assert outcome == {"abandoned": 1, "expired": 0, "batches": 1}
    journey.refresh_from_db()
    assert journey.status == JourneyStatus.ABANDONED
    deadline = time.monotonic() + 5
    while async_result.state != "SUCCESS" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert async_result.state == "SUCCESS"
