"""One logger idiom: every logger of the app carries the personal-data filter, so an address
that reaches a log message or traceback is redacted, whichever module logged it.

A filter on the ``oscar_recovery`` logger does not apply to records of its children (Python
runs a logger's filters only for records logged on that very logger), so each module's own
logger must carry it: ``get_logger(__name__)``."""

from __future__ import annotations

import importlib
import logging
import pkgutil
import smtplib
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
from oscar.test import factories

import oscar_recovery
from oscar_recovery.constants import JourneyStatus, WebhookEvent
from oscar_recovery.models import WebhookEndpoint
from oscar_recovery.outgoing_webhooks import deliver, emit
from oscar_recovery.recommendations import cooccurrence
from oscar_recovery.reporting import alerts
from oscar_recovery.utils import PersonalDataFilter, redact_url, redact_url_in, redact_urls
from tests.support.backends import ScriptedBackend
from tests.support.factories import make_journey

ADDRESS = "shopper@example.com"


def app_modules() -> list[str]:
    return [
        info.name
        for info in pkgutil.walk_packages(oscar_recovery.__path__, "oscar_recovery.")
        if ".migrations." not in info.name
    ]


def test_every_module_level_logger_carries_the_personal_data_filter():
    loggers = {}
    for name in app_modules():
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if isinstance(value, logging.Logger):
                loggers[f"{name}.{attr}"] = value
    # The modules known to log, so the check cannot pass by finding nothing.
    for name in (
        "oscar_recovery.reporting.alerts.logger",
        "oscar_recovery.outgoing_webhooks.delivery.logger",
        "oscar_recovery.recommendations.cooccurrence.logger",
        "oscar_recovery.sending.send.logger",
    ):
        assert name in loggers
    unfiltered = [
        name
        for name, log in loggers.items()
        if not any(isinstance(f, PersonalDataFilter) for f in log.filters)
    ]
    assert unfiltered == []


def test_no_module_gets_a_logger_but_through_get_logger():
    root = Path(oscar_recovery.__file__).parent
    offenders = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if "migrations" not in path.parts
        and path.name != "utils.py"
        and "logging.getLogger(" in path.read_text()
    ]
    assert offenders == []


def assert_redacted(caplog, logger_name: str) -> None:
    records = [record for record in caplog.records if record.name == logger_name]
    assert records, f"nothing was logged by {logger_name}"
    assert ADDRESS not in caplog.text
    assert "<email>" in caplog.text


@pytest.mark.django_db
def test_an_address_in_a_failed_staff_alert_is_redacted(settings, caplog, monkeypatch):
    settings.EMAIL_BACKEND = "tests.support.backends.ScriptedBackend"
    settings.OSCAR_RECOVERY_ALERT_MIN_BASKET_VALUE = 100
    factories.UserFactory(email="owner@shop.example", is_staff=True, is_superuser=True)
    journey = make_journey(
        quiet_for=timedelta(hours=1),
        status=JourneyStatus.ABANDONED,
        total=Decimal("300.00"),
        email=ADDRESS,
    )
    # An SMTP refusal quotes the address it refused, in the traceback.
    refusal = smtplib.SMTPRecipientsRefused({ADDRESS: (550, b"no such user")})
    monkeypatch.setattr(ScriptedBackend, "failures", [refusal])
    with caplog.at_level(logging.WARNING):
        assert alerts.send_abandoned_alerts([journey.pk]) == 0
    assert_redacted(caplog, "oscar_recovery.reporting.alerts")


@pytest.mark.django_db
def test_an_address_in_a_webhook_url_is_redacted_from_the_failure_log(caplog):
    endpoint = WebhookEndpoint.objects.create(
        name="crm",
        url=f"https://hooks.example.com/in?notify={ADDRESS}",
        secret="whsec_test_secret_0123456789",
        events=[WebhookEvent.EMAIL_SENT],
        is_active=False,  # fails permanently without any request
    )
    [delivery_id] = emit(
        WebhookEvent.EMAIL_SENT, lambda personal: {}, endpoints=[endpoint], publish=False
    )
    with caplog.at_level(logging.WARNING):
        deliver(delivery_id)
    # The URL's query and path are gone altogether, the address with them.
    assert ADDRESS not in caplog.text
    assert "https://hooks.example.com/…" in caplog.text


@pytest.mark.django_db
def test_an_address_in_a_broker_error_is_redacted_from_the_recommendations_log(
    monkeypatch, caplog, django_capture_on_commit_callbacks
):
    def refused(task, *args):
        raise RuntimeError(f"the outbox refused the order of {ADDRESS}")

    monkeypatch.setattr(cooccurrence.handoff, "record", refused)
    with caplog.at_level(logging.WARNING), django_capture_on_commit_callbacks(execute=True):
        cooccurrence.schedule_order(SimpleNamespace(pk=1))
    assert_redacted(caplog, "oscar_recovery.recommendations.cooccurrence")


@pytest.mark.parametrize(
    "url, shown",
    [
        ("https://hooks.slack.com/services/T0/B0/secret", "https://hooks.slack.com/…"),
        ("https://example.com/?token=secret", "https://example.com/…"),
        ("https://example.com:8443/", "https://example.com:8443"),
        ("https://example.com", "https://example.com"),
        ("https://user:pass@example.com/x", "https://example.com/…"),
        ("http://[2001:db8::1]:8080/hook", "http://[2001:db8::1]:8080/…"),
        ("https://example.com:notaport/x", "https://example.com/…"),
    ],
)
def test_a_logged_url_shows_its_host_only(url, shown):
    assert redact_url(url) == shown


def test_an_http_error_loses_the_urls_path_and_query():
    url = "https://hooks.example.com/services/T0/B0/secret?token=abc"
    error = (
        "ConnectionError: HTTPSConnectionPool(host='hooks.example.com', port=443): Max retries "
        "exceeded with url: /services/T0/B0/secret?token=abc; Invalid URL " + url
    )
    redacted = redact_url_in(error, url)
    assert "secret" not in redacted and "abc" not in redacted
    assert "hooks.example.com" in redacted and "with url: /…" in redacted


def test_urls_quoted_in_an_error_lose_their_credentials_path_and_query():
    text = "incorrect signature (for url 'https://esp:secret@shop.example/anymail/mandrill/')"
    assert redact_urls(text) == "incorrect signature (for url 'https://shop.example/…')"
