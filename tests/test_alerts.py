"""Staff alerts for valuable abandoned baskets, and the weekly summary, checked against
journeys, messages and orders built here."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from oscar.test import factories

from oscar_recovery.constants import JourneyStatus, MessageStatus
from oscar_recovery.models import Campaign, CampaignStep, CartJourney, RecoveryMessage
from oscar_recovery.reporting import alerts
from oscar_recovery.reporting.alerts import period_figures, send_weekly_summary, weekly_summary
from oscar_recovery.schedules import BEAT_SCHEDULE
from oscar_recovery.sweep.stages import run_sweep
from tests.support.dashboard_scenario import recovery_staff
from tests.support.factories import make_journey
from tests.support.journeys import add_to_basket, guest_gateway

pytestmark = pytest.mark.django_db

LINES = [
    {
        "product_id": 1,
        "title": "Espresso machine",
        "upc": "ESP-1",
        "quantity": 1,
        "unit_price": "450.00",
        "line_total": "450.00",
    }
]


@pytest.fixture
def staff(db):
    return recovery_staff("view_cartjourney", email="owner@shop.example")


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


def staff_emails() -> list:
    return [email for email in mail.outbox if alerts.ALERT_TAG in getattr(email, "tags", [])]


def sweep(committed):
    with committed():
        return run_sweep()


# Alerts


def test_no_threshold_no_alerts(staff, committed):
    make_journey(quiet_for=timedelta(hours=1), total=Decimal("5000.00"))
    sweep(committed)
    assert staff_emails() == []


def test_baskets_at_or_above_the_threshold_alert_staff(staff, settings, committed):
    settings.OSCAR_RECOVERY_ALERT_MIN_BASKET_VALUE = 100
    quiet = timedelta(hours=1)
    big = make_journey(quiet_for=quiet, total=Decimal("450.00"), lines=LINES, email="big@x.com")
    exact = make_journey(quiet_for=quiet, total=Decimal("100.00"), email="exact@x.com")
    make_journey(quiet_for=quiet, total=Decimal("99.99"), email="small@x.com")
    make_journey(quiet_for=quiet, total=Decimal("900.00"), is_bot=True, email="bot@x.com")
    make_journey(quiet_for=quiet, total=Decimal("900.00"), is_staff=True, email="me@x.com")
    make_journey(quiet_for=timedelta(minutes=5), total=Decimal("900.00"), email="active@x.com")

    result = sweep(committed)

    assert result.abandoned == 5
    emails = staff_emails()
    assert sorted(email.subject for email in emails) == [
        "Abandoned basket worth £100.00 from exact@x.com",
        "Abandoned basket worth £450.00 from big@x.com",
    ]
    email = next(email for email in emails if "big@x.com" in email.subject)
    assert email.to == ["owner@shop.example"]
    html = email.alternatives[0][0]
    admin_path = reverse("admin:oscar_recovery_cartjourney_change", args=[big.pk])
    for body in (email.body, html):
        assert "Espresso machine" in body
        assert "£450.00" in body
        assert "big@x.com" in body
        assert "£100.00" in body  # the threshold
        assert "guest" in body
        assert f"https://example.com{admin_path}" in body
    assert exact.pk != big.pk


def test_a_registered_customer_is_named(staff, settings, committed):
    settings.OSCAR_RECOVERY_ALERT_MIN_BASKET_VALUE = "100"
    user = factories.UserFactory(email="ada@x.com", first_name="Ada", last_name="Lovelace")
    make_journey(quiet_for=timedelta(hours=1), total=Decimal("300.00"), user=user, email=user.email)
    sweep(committed)
    [email] = staff_emails()
    assert "Ada Lovelace" in email.body and "registered customer" in email.body


def test_an_anonymous_basket_still_alerts(staff, settings, committed):
    settings.OSCAR_RECOVERY_ALERT_MIN_BASKET_VALUE = 100
    make_journey(quiet_for=timedelta(hours=1), total=Decimal("300.00"), email="")
    sweep(committed)
    [email] = staff_emails()
    assert email.subject == "Abandoned basket worth £300.00 from an anonymous shopper"
    assert "no email address known" in email.body


def test_a_real_abandoned_checkout_alerts(staff, settings, committed, shopper, product):
    settings.OSCAR_RECOVERY_ALERT_MIN_BASKET_VALUE = 30
    add_to_basket(shopper, product)
    guest_gateway(shopper, "guest@example.com")
    with time_machine.travel(timezone.now() + timedelta(hours=1), tick=False):
        sweep(committed)
    [email] = staff_emails()
    assert "Winter coat" in email.body and "guest@example.com" in email.subject
    assert "Checkout gateway / email" in email.body  # how far they got


def test_default_recipients_are_active_staff_with_an_address(settings, committed):
    """Alerts name the shopper: by default they go to staff who may read baskets in the
    admin (the view permission on journeys), never to every ``is_staff`` user."""
    settings.OSCAR_RECOVERY_ALERT_MIN_BASKET_VALUE = 100
    recovery_staff("view_cartjourney", email="a-staff@shop.example")
    factories.UserFactory(email="b-staff@shop.example", is_staff=True, is_superuser=True)
    factories.UserFactory(email="clerk@shop.example", is_staff=True)  # orders only
    factories.UserFactory(email="gone@shop.example", is_staff=True, is_active=False)
    factories.UserFactory(email="customer@shop.example")
    factories.UserFactory(email="", is_staff=True, username="no-email")
    make_journey(quiet_for=timedelta(hours=1), total=Decimal("300.00"))
    sweep(committed)
    [email] = staff_emails()
    assert email.to == ["a-staff@shop.example", "b-staff@shop.example"]


def test_configured_recipients_replace_staff(staff, settings, committed):
    settings.OSCAR_RECOVERY_ALERT_MIN_BASKET_VALUE = 100
    settings.OSCAR_RECOVERY_ALERT_RECIPIENTS = ["sales@shop.example"]
    make_journey(quiet_for=timedelta(hours=1), total=Decimal("300.00"))
    sweep(committed)
    [email] = staff_emails()
    assert email.to == ["sales@shop.example"]


def test_nobody_to_tell_sends_nothing(settings, committed):
    settings.OSCAR_RECOVERY_ALERT_MIN_BASKET_VALUE = 100
    make_journey(quiet_for=timedelta(hours=1), total=Decimal("300.00"))
    sweep(committed)
    assert staff_emails() == []


def test_a_failing_alert_never_breaks_the_sweep(staff, settings, committed, monkeypatch):
    settings.OSCAR_RECOVERY_ALERT_MIN_BASKET_VALUE = 100
    make_journey(quiet_for=timedelta(hours=1), total=Decimal("300.00"))

    def broken(*args, **kwargs):
        raise RuntimeError("mail is down")

    monkeypatch.setattr(alerts, "_send", broken)
    result = sweep(committed)
    assert result.abandoned == 1
    assert CartJourney.objects.get().status == JourneyStatus.ABANDONED


def test_alerts_are_in_the_shops_language(staff, settings, committed):
    settings.OSCAR_RECOVERY_ALERT_MIN_BASKET_VALUE = 100
    settings.LANGUAGE_CODE = "de"
    make_journey(quiet_for=timedelta(hours=1), total=Decimal("300.00"))
    sweep(committed)
    [email] = staff_emails()
    assert "300,00" in email.subject  # German number format from the currency filter


# The weekly summary

NOW = datetime(2026, 11, 23, 7, 0, tzinfo=timezone.get_current_timezone())  # a Monday
THIS_WEEK = NOW.replace(hour=0) - timedelta(days=3)  # inside the last 7 whole days
LAST_WEEK = THIS_WEEK - timedelta(days=7)
LONG_AGO = THIS_WEEK - timedelta(days=30)


@pytest.fixture
def step():
    campaign = Campaign.objects.create(name="Default")
    return CampaignStep.objects.create(
        campaign=campaign, position=1, delay=timedelta(hours=1), subject="Hi"
    )


def journey_at(when: datetime, **fields) -> CartJourney:
    journey = make_journey(quiet_for=timedelta(0), status=JourneyStatus.ABANDONED, **fields)
    CartJourney.objects.filter(pk=journey.pk).update(abandoned_at=when, **fields)
    journey.refresh_from_db()
    return journey


def message(journey, step, sent=None, clicked=None) -> RecoveryMessage:
    return RecoveryMessage.objects.create(
        journey=journey, step=step, status=MessageStatus.SENT, sent_at=sent, clicked_at=clicked
    )


def recovered(journey, when: datetime, total: str, currency: str = "GBP") -> None:
    CartJourney.objects.filter(pk=journey.pk).update(
        status=JourneyStatus.RECOVERED, ended_at=when, order_total=Decimal(total), currency=currency
    )


@pytest.fixture
def weeks(step):
    """This week: 4 abandoned (and a bot), 3 emails, 2 clicks, 2 recovered orders (£50 and
    £30.50). Last week: 2 abandoned, 1 email, no click, 1 recovered (£20). Plus older noise."""
    this = [journey_at(THIS_WEEK + timedelta(hours=n)) for n in range(4)]
    journey_at(THIS_WEEK, is_bot=True)
    last = [journey_at(LAST_WEEK + timedelta(hours=n)) for n in range(2)]
    old = journey_at(LONG_AGO)
    message(this[0], step, sent=THIS_WEEK, clicked=THIS_WEEK + timedelta(hours=1))
    message(this[1], step, sent=THIS_WEEK, clicked=THIS_WEEK + timedelta(hours=2))
    message(this[2], step, sent=THIS_WEEK)
    message(last[0], step, sent=LAST_WEEK)
    message(old, step, sent=LONG_AGO, clicked=LONG_AGO)
    recovered(this[0], THIS_WEEK + timedelta(hours=5), "50.00")
    recovered(this[1], THIS_WEEK + timedelta(hours=6), "30.50")
    recovered(last[0], LAST_WEEK + timedelta(hours=5), "20.00")
    # An order after today's midnight belongs to next week's summary.
    recovered(this[3], NOW - timedelta(hours=1), "999.00")


def test_weekly_figures_count_what_happened_in_each_week(weeks):
    summary = weekly_summary(NOW)
    current, previous = summary.current, summary.previous
    assert current.end == NOW.replace(hour=0) and current.start == current.end - timedelta(days=7)
    assert previous.end == current.start
    assert (current.abandoned, current.emails_sent, current.clicked) == (4, 3, 2)
    assert current.recovered_orders == 2
    assert current.recovered_revenue == {"GBP": Decimal("80.50")}
    assert current.recovery_rate == pytest.approx(50.0)
    assert (previous.abandoned, previous.emails_sent, previous.clicked) == (2, 1, 0)
    assert previous.recovered_orders == 1
    assert previous.recovered_revenue == {"GBP": Decimal("20.00")}
    assert previous.recovery_rate == pytest.approx(50.0)


def test_revenue_is_kept_apart_by_currency(step):
    journey = journey_at(THIS_WEEK)
    other = journey_at(THIS_WEEK)
    recovered(journey, THIS_WEEK, "10.00", "GBP")
    recovered(other, THIS_WEEK, "12.00", "EUR")
    figures = period_figures(THIS_WEEK - timedelta(days=1), THIS_WEEK + timedelta(days=1))
    assert figures.recovered_revenue == {"EUR": Decimal("12.00"), "GBP": Decimal("10.00")}


def test_an_empty_week_has_no_rate():
    figures = period_figures(LAST_WEEK, THIS_WEEK)
    assert figures.abandoned == 0 and figures.recovery_rate is None


def test_the_weekly_summary_email(weeks, staff):
    assert send_weekly_summary(NOW) is True
    [email] = staff_emails()
    assert email.to == ["owner@shop.example"]
    assert email.subject == "Cart recovery: your week from 16 Nov 2026 to 22 Nov 2026"
    html = email.alternatives[0][0]
    assert "Abandoned baskets: 4 (previous week: 2, +100%)" in email.body
    assert "Recovery emails sent: 3 (previous week: 1, +200%)" in email.body
    assert "Emails clicked: 2 (previous week: 0)" in email.body
    assert "Recovered orders: 2 (previous week: 1, +100%)" in email.body
    assert "Recovered revenue (GBP): £80.50 (previous week: £20.00, +303%)" in email.body
    assert "Recovery rate (recovered orders per abandoned basket): 50.0%" in email.body
    for figure in ("£80.50", "£20.00", "50.0%", "Abandoned baskets"):
        assert figure in html
    assert reverse("admin:oscar_recovery_cartjourney_changelist") in email.body


def test_the_weekly_summary_can_be_switched_off(weeks, staff, settings):
    settings.OSCAR_RECOVERY_WEEKLY_SUMMARY_ENABLED = False
    assert send_weekly_summary(NOW) is False
    assert staff_emails() == []


def test_the_weekly_summary_runs_from_beat_through_the_task(weeks, staff):
    from oscar_recovery.tasks import weekly_summary as task

    entry = BEAT_SCHEDULE["oscar-recovery-weekly-summary"]
    assert entry["task"] == task.name
    assert entry["schedule"].day_of_week == {1}  # Monday
    with time_machine.travel(NOW, tick=False):
        assert task.delay().get() is True
    [email] = staff_emails()
    assert "Abandoned baskets: 4" in email.body


@pytest.mark.parametrize(
    "name, value, check_id",
    [
        ("OSCAR_RECOVERY_ALERT_MIN_BASKET_VALUE", "lots", "oscar_recovery.E006"),
        ("OSCAR_RECOVERY_ALERT_RECIPIENTS", "sales@shop.example", "oscar_recovery.E007"),
        ("OSCAR_RECOVERY_WEBHOOK_TIMEOUT", 0, "oscar_recovery.E008"),
    ],
)
def test_misconfiguration_is_reported_at_start_up(settings, name, value, check_id):
    from oscar_recovery.checks import check_alert_and_webhook_settings

    setattr(settings, name, value)
    assert [problem.id for problem in check_alert_and_webhook_settings(None)] == [check_id]


def test_a_basket_alerts_once_even_when_abandoned_again(staff, settings, committed):
    settings.OSCAR_RECOVERY_ALERT_MIN_BASKET_VALUE = 100
    journey = make_journey(quiet_for=timedelta(hours=1), total=Decimal("300.00"))
    sweep(committed)
    # The shopper comes back, then leaves again.
    CartJourney.objects.filter(pk=journey.pk).update(
        status=JourneyStatus.ACTIVE, last_activity_at=timezone.now() - timedelta(hours=1)
    )
    assert sweep(committed).abandoned == 1
    assert len(staff_emails()) == 1


def test_weekly_figures_count_baskets_as_the_dashboard_does(step):
    """Before: a guest basket merged on login and a copy a restore link made in another
    browser each counted as one more abandoned basket in the weekly summary."""
    original = journey_at(THIS_WEEK)
    journey_at(THIS_WEEK, restored_from=original)
    merged = journey_at(THIS_WEEK)
    CartJourney.objects.filter(pk=merged.pk).update(
        status=JourneyStatus.MERGED, merged_into=original
    )
    figures = period_figures(THIS_WEEK - timedelta(days=1), THIS_WEEK + timedelta(days=1))
    assert figures.abandoned == 1
