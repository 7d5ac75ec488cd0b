"""Health the owner can see (the sweep's record, worker heartbeats, the verdicts,
the dashboard banner, the JSON endpoint) and the doctor."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from oscar.test import factories

from oscar_recovery import tasks
from oscar_recovery.constants import JourneyStatus, MessageStatus
from oscar_recovery.models import (
    Campaign,
    CampaignStep,
    RecoveryMessage,
    SweepRun,
    WorkerHeartbeat,
)
from oscar_recovery.operations import doctor, health, heartbeat
from tests.support.dashboard_scenario import recovery_staff
from tests.support.factories import make_journey

pytestmark = pytest.mark.django_db

HEALTH_URL = "/recovery/health/"


@pytest.fixture(autouse=True)
def fresh_heartbeats():
    heartbeat._last_write.clear()
    yield
    heartbeat._last_write.clear()


def sweep_run(ago: timedelta, errors=()) -> SweepRun:
    started = timezone.now() - ago
    return SweepRun.objects.create(
        started_at=started, finished_at=started + timedelta(seconds=1), errors=list(errors)
    )


def message(n: int = 0, **fields) -> RecoveryMessage:
    campaign, _ = Campaign.objects.get_or_create(name="Default")
    step, _ = CampaignStep.objects.get_or_create(
        campaign=campaign, position=1, defaults={"delay": timedelta(hours=1)}
    )
    journey = make_journey(quiet_for=timedelta(hours=2), status=JourneyStatus.ABANDONED)
    return RecoveryMessage.objects.create(journey=journey, step=step, **fields)


def codes(report: health.Health) -> list[str]:
    return [problem.code for problem in report.problems]


# The sweep's record and the worker heartbeat


def test_the_sweep_task_records_its_run_and_the_worker_heartbeat():
    make_journey(quiet_for=timedelta(hours=1))
    result = tasks.sweep.delay().get()

    run = SweepRun.objects.get()
    assert run.finished_at is not None and run.finished_at >= run.started_at
    assert run.counts == result and run.counts["abandoned"] == 1
    assert run.errors == []
    beat = WorkerHeartbeat.objects.get()
    assert beat.task == "oscar_recovery.sweep"
    assert beat.worker.startswith("inline@")  # run eagerly here; a worker gives its node name


def test_recovery_sweep_command_records_its_run_too():
    call_command("recovery_sweep", stdout=io.StringIO())
    assert SweepRun.objects.filter(finished_at__isnull=False).count() == 1


def test_a_sweep_that_raises_is_recorded_with_its_error(monkeypatch):
    from oscar_recovery.sweep import stages

    def broken(now=None):
        raise RuntimeError("boom")

    monkeypatch.setattr(stages, "run_sweep", broken)
    with pytest.raises(RuntimeError):
        health.recorded_sweep()
    run = SweepRun.objects.get()
    assert run.finished_at is not None
    assert "boom" in run.errors[0]
    assert codes(health.check()) == ["sweep_errors"]


def test_an_address_in_a_sweep_error_is_not_kept(monkeypatch):
    """An ESP or SMTP error quotes the recipient; the sweep's record is kept for weeks and
    shown to staff, so it keeps the error without the address."""
    from oscar_recovery.sweep import stages

    def refused(now=None):
        raise RuntimeError("550 shopper@example.com: no such user")

    monkeypatch.setattr(stages, "run_sweep", refused)
    with pytest.raises(RuntimeError):
        health.recorded_sweep()
    (error,) = SweepRun.objects.get().errors
    assert "shopper@example.com" not in error and "no such user" in error


def test_old_sweep_runs_are_deleted():
    sweep_run(ago=health.SWEEP_RUNS_KEPT + timedelta(hours=1))
    kept = sweep_run(ago=timedelta(days=1))
    health.recorded_sweep()
    assert SweepRun.objects.count() == 2
    assert SweepRun.objects.filter(pk=kept.pk).exists()


def test_heartbeats_are_throttled_per_worker_and_other_tasks_do_not_count():
    assert heartbeat.record("oscar_recovery.sweep", "celery@a")
    assert not heartbeat.record("oscar_recovery.send_message", "celery@a")
    assert heartbeat.record("oscar_recovery.send_message", "celery@b")
    assert WorkerHeartbeat.objects.get(worker="celery@a").task == "oscar_recovery.sweep"

    class Foreign:
        name = "shop.reindex"
        request = type("Request", (), {"hostname": "celery@c"})()

    heartbeat.on_task_postrun(task=Foreign())
    assert not WorkerHeartbeat.objects.filter(worker="celery@c").exists()


def test_a_failing_heartbeat_never_raises_nor_breaks_the_callers_transaction(monkeypatch):
    from django.db import transaction

    def broken(*args, **kwargs):
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table")

    monkeypatch.setattr(WorkerHeartbeat.objects, "update_or_create", broken)
    with transaction.atomic():
        assert heartbeat.record("oscar_recovery.sweep", "celery@a") is False
        # The request's transaction goes on: the failure stayed inside the savepoint.
        assert SweepRun.objects.count() == 0


# Verdicts


def test_a_sweep_that_never_ran_is_a_problem():
    assert codes(health.check()) == ["sweep_never_ran"]


def test_a_recent_sweep_is_healthy_and_a_late_one_is_not(settings):
    settings.OSCAR_RECOVERY_SWEEP_INTERVAL = timedelta(minutes=1)
    run = sweep_run(ago=timedelta(seconds=170))
    assert health.check().healthy
    SweepRun.objects.filter(pk=run.pk).update(started_at=timezone.now() - timedelta(minutes=4))
    report = health.check()
    assert codes(report) == ["sweep_late"]
    assert "4 min" in report.problems[0].message
    settings.OSCAR_RECOVERY_SWEEP_INTERVAL = timedelta(minutes=5)
    assert health.check().healthy


def test_errors_of_the_last_sweep_are_a_problem():
    sweep_run(ago=timedelta(minutes=2))
    sweep_run(ago=timedelta(seconds=10), errors=["RuntimeError('receiver')"])
    assert codes(health.check()) == ["sweep_errors"]


def test_messages_queued_longer_than_queued_stale_after_mean_no_worker(settings):
    settings.OSCAR_RECOVERY_QUEUED_STALE_AFTER = timedelta(minutes=10)
    sweep_run(ago=timedelta(seconds=10))
    fresh = message(created_at=timezone.now() - timedelta(minutes=9))
    assert health.check().healthy
    # A message waiting for its retry (attempted before) is not a sign of a missing worker.
    RecoveryMessage.objects.filter(pk=fresh.pk).update(
        created_at=timezone.now() - timedelta(hours=1), attempts=1
    )
    assert health.check().healthy
    RecoveryMessage.objects.filter(pk=fresh.pk).update(attempts=0)
    report = health.check()
    assert codes(report) == ["queue_stale"]
    assert report.queue_age > timedelta(minutes=59)


def test_the_last_sends_all_failing_is_a_problem_until_one_goes_through():
    sweep_run(ago=timedelta(seconds=10))
    now = timezone.now()
    for minutes in (3, 2, 1):
        message(status=MessageStatus.FAILED, claimed_at=now - timedelta(minutes=minutes))
    report = health.check()
    assert codes(report) == ["sends_failing"]
    assert report.failed_last_day == 3
    message(status=MessageStatus.SENT, claimed_at=now, sent_at=now)
    assert health.check().healthy


def test_fewer_failures_than_the_streak_are_not_yet_a_problem():
    sweep_run(ago=timedelta(seconds=10))
    message(status=MessageStatus.FAILED, claimed_at=timezone.now())
    assert health.check().healthy


# The endpoint


@pytest.fixture
def healthy():
    sweep_run(ago=timedelta(seconds=30))
    heartbeat.record("oscar_recovery.sweep", "celery@worker1", force=True)


def test_the_endpoint_refuses_strangers_before_reading_anything(
    healthy, settings, django_assert_num_queries
):
    settings.OSCAR_RECOVERY_HEALTH_TOKEN = "s3cret-token"
    client = Client()
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret-token"}):
        with django_assert_num_queries(0):
            response = client.get(HEALTH_URL, headers=headers)
        assert response.status_code == 403
        assert response.json() == {"detail": "forbidden"}


def test_an_empty_token_setting_admits_no_token(healthy, settings):
    settings.OSCAR_RECOVERY_HEALTH_TOKEN = ""
    response = Client().get(HEALTH_URL, headers={"Authorization": "Bearer "})
    assert response.status_code == 403


def test_customers_who_are_not_staff_are_refused(healthy):
    client = Client()
    client.force_login(factories.UserFactory(email="shopper@example.com"))
    assert client.get(HEALTH_URL).status_code == 403


def test_the_token_reads_the_figures(healthy, settings):
    settings.OSCAR_RECOVERY_HEALTH_TOKEN = "s3cret-token"
    response = Client().get(HEALTH_URL, headers={"Authorization": "Bearer s3cret-token"})
    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"]
    body = response.json()
    assert body["status"] == "ok" and body["problems"] == []
    assert 29 <= body["last_sweep"]["age_seconds"] < 600
    assert body["worker"]["name"] == "celery@worker1"
    assert body["queue"] == {"queued": 0, "oldest_age_seconds": None}
    assert reverse("oscar_recovery:health") == HEALTH_URL


def test_staff_without_a_recovery_permission_are_refused(healthy):
    """The worst staff session: any ``is_staff`` user (a warehouse clerk with Oscar's
    order dashboard only) must not read recovery's figures, as the dashboard showing the
    same figures refuses them."""
    client = Client()
    client.force_login(factories.UserFactory(is_staff=True, email="clerk@example.com"))
    assert client.get(HEALTH_URL).status_code == 403


def test_staff_read_it_and_unhealthy_answers_503():
    client = Client()
    client.force_login(recovery_staff("view_campaign", email="staff@example.com"))
    response = client.get(HEALTH_URL)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert [p["code"] for p in body["problems"]] == ["sweep_never_ran"]


# The dashboard


@pytest.fixture
def staff_client() -> Client:
    client = Client()
    # The dashboard's figures and basket list need the admin's view permissions.
    client.force_login(
        recovery_staff("view_campaign", "view_cartjourney", email="staff@example.com")
    )
    return client


OVERVIEW = "/dashboard/recovery/"


def test_overview_shows_the_health_line(healthy, staff_client):
    now = timezone.now()
    message(status=MessageStatus.SENT, claimed_at=now, sent_at=now - timedelta(minutes=3))
    html = staff_client.get(OVERVIEW).content.decode()
    assert 'data-health="ok"' in html
    assert "Last sweep 30 s ago." in html or "Last sweep 31 s ago." in html
    assert "Last email sent 3 min ago." in html
    assert "data-health-problem" not in html


@pytest.mark.parametrize(
    "setup, code",
    [
        (lambda: None, "sweep_never_ran"),
        (lambda: sweep_run(ago=timedelta(hours=1)), "sweep_late"),
        (lambda: sweep_run(ago=timedelta(seconds=5), errors=["x"]), "sweep_errors"),
    ],
)
def test_overview_warns_of_each_sweep_problem(staff_client, setup, code):
    setup()
    html = staff_client.get(OVERVIEW).content.decode()
    assert f'data-health-problem="{code}"' in html


def test_overview_warns_of_a_stale_queue_and_failing_sends(staff_client):
    sweep_run(ago=timedelta(seconds=5))
    message(created_at=timezone.now() - timedelta(hours=1))
    for _ in range(3):
        message(status=MessageStatus.FAILED, claimed_at=timezone.now())
    html = staff_client.get(OVERVIEW).content.decode()
    assert 'data-health-problem="queue_stale"' in html
    assert 'data-health-problem="sends_failing"' in html


# The doctor


@pytest.fixture
def production(settings, celery_eager):
    """A production shop with nothing wrong: Celery workers take the tasks."""
    celery_eager.conf.task_always_eager = False
    settings.DEBUG = False
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.ANYMAIL = {"WEBHOOK_SECRET": "esp:secret"}
    settings.OSCAR_RECOVERY_LAWFUL_BASIS = "soft_opt_in"
    settings.OSCAR_RECOVERY_POSTAL_ADDRESS = "1 High Street"
    settings.OSCAR_RECOVERY_SITE_URL = "https://shop.test"
    settings.CELERY_BEAT_SCHEDULE = {
        "sweep": {"task": "oscar_recovery.sweep", "schedule": 60},
    }
    from django.contrib.sites.models import Site

    Site.objects.update_or_create(pk=settings.SITE_ID, defaults={"domain": "shop.test"})
    Site.objects.clear_cache()
    sweep_run(ago=timedelta(seconds=5))
    heartbeat.record("oscar_recovery.sweep", "celery@w", force=True)
    yield settings
    Site.objects.clear_cache()


def ids() -> list[str]:
    return [finding.id for finding in doctor.diagnose()]


def test_a_healthy_production_shop_has_nothing_wrong(production):
    assert ids() == []
    out = io.StringIO()
    call_command("recovery_doctor", stdout=out)
    assert "Nothing wrong found." in out.getvalue()


@pytest.mark.parametrize(
    "breaks, check_id",
    [
        (
            lambda s: setattr(s, "EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"),
            "oscar_recovery.W131",
        ),
        (
            lambda s: setattr(s, "EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend"),
            "oscar_recovery.W131",
        ),
        (lambda s: setattr(s, "ANYMAIL", {}), "oscar_recovery.W132"),
        (lambda s: delattr(s, "OSCAR_RECOVERY_LAWFUL_BASIS"), "oscar_recovery.W133"),
        (lambda s: setattr(s, "OSCAR_RECOVERY_POSTAL_ADDRESS", " "), "oscar_recovery.W134"),
        (
            lambda s: setattr(s, "OSCAR_RECOVERY_SITE_URL", "http://localhost:8000"),
            "oscar_recovery.W135",
        ),
        (
            lambda s: setattr(s, "OSCAR_RECOVERY_SITE_URL", "https://example.com"),
            "oscar_recovery.W135",
        ),
        (lambda s: _site("example.com"), "oscar_recovery.W136"),
        (lambda s: _site("127.0.0.1:8000"), "oscar_recovery.W136"),
        (lambda s: _no_beat_sweep(s), "oscar_recovery.W137"),
        (lambda s: WorkerHeartbeat.objects.all().delete(), "oscar_recovery.W138"),
        (lambda s: SweepRun.objects.all().delete(), "oscar_recovery.W139"),
    ],
)
def test_each_doctor_check_finds_its_problem(production, breaks, check_id):
    breaks(production)
    assert ids() == [check_id]
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("recovery_doctor", stdout=out, stderr=err)
    assert exited.value.code == 1
    lines = out.getvalue().splitlines()
    assert lines[0].startswith(f"[{check_id}] ")
    assert lines[1].strip().startswith("Fix: ") and len(lines[1]) > 20


def _no_beat_sweep(settings) -> None:
    settings.CELERY_BEAT_SCHEDULE = {}
    SweepRun.objects.all().delete()
    sweep_run(ago=timedelta(hours=1))  # it ran once, long ago: nothing starts it now


def _site(domain: str) -> None:
    from django.contrib.sites.models import Site

    Site.objects.filter(pk=1).update(domain=domain)
    Site.objects.clear_cache()


def test_a_console_backend_is_fine_while_debugging(production):
    production.DEBUG = True
    production.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    assert ids() == []


def test_a_sweep_that_runs_is_started_by_something_whatever_the_beat_schedule(production):
    """Before: W137 said nothing starts the sweep while the health line showed a sweep
    seconds ago (the sandbox's thread, or cron, starts it)."""
    production.CELERY_BEAT_SCHEDULE = {}
    assert ids() == []


def test_eager_celery_needs_neither_a_worker_nor_beat(production, celery_eager):
    """The sandbox without a broker: Celery runs each task where it is queued. Before: the
    doctor asked for a worker and a beat schedule that would never be used."""
    celery_eager.conf.task_always_eager = True
    production.CELERY_BEAT_SCHEDULE = {}
    SweepRun.objects.all().delete()
    sweep_run(ago=timedelta(hours=1))
    WorkerHeartbeat.objects.all().delete()
    assert ids() == []


def test_a_local_site_url_is_named_by_its_host_not_a_port(production):
    """Before: "OSCAR_RECOVERY_SITE_URL is http://127.0.0.1:8000" while the sandbox served
    on another SANDBOX_ADDR (the doctor's shell need not have it)."""
    production.OSCAR_RECOVERY_SITE_URL = "http://127.0.0.1:8000"
    [finding] = doctor.diagnose()
    assert finding.id == "oscar_recovery.W135"
    assert "127.0.0.1" in finding.message and "8000" not in finding.message


def test_without_celery_the_beat_and_worker_checks_stand_down(production):
    # The doctor reads the task-mode setting through one function.
    production.OSCAR_RECOVERY_TASK_MODE = "inline"
    production.CELERY_BEAT_SCHEDULE = {}
    WorkerHeartbeat.objects.all().delete()
    from oscar_recovery import app_settings

    if not hasattr(type(app_settings._app_settings), "TASK_MODE"):
        pytest.skip("OSCAR_RECOVERY_TASK_MODE is not merged yet")
    assert ids() == []


def test_check_deploy_shows_the_same_findings(production):
    production.ANYMAIL = {}
    production.OSCAR_RECOVERY_POSTAL_ADDRESS = ""
    SweepRun.objects.all().delete()
    out, err = io.StringIO(), io.StringIO()
    # Other apps' errors (async.E001 under the browser tests) must not end the command.
    call_command("check", "--deploy", "--fail-level", "CRITICAL", stdout=out, stderr=err)
    text = out.getvalue() + err.getvalue()
    # The webhook secret is said once, by the ordinary check W031 (the guarded URLs of
    # tests/urls.py answer 404 without it; E030 is for anymail's own URLs left open).
    for check_id in ("oscar_recovery.W031", "oscar_recovery.W139"):
        assert check_id in text
    assert "oscar_recovery.W132" not in text
    # The postal address is said once, by the ordinary check W002.
    assert "oscar_recovery.W002" in text and "oscar_recovery.W134" not in text
    assert "HINT: Set ANYMAIL" in text
    # Not without --deploy: a developer's runserver stays quiet.
    out = io.StringIO()
    call_command("check", "--fail-level", "CRITICAL", stdout=out, stderr=io.StringIO())
    assert "oscar_recovery.W13" not in out.getvalue()


# The basket list marks bots and staff (the sandbox's first scripted visitor sees why)


def test_basket_list_shows_bot_and_staff_journeys_as_such(staff_client):
    bot = make_journey(quiet_for=timedelta(hours=1), status=JourneyStatus.ABANDONED, is_bot=True)
    staff = make_journey(
        quiet_for=timedelta(hours=1), status=JourneyStatus.ABANDONED, is_staff=True
    )
    hidden = staff_client.get("/dashboard/recovery/baskets/").content.decode()
    assert f'data-journey="{bot.pk}"' not in hidden and "data-bots-hidden" in hidden
    assert "bots=on" in hidden
    html = staff_client.get("/dashboard/recovery/baskets/?bots=on").content.decode()
    assert "data-bots-hidden" not in html
    bot_row = html.split(f'data-journey="{bot.pk}"')[1].split("</tr>")[0]
    staff_row = html.split(f'data-journey="{staff.pk}"')[1].split("</tr>")[0]
    assert "data-bot" in bot_row and "data-staff" not in bot_row
    assert "data-staff" in staff_row and "data-bot" not in staff_row
