"""Hand-offs: no broker state reaches a shop request, nothing is lost
while the broker is away, and a shop without Celery sends its emails from cron.

The worst "sender" here is the broker itself: one that accepts connections and never
answers (a tarpit), one that refuses them, one that vanishes mid-sweep. None of them may
slow a checkout, fail it, or lose the work it caused.
"""

import json
import os
import socket
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.core import mail
from django.core.checks import Info
from django.utils import timezone

from oscar_recovery import checks, handoff
from oscar_recovery.checks import check_task_mode
from oscar_recovery.handoff import publish
from oscar_recovery.models import HandOff
from oscar_recovery.sweep.stages import hand_over, run_sweep
from tests.support.factories import make_journey

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[1]


class Tarpit:
    """A TCP server on 127.0.0.1 that accepts connections and never says a word."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self):
        self.server.close()
        for conn in self.accepted:
            conn.close()


def refused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again: connecting is refused


@pytest.fixture
def live_broker_at(celery_eager, settings):
    """Publish for real (not eagerly) to the given broker URL."""
    app = celery_eager
    previous = app.conf.broker_url
    settings.OSCAR_RECOVERY_BROKER_TIMEOUT = 0.3

    def reset_pools():
        app._pool = None
        app.amqp._producer_pool = None

    def point(url: str):
        app.conf.task_always_eager = False
        app.conf.broker_url = url
        reset_pools()

    yield point
    publish.wait_for_publisher()
    app.conf.broker_url = previous
    reset_pools()


@pytest.fixture
def publishes(monkeypatch):
    """Which thread every publish ran on."""
    calls: list[tuple[str, str]] = []
    real = publish.publish_now

    def recording(task_name, arg_lists, app=None):
        calls.append((task_name, threading.current_thread().name))
        return real(task_name, arg_lists, app)

    monkeypatch.setattr(publish, "publish_now", recording)
    return calls


@pytest.mark.parametrize("broker", ["tarpit", "refused"])
def test_no_broker_state_reaches_the_checkout(
    broker, live_broker_at, publishes, django_capture_on_commit_callbacks, shopper, product, country
):
    """The checkout's own thread never talks to the broker: the order's work is recorded in
    the database and published by the background publisher after the response."""
    from oscar.core.loading import get_model

    from tests.support.journeys import guest_checkout

    tarpit = Tarpit() if broker == "tarpit" else None
    try:
        port = tarpit.port if tarpit else refused_port()
        live_broker_at(f"redis://127.0.0.1:{port}/0")
        request_thread = threading.current_thread().name
        with django_capture_on_commit_callbacks(execute=True):
            response = guest_checkout(shopper, product, country)
        assert response.status_code in (200, 302)
        assert get_model("order", "Order").objects.count() == 1
        publish.wait_for_publisher()
    finally:
        if tarpit:
            tarpit.close()

    assert publishes, "the order's work was handed to the publisher"
    assert all(thread != request_thread for _, thread in publishes)
    # Not published: it waits in the outbox for the housekeeping.
    assert HandOff.objects.filter(
        task="add_order_to_recommendations", done_at__isnull=True
    ).exists()


def test_a_publish_that_fails_leaves_the_work_for_the_housekeeping(
    live_broker_at, django_capture_on_commit_callbacks, settings, celery_eager
):
    """A broker that is down during a sweep: the batch's alerts and ``basket.abandoned``
    events are in the outbox; once the broker is back, the housekeeping delivers each once."""
    from oscar_recovery.constants import WebhookEvent
    from oscar_recovery.models import WebhookDelivery, WebhookEndpoint

    settings.OSCAR_RECOVERY_ALERT_MIN_BASKET_VALUE = 10
    settings.OSCAR_RECOVERY_ALERT_RECIPIENTS = ["staff@example.com"]
    WebhookEndpoint.objects.create(
        name="crm",
        url="http://127.0.0.1:9/hook",
        events=[WebhookEvent.BASKET_ABANDONED],
        is_active=True,
    )
    for _ in range(3):
        make_journey(quiet_for=timedelta(hours=1), total=50)

    live_broker_at(f"redis://127.0.0.1:{refused_port()}/0")
    with django_capture_on_commit_callbacks(execute=True):
        assert run_sweep().abandoned == 3
    publish.wait_for_publisher()
    pending = HandOff.objects.filter(done_at__isnull=True)
    assert sorted(pending.values_list("task", flat=True)) == [
        "alert_abandoned",
        "webhooks_basket_abandoned",
    ]
    assert not WebhookDelivery.objects.exists() and mail.outbox == []

    # The broker is back (eager here; the integration tier has a real one).
    celery_eager.conf.task_always_eager = True
    later = timezone.now() + timedelta(hours=1)
    with django_capture_on_commit_callbacks(execute=True):
        assert hand_over(later).handed_over == 2
    with django_capture_on_commit_callbacks(execute=True):
        assert hand_over(later + timedelta(hours=1)).handed_over == 0  # nothing twice

    assert not HandOff.objects.filter(done_at__isnull=True).exists()
    assert len([m for m in mail.outbox if m.to == ["staff@example.com"]]) == 3
    assert WebhookDelivery.objects.filter(event=WebhookEvent.BASKET_ABANDONED).count() == 3


def test_a_rolled_back_cause_takes_its_hand_off_with_it():
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        handoff.record("add_order_to_recommendations", 1)
        raise RuntimeError

    assert not HandOff.objects.exists()


def test_a_hand_off_names_only_known_work():
    """A row (or a caller) cannot make the outbox run arbitrary code."""
    with pytest.raises(ValueError):
        handoff.record("os.system", "true")
    bad = HandOff.objects.create(task="os.system", args=["true"])
    assert handoff.run(bad.pk) is False
    bad.refresh_from_db()
    assert bad.done_at is None and "KeyError" in bad.error


def test_a_done_hand_off_is_not_done_again(monkeypatch):
    calls = []
    monkeypatch.setitem(handoff.outbox.HANDLERS, "probe", "tests.test_handoff.probe")
    monkeypatch.setattr(sys.modules[__name__], "probe", calls.append, raising=False)
    row = HandOff.objects.create(task="probe", args=[7])

    assert handoff.run(row.pk) is True
    assert handoff.run(row.pk) is False  # a duplicate task delivery
    assert calls == [7]


def test_the_task_mode_follows_the_project(settings, celery_eager, monkeypatch):
    # The notice is for `manage.py check` (tests/test_install_path.py): read it as it does.
    monkeypatch.setattr(checks, "running_check_command", lambda: True)
    assert handoff.task_mode() == "celery"  # the test suite's Celery app is current
    settings.OSCAR_RECOVERY_TASK_MODE = "inline"
    assert handoff.task_mode() == "inline"
    [info] = check_task_mode(None)
    assert isinstance(info, Info) and "cron" in info.msg
    settings.OSCAR_RECOVERY_TASK_MODE = "celery"
    celery_eager.conf.task_always_eager = False
    [info] = check_task_mode(None)
    assert "Celery workers" in info.msg and "run a worker" in info.msg
    settings.OSCAR_RECOVERY_TASK_MODE = "sometimes"
    assert check_task_mode(None)[0].id == "oscar_recovery.E011"


def test_eager_celery_is_said_to_run_tasks_where_they_are_queued(
    settings, celery_eager, monkeypatch
):
    """The sandbox without a broker. Before: I001 said "run a worker and beat" and the
    dashboard "Work is done by Celery workers" while every task ran inline."""
    monkeypatch.setattr(checks, "running_check_command", lambda: True)  # I001: `check` only
    assert handoff.task_mode() == "celery" and handoff.celery_runs_eagerly()
    assert not handoff.needs_workers()
    [info] = check_task_mode(None)
    assert "eagerly" in info.msg and "run a worker" not in info.msg
    assert "no worker is needed" in info.msg


def test_inline_mode_publishes_nothing_and_the_sweep_sends(
    settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.OSCAR_RECOVERY_TASK_MODE = "inline"
    monkeypatch.setattr(publish, "publish_now", lambda *a: pytest.fail("published"))
    handoff.publish_soon("oscar_recovery.send_message", [(1,)])
    with django_capture_on_commit_callbacks(execute=True):
        handoff.record("add_order_to_recommendations", 12345)
    # The sweep does it itself (the order is unknown: nothing to count, but it is done).
    assert hand_over().handed_over == 1
    assert HandOff.objects.get().done_at is not None


def test_a_shop_without_celery_sends_recovery_emails_from_cron(tmp_path):
    """tests/settings_no_celery.py: no Celery app, no CELERY_* setting, no broker."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings_no_celery",
        "OSCAR_RECOVERY_NO_CELERY_DB": str(tmp_path / "shop.sqlite3"),
        "OSCAR_RECOVERY_NO_CELERY_MAIL": str(tmp_path / "mail"),
        "PYTHONPATH": str(ROOT),
    }
    env.pop("OSCAR_RECOVERY_TEST_DB", None)
    run = subprocess.run(
        [sys.executable, "tests/no_celery_shop.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    outcome = json.loads(run.stdout.strip().splitlines()[-1])
    assert outcome == {
        "mode": "inline",
        "statuses": ["sent"],
        "celery_apps": 0,
        "fallback_app": False,
    }
    [sent] = list((tmp_path / "mail").glob("*.log"))
    assert "guest@example.com" in sent.read_text()
