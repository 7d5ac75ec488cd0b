"""End to end: a guest leaves a basket, the sweep emails them, the link brings it back.

Everything runs through the shop's real views, the sweep and the Celery task (eager here;
the integration tier runs the same story through a real worker).
"""

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from oscar.test import factories

from oscar_recovery.campaigns.install import install_defaults
from oscar_recovery.constants import JourneyStatus, MessageStatus, SkipReason
from oscar_recovery.models import Campaign, CampaignEnrolment, CartJourney, RecoveryMessage
from oscar_recovery.reporting import aggregation, reports
from oscar_recovery.sweep.stages import run_sweep
from tests.conftest import BROWSER_UA
from tests.support.journeys import add_to_basket, guest_gateway, place_order, shipping_address

pytestmark = pytest.mark.django_db

RESTORE_URL = re.compile(r"https?://[^\s\"'<>]+/recovery/restore/[^\s\"'<>]+/")


@pytest.fixture
def campaign():
    campaign = install_defaults(activate=True)
    Campaign.objects.filter(pk=campaign.pk).update(holdout_percent=0)
    return campaign


@pytest.fixture
def sweep_at(django_capture_on_commit_callbacks):
    """Run the sweep as if ``offset`` had passed; its send tasks run when it commits."""
    start = timezone.now()

    def sweep(offset: timedelta):
        with (
            time_machine.travel(start + offset, tick=False),
            django_capture_on_commit_callbacks(execute=True),
        ):
            return run_sweep()

    return sweep


@pytest.fixture
def abandoned_guest(campaign, shopper, product):
    add_to_basket(shopper, product)
    guest_gateway(shopper, "guest@example.com")
    return shopper


def recovery_emails() -> list:
    """What the recovery machinery sent (the outbox also holds Oscar's order emails)."""
    return [email for email in mail.outbox if "oscar-recovery" in getattr(email, "tags", [])]


def restore_path(email) -> str:
    url = RESTORE_URL.search(email.body).group(0)
    assert url in email.alternatives[0][0]
    return urlsplit(url).path


def test_the_whole_recovery_story(abandoned_guest, sweep_at, product, country):
    sweep_at(timedelta(hours=1))  # abandoned and enrolled; the first email is 1 h later
    assert recovery_emails() == []

    sweep_at(timedelta(hours=2, minutes=1))
    assert len(recovery_emails()) == 1  # step 1, and only step 1
    email = recovery_emails()[0]
    assert email.to == ["guest@example.com"]
    assert email.subject == "You left something in your basket"
    assert "Winter coat" in email.body and "Winter coat" in email.alternatives[0][0]
    assert email.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # The link, opened in a browser that has never seen the shop, brings the basket back.
    browser = Client(HTTP_USER_AGENT=BROWSER_UA)
    response = browser.get(restore_path(email))
    assert response.status_code == 303
    assert "restore" not in response["Location"]
    assert "Winter coat" in browser.get(reverse("basket:summary")).content.decode()
    message = RecoveryMessage.objects.get()
    assert message.clicked_at is not None

    guest_gateway(browser, "guest@example.com")
    shipping_address(browser, country)
    place_order(browser)

    sweep_at(timedelta(days=4))  # steps 2 and 3 fall due, but the order stopped them
    assert len(recovery_emails()) == 1
    assert RecoveryMessage.objects.count() == 1
    # The new browser got a copy of the basket; its order ends the emailed journey too.
    journey = CartJourney.objects.get(order__isnull=False)
    emailed = CartJourney.objects.get(pk=message.journey_id)
    assert emailed.status == JourneyStatus.MERGED and emailed.merged_into == journey
    assert journey.status == JourneyStatus.RECOVERED
    assert journey.attributed_message == message
    assert journey.order_total == journey.order.total_incl_tax


