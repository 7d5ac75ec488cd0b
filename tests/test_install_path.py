"""The install path as a new owner walks it: commands that stay quiet from cron, the
task-mode notice only where it is asked for, a missing broker client said before a worker
dies of it, and the install command's own words."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from celery import current_app
from django.core.management import CommandError, call_command
from django.core.management.base import SystemCheckError
from django.test import Client
from django.urls import reverse

from oscar_recovery import checks
from oscar_recovery.campaigns.install import install_defaults
from oscar_recovery.management.commands.recovery_install_defaults import Command as Install
from oscar_recovery.models import Campaign, CampaignEnrolment
from oscar_recovery.operations import doctor
from oscar_recovery.sweep import stages
from tests.support import dashboard_scenario as sc

pytestmark = pytest.mark.django_db


def run(*args, **options) -> tuple[str, str]:
    """A command's stdout and stderr, with the system checks a real run does."""
    out, err = io.StringIO(), io.StringIO()
    if args[0] != "check":  # the one command whose checks are all it does
        options["skip_checks"] = False
    call_command(*args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


# The task-mode notice (I001): from `manage.py check` only


@pytest.mark.parametrize("mode", ["inline", "celery"])
def test_the_task_mode_notice_shows_under_check(settings, mode):
    settings.OSCAR_RECOVERY_TASK_MODE = mode
    out, err = run("check", "--fail-level", "CRITICAL")
    assert "oscar_recovery.I001" in out + err


def test_other_commands_do_not_repeat_the_task_mode_notice(settings):
    settings.OSCAR_RECOVERY_TASK_MODE = "inline"
    out, err = run("migrate", verbosity=0)
    assert "I001" not in out + err
    out, err = run("recovery_sweep")
    assert "I001" not in out + err
    # A mistyped mode is still an error everywhere.
    settings.OSCAR_RECOVERY_TASK_MODE = "sometimes"
    with pytest.raises(SystemCheckError, match="E011"):
        run("recovery_sweep", verbosity=0)


# Cron: -v0 prints nothing on success


def test_a_quiet_sweep_prints_nothing_even_with_warnings_pending(settings):
    settings.OSCAR_RECOVERY_TASK_MODE = "inline"
    settings.OSCAR_RECOVERY_POSTAL_ADDRESS = ""  # oscar_recovery.W002, a warning
    assert run("recovery_sweep", verbosity=0) == ("", "")
    # At the default verbosity the summary and the warning are there.
    out, err = run("recovery_sweep")
    assert "abandoned" in out and "W002" in err


@pytest.mark.parametrize(
    "command",
    [
        ["recovery_purge"],
        ["recovery_aggregate"],
        ["recovery_build_recommendations"],
    ],
)
def test_the_other_cron_commands_are_quiet_at_v0_too(settings, command):
    settings.OSCAR_RECOVERY_POSTAL_ADDRESS = ""
    assert run(*command, verbosity=0) == ("", "")
    assert run(*command)[0] != ""


def test_an_export_still_prints_its_result_at_v0():
    out, _err = run("recovery_export_email", "someone@example.com", verbosity=0)
    assert "someone@example.com" in out


def test_a_quiet_sweep_with_errors_says_them_on_stderr_and_fails(settings, monkeypatch):
    settings.OSCAR_RECOVERY_TASK_MODE = "inline"

    def broken(now=None, result=None):
        result.errors.append("RuntimeError('outbox down')")
        return result

    monkeypatch.setattr(stages, "hand_over", broken)
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError):
        call_command("recovery_sweep", verbosity=0, stdout=out, stderr=err)
    assert out.getvalue() == ""
    assert "outbox down" in err.getvalue()


def test_a_serious_check_still_stops_a_quiet_command(settings):
    settings.OSCAR_RECOVERY_SITE_URL = "ftp://shop.example.org"  # oscar_recovery.E004
    with pytest.raises(SystemCheckError, match="E004"):
        run("recovery_sweep", verbosity=0)


# The broker's client library


@pytest.fixture
def celery_broker(settings, monkeypatch):
    """Point the project's Celery app at ``url``."""
    settings.OSCAR_RECOVERY_TASK_MODE = "celery"

    def use(url: str) -> None:
        monkeypatch.setitem(current_app.conf, "broker_url", url)
        monkeypatch.setitem(current_app.conf, "broker_write_url", None)

    return use


def test_a_redis_broker_without_the_redis_package_is_caught(celery_broker, monkeypatch):
    celery_broker("redis://127.0.0.1:6379/0")
    assert checks.broker_client_missing() is None
    monkeypatch.setitem(sys.modules, "redis", None)  # as if not installed
    assert "pip install redis" in checks.broker_client_missing()
    [warning] = checks.check_broker_client(None)
    assert warning.id == "oscar_recovery.W040" and "redis://" in warning.msg
    assert "oscar_recovery.W140" in {finding.id for finding in doctor.diagnose()}
    out, err = run("check", "--fail-level", "CRITICAL")
    assert "oscar_recovery.W040" in out + err