def test_unsubscribing_from_the_first_email_stops_everything(abandoned_guest, sweep_at):
    # A verified address (a customer account holds it), so the later steps are due too.
    factories.UserFactory(email="guest@example.com")
    sweep_at(timedelta(hours=1))
    sweep_at(timedelta(hours=2, minutes=1))
    unsubscribe = recovery_emails()[0].extra_headers["List-Unsubscribe"].strip("<>")

    # What a mail client's one-click button does: a POST without cookies.
    response = Client().post(urlsplit(unsubscribe).path, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200

    sweep_at(timedelta(days=4))
    assert len(recovery_emails()) == 1
    later = RecoveryMessage.objects.exclude(step__position=1)
    assert {m.status for m in later} == {MessageStatus.SKIPPED}
    assert {m.skip_reason for m in later} == {SkipReason.SUPPRESSED}


def test_a_shopper_who_orders_on_their_own_is_converted_not_recovered(
    abandoned_guest, sweep_at, country
):
    sweep_at(timedelta(hours=1))
    sweep_at(timedelta(hours=2, minutes=1))
    # Back without clicking the email.
    shipping_address(abandoned_guest, country)
    place_order(abandoned_guest)

    journey = CartJourney.objects.get()
    assert journey.status == JourneyStatus.CONVERTED
    assert journey.attributed_message is None
    assert journey.order_total == journey.order.total_incl_tax


def test_an_address_nobody_verified_gets_one_reminder(abandoned_guest, sweep_at):
    """The guest typed an address at the gateway and never showed it is theirs: one
    reminder goes out, the others wait."""
    sweep_at(timedelta(hours=1))
    sweep_at(timedelta(hours=2, minutes=1))
    sweep_at(timedelta(days=4))
    assert len(recovery_emails()) == 1
    assert not RecoveryMessage.objects.exclude(step__position=1).exists()


# -- a restore link opened in another browser ---------------------------------------------


def figures_around_now() -> dict:
    """The dashboard's summed figures of the days the sweeps above travelled through."""
    today = timezone.localdate()
    period = reports.Period(today - timedelta(days=1), today + timedelta(days=5))
    aggregation.recompute(period.start, period.end)
    return reports.overview(period).current


def test_a_basket_restored_in_another_browser_is_the_same_abandoned_basket(
    abandoned_guest, sweep_at
):
    """Before: the copy was a new anonymous journey, abandoned, enrolled and counted, so
    one abandoned basket read as two and "Emailed journeys" counted it again."""
    sweep_at(timedelta(hours=1))
    sweep_at(timedelta(hours=2, minutes=1))
    emailed = CartJourney.objects.get()
    browser = Client(HTTP_USER_AGENT=BROWSER_UA)
    browser.get(restore_path(recovery_emails()[0]))

    copy = CartJourney.objects.exclude(pk=emailed.pk).get()
    assert copy.restored_from == emailed and copy.is_restored_copy
    sweep_at(timedelta(hours=5))  # the copy too is left alone long enough to be abandoned

    copy.refresh_from_db()
    assert copy.status == JourneyStatus.ABANDONED
    assert not CampaignEnrolment.objects.filter(journey=copy).exists()
    figures = figures_around_now()
    assert (figures["created"], figures["abandoned"], figures["enrolled"]) == (1, 1, 1)
    assert figures["identified"] == 1


def test_an_order_from_the_restored_copy_counts_once_for_the_emailed_basket(
    abandoned_guest, sweep_at, country
):
    sweep_at(timedelta(hours=1))
    sweep_at(timedelta(hours=2, minutes=1))
    browser = Client(HTTP_USER_AGENT=BROWSER_UA)
    browser.get(restore_path(recovery_emails()[0]))
    guest_gateway(browser, "guest@example.com")
    shipping_address(browser, country)
    place_order(browser)

    figures = figures_around_now()
    assert (figures["created"], figures["abandoned"], figures["ordered"]) == (1, 1, 1)
    assert (figures["enrolled"], figures["enrolled_ordered"]) == (1, 1)
    assert (figures["recovered_orders"], figures["sent"]) == (1, 1)
    funnel = reports.funnel(reports.Period(timezone.localdate(), timezone.localdate()))
    assert funnel[-1].reached == 1  # "Order placed"