@pytest.mark.parametrize(
    "url, missing",
    [
        ("amqp://guest@127.0.0.1//", None),  # py-amqp comes with kombu
        ("memory://", None),
        ("rediss://127.0.0.1:6380/0", None),
        ("redis+socket:///tmp/redis.sock", None),
        ("sqs://", "boto3"),
        ("mongodb://127.0.0.1/celery", "pymongo"),
        ("confluentkafka://127.0.0.1:9092", "confluent-kafka"),
    ],
)
def test_each_transport_needs_what_kombu_needs(celery_broker, url, missing):
    celery_broker(url)
    problem = checks.broker_client_missing()
    assert problem is None if missing is None else f"pip install {missing}" in problem


def test_inline_mode_needs_no_broker_client(settings, monkeypatch):
    settings.OSCAR_RECOVERY_TASK_MODE = "inline"
    monkeypatch.setitem(sys.modules, "redis", None)
    assert checks.broker_client_missing() is None


def test_a_project_without_redis_hears_it_from_check_before_a_worker_dies():
    """In a fresh process without the redis package, where importing kombu's redis
    transport fails (the worker's ``'NoneType' object has no attribute 'Redis'``)."""
    script = (
        "import sys; sys.modules['redis'] = None\n"
        "import django; django.setup()\n"
        "import tests.support.celery_app\n"
        "from django.core.management import call_command\n"
        "call_command('check', '--fail-level', 'CRITICAL')\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "OSCAR_RECOVERY_TEST_DB": "",
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
    }
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "oscar_recovery.W040" in done.stderr
    assert "pip install redis" in done.stderr


# recovery_install_defaults says what running it again does


def test_the_install_help_says_what_running_it_again_does():
    text = str(Install().help)
    assert "changes nothing" not in text
    assert "--activate" in text and "existing" in text


# The holdout: one journey in ten gets no email by design, said wherever it matters

HELD_OUT = "Held out: no email by design, 10% of journeys"


def test_the_install_command_says_the_holdout():
    out, _err = run("recovery_install_defaults", "--activate")
    assert HELD_OUT in out
    assert "holdout %" in out  # where to change it


@pytest.fixture
def admin_client_logged_in(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def test_the_admin_says_the_holdout_on_the_campaign_list_and_form(admin_client_logged_in):
    campaign = install_defaults(activate=True)
    listing = admin_client_logged_in.get(reverse("admin:oscar_recovery_campaign_changelist"))
    assert "held out (no email)" in listing.content.decode().lower()
    assert '<td class="field-held_out">10%</td>' in listing.content.decode()
    form = admin_client_logged_in.get(
        reverse("admin:oscar_recovery_campaign_change", args=[campaign.pk])
    ).content.decode()
    assert "no email by design" in form and "test baskets" in form


@pytest.fixture
def dashboard_staff() -> Client:
    client = Client()
    client.force_login(sc.recovery_staff(*sc.RECOVERY_STAFF_PERMISSIONS, email="s@example.com"))
    return client


def test_the_dashboard_says_each_active_campaigns_holdout(dashboard_staff):
    install_defaults(activate=True)
    Campaign.objects.create(name="Never held out", is_active=True, holdout_percent=0)
    Campaign.objects.create(name="Switched off", is_active=False, holdout_percent=20)
    for page in ("recovery-overview", "recovery-campaigns"):
        html = dashboard_staff.get(reverse(f"recovery_dashboard:{page}")).content.decode()
        assert HELD_OUT in html, page
        assert "Never held out" not in html and "Switched off" not in html, page


def test_a_held_out_journeys_page_says_why_it_got_no_email(dashboard_staff):
    sc.build()  # its campaign holds out 10%, the default
    held_out = CampaignEnrolment.objects.get(is_holdout=True).journey_id
    emailed = CampaignEnrolment.objects.filter(is_holdout=False).first().journey_id
    detail = "recovery_dashboard:recovery-basket-detail"
    html = dashboard_staff.get(reverse(detail, args=[held_out])).content.decode()
    assert HELD_OUT in html
    html = dashboard_staff.get(reverse(detail, args=[emailed])).content.decode()
    assert "Held out" not in html


def test_the_admin_journey_page_says_a_held_out_journey_got_no_email(admin_client_logged_in):
    sc.build()
    held_out = CampaignEnrolment.objects.get(is_holdout=True).journey_id
    emailed = CampaignEnrolment.objects.filter(is_holdout=False).first().journey_id
    change = "admin:oscar_recovery_cartjourney_change"
    html = admin_client_logged_in.get(reverse(change, args=[held_out])).content.decode()
    assert HELD_OUT in html
    html = admin_client_logged_in.get(reverse(change, args=[emailed])).content.decode()
    assert "Held out" not in html and "Welcome back" in html
    listing = admin_client_logged_in.get(
        reverse("admin:oscar_recovery_campaignenrolment_changelist")
    )
    assert "held out (no email)" in listing.content.decode().lower()
